"""The SSH host keys the program makes for aws instances (components/host_keys.py, a Pulumi dynamic
provider), made by the real engine: AWS itself is reached only through mocks, but the provider
runs in the engine's own provider process, which must find and unpickle it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.cluster_harness import PulumiStack, copy_program

pytestmark = pytest.mark.e2e

PROGRAM = '''"""Only the host key resource of the program."""
import pulumi

from components.host_keys import SshHostKey

key = SshHostKey("probe-host-key")
pulumi.export("publicKey", key.public_key)
pulumi.export("privateKey", key.private_key)
'''


def test_the_engine_makes_a_host_key_once_and_keeps_its_private_half_secret(
    engine_env: dict[str, str], tmp_path: Path
) -> None:
    program = copy_program(tmp_path / "program")
    (program / "__main__.py").write_text(PROGRAM)
    stack = PulumiStack(None, engine_env, program, tmp_path / "state", "host-key")
    stack.state.mkdir(parents=True)
    stack.run("stack", "init", stack.name, "--secrets-provider", "passphrase")
    stack.up()

    shown = stack.outputs()
    assert shown["privateKey"] == "[secret]", shown
    public = shown["publicKey"]
    assert public.startswith("ssh-ed25519 "), public
    private = stack.run("stack", "output", "privateKey", "--show-secrets", "--stack", stack.name).stdout
    key_file = tmp_path / "key"
    key_file.write_text(private.strip() + "\n")
    key_file.chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key_file)], check=True, capture_output=True, text=True)
    assert derived.stdout.split()[:2] == public.split()[:2], "the private half is not the public half's"
    for line in private.strip().splitlines()[2:-2]:  # the lines that hold this key's bytes
        assert line not in stack.state_text(), "the private key is in the state in plaintext"

    # A later up keeps the key: instances booted with it go on being reachable.
    stack.up("--expect-no-changes")
    assert stack.outputs()["publicKey"] == public
    stack.run("destroy", "--yes", "--skip-preview", "--stack", stack.name)
