"""Pinned SSH host keys on target hosts: each host's `hostKey`, or the key a known_hosts file
(`sshHostKeysFile`) lists for it, is pinned on every connection; a host without one is refused
before any resource."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_config
from components.config_checks import ConfigError
from components.host_keys import new_host_key
from tests.program_commands import SECRET_SIG, connection
from tests.pulumi_harness import DYNAMIC_TYPE, run_main_program
from tests.stacks import HOST_KEY, HOSTS_BY_MODE, aws_stack, hosts_stack

OTHER_ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxKqLsKHG03z8bQDkTsirxwrsx9bslhAoCWaSeObBzU"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIZmux1HeXKI6BU1CjnYUK6z0rWQ6J8n+"
    "LGdbAj3NXKENWYBUsAY9/G3POOBbh4YlFr7EdYOQGEU3lqp8oOJonA="
)
# A well-formed ssh-rsa blob: "ssh-rsa", exponent 65537, a 2048-bit modulus.
RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + "C" * 342 + "=="
SINGLE = HOSTS_BY_MODE["single-master"]


def _with_key(key: str) -> list[dict[str, Any]]:
    return [{**SINGLE[0], "hostKey": key}]


# Refused before any resource by test_config.py, with the other bad inputs.
BAD_INPUTS = [
    (
        "a host with no pinned key",
        hosts_stack("single-master", pin_host_keys=False),
        "rocketmq:hosts[0].hostKey",
        "no pinned SSH host key",
    ),
    ("an RSA host key", hosts_stack("single-master", hosts=_with_key(RSA)), "rocketmq:hosts[0].hostKey", "RSA"),
    (
        "a DSA host key",
        hosts_stack("single-master", hosts=_with_key("ssh-dss AAAAB3NzaC1kc3M=")),
        "rocketmq:hosts[0].hostKey",
        "allowed: ssh-ed25519",
    ),
    (
        "a host key that does not decode",
        hosts_stack("single-master", hosts=_with_key("ssh-ed25519 AAAA=AAAA")),
        "rocketmq:hosts[0].hostKey",
        "does not decode",
    ),
    (
        "a host key without its type",
        hosts_stack("single-master", hosts=_with_key(HOST_KEY.split()[1])),
        "rocketmq:hosts[0].hostKey",
        "public key line",
    ),
    (
        "a known_hosts file that is not there",
        hosts_stack("single-master", pin_host_keys=False, sshHostKeysFile="/nonexistent/known_hosts"),
        "rocketmq:sshHostKeysFile",
        "names no readable file",
    ),
    (
        "a known_hosts file on aws",
        aws_stack("single-master", sshHostKeysFile="known_hosts"),
        "rocketmq:sshHostKeysFile",
        "is for target hosts",
    ),
]


def _pinned(stack: dict[str, Any]) -> dict[str, str | None]:
    return {spec.name: spec.host_key for spec in parse_config(stack).hosts}


def test_every_connection_pins_the_hosts_key_and_gives_up_soon() -> None:
    hosts = [{**h, "hostKey": OTHER_ED25519 if h["name"] == "peer4" else HOST_KEY + " root@peer"} for h in
             HOSTS_BY_MODE["master-slave-async"]]  # fmt: skip
    run = run_main_program(hosts_stack("master-slave-async", hosts=hosts), ["sshPrivateKey"])
    remote = [c for c in run.commands if "connection" in c.inputs]
    assert len(remote) > 10
    for command in remote:
        pinned = connection(command)
        expected = OTHER_ED25519 if pinned["host"] == "192.0.2.14" else HOST_KEY  # peer4; the comment dropped
        assert pinned["hostKey"] == expected, command.name
        assert pinned["dialErrorLimit"] == 10, command.name


def test_aws_instances_boot_with_a_key_the_program_made_and_every_connection_pins_it() -> None:
    run = run_main_program(aws_stack("master-slave-async"), ["sshPrivateKey"])
    made = {k.name.removesuffix("-host-key"): k.outputs for k in run.mocks.of_type(DYNAMIC_TYPE)}
    instances = run.mocks.of_type("aws:ec2/instance:Instance")
    assert sorted(made) == sorted(i.name for i in instances) and len(made) == 7  # 3 name servers, 4 brokers
    assert len({keys["public_key"] for keys in made.values()}) == len(made), "one key per instance"
    for key in run.mocks.of_type(DYNAMIC_TYPE):
        assert run.mocks.options_of(key).additional_secret_outputs == ["private_key"], key.name
    for instance in instances:
        keys = made[instance.name]
        user_data = instance.inputs["userData"]
        assert user_data.get(SECRET_SIG), f"{instance.name}: user data holds the private key, unmarked"
        cloud_init = user_data["value"]
        assert cloud_init.startswith("#cloud-config\n")
        assert json.loads(cloud_init.split("\n", 1)[1]) == {
            "ssh_keys": {"ed25519_private": keys["private_key"], "ed25519_public": keys["public_key"]}
        }
        assert "userData" in (run.mocks.options_of(instance).ignore_changes or [])
    # Each host's commands pin its instance's key, and keep dialling while the instance boots.
    instance_at = {
        connection(c)["host"]: c.name.removesuffix("-prepare") for c in run.commands if c.name.endswith("-prepare")
    }
    assert sorted(instance_at.values()) == sorted(made)
    remote = [c for c in run.commands if "connection" in c.inputs]
    for command in remote:
        conn = connection(command)
        assert conn["hostKey"] == made[instance_at[conn["host"]]]["public_key"], command.name
        assert conn["dialErrorLimit"] == 60, command.name


def test_a_new_host_key_is_an_ed25519_key_openssh_reads(tmp_path: Path) -> None:
    private, public = new_host_key()
    assert public.startswith("ssh-ed25519 ") and private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert new_host_key()[1] != public
    if shutil.which("ssh-keygen"):
        key_file = tmp_path / "key"
        key_file.write_text(private)
        key_file.chmod(0o600)
        derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key_file)], check=True, capture_output=True, text=True)
        assert derived.stdout.split()[:2] == public.split()[:2]


def test_known_hosts_file_pins_each_host_as_openssh_finds_it(tmp_path: Path) -> None:
    hosts = HOSTS_BY_MODE["master-slave-sync"]  # peer5 listens on port 2222
    known_hosts = tmp_path / "known_hosts"
    lines = ["# comments, markers and other hosts are passed over", f"@revoked * {OTHER_ED25519}"]
    for h in hosts:
        name = f"[{h['address']}]:2222" if h.get("port") == 2222 else h["address"]
        lines += [f"{name},{h['name']} {ECDSA}", f"{name} {RSA}", f"{name},{h['name']} {HOST_KEY} root@{h['name']}"]
    lines.append(f"{hosts[4]['address']} {OTHER_ED25519}")  # port 22: not peer5's entry
    known_hosts.write_text("\n".join(lines) + "\n")
    pinned = _pinned(hosts_stack("master-slave-sync", pin_host_keys=False, sshHostKeysFile=str(known_hosts)))
    assert pinned == {h["name"]: HOST_KEY for h in hosts}  # ED25519 over ECDSA, never RSA

    # A host's own hostKey wins over the file.
    own = [{**hosts[0], "hostKey": OTHER_ED25519}, *hosts[1:]]
    stack = hosts_stack("master-slave-sync", hosts=own, pin_host_keys=False, sshHostKeysFile=str(known_hosts))
    assert _pinned(stack)["peer1"] == OTHER_ED25519


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_hashed_known_hosts_entries_are_found(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{SINGLE[0]['address']} {ECDSA}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(known_hosts)], check=True, capture_output=True)
    assert SINGLE[0]["address"] not in known_hosts.read_text()  # OpenSSH hashed the name
    stack = hosts_stack("single-master", pin_host_keys=False, sshHostKeysFile=str(known_hosts))
    assert _pinned(stack) == {"peer1": ECDSA}


def test_a_host_the_file_lists_only_with_rsa_is_refused_with_why(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{SINGLE[0]['address']} {RSA}\n")
    with pytest.raises(ConfigError) as refused:
        parse_config(hosts_stack("single-master", pin_host_keys=False, sshHostKeysFile=str(known_hosts)))
    message = str(refused.value)
    assert message.startswith("rocketmq:hosts[0].hostKey: host 'peer1' has no pinned SSH host key")
    assert "sshHostKeysFile lists 192.0.2.11 only with keys of other types than ssh-ed25519" in message
    assert "ssh-keyscan -t ed25519 192.0.2.11" in message


def test_the_stack_file_may_give_the_hosts_as_yaml_objects() -> None:
    stack = hosts_stack("single-master", pin_host_keys=False)
    stack["hosts"] = json.dumps(_with_key(ECDSA + " root@peer1"))
    assert _pinned(stack) == {"peer1": ECDSA}


def test_a_broken_known_hosts_file_is_refused_with_its_key_not_a_traceback(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    address = SINGLE[0]["address"]
    # A malformed hashed entry names nothing, as for OpenSSH; the listed key must decode.
    known_hosts.write_text(f"|1|not-base64 {HOST_KEY}\n{address} ssh-ed25519 AAAA=AAAA\n")
    with pytest.raises(ConfigError, match=r"^rocketmq:sshHostKeysFile: is not a valid ssh-ed25519 public key"):
        parse_config(hosts_stack("single-master", pin_host_keys=False, sshHostKeysFile=str(known_hosts)))
    known_hosts.write_bytes(b"\xff\xfe binary")
    with pytest.raises(ConfigError, match=r"^rocketmq:sshHostKeysFile: cannot be read as a known_hosts file"):
        parse_config(hosts_stack("single-master", pin_host_keys=False, sshHostKeysFile=str(known_hosts)))
