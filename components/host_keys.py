"""SSH host keys the program makes for the instances it creates (target aws): each new instance
gets its key through cloud-init user data, and every connection to it pins the public half."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
import pulumi.dynamic
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def new_host_key() -> tuple[str, str]:
    """A fresh ED25519 key: (private key in OpenSSH PEM, public key line "ssh-ed25519 BASE64")."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode()


def cloud_config(private_key: str, public_key: str) -> str:
    """cloud-init user data that installs the key as the host's ED25519 key (cc_ssh `ssh_keys`).
    JSON is YAML too, and quotes the PEM's line breaks without a template."""
    return "#cloud-config\n" + json.dumps(
        {"ssh_keys": {"ed25519_private": private_key, "ed25519_public": public_key}}, indent=2
    )


class _HostKeyProvider(pulumi.dynamic.ResourceProvider):
    """Makes the key once, at create; it has no inputs, so it never changes afterwards. The state
    names this class by module and name (the engine's provider process imports it): renaming
    either breaks every stack that holds such a key."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        private, public = new_host_key()
        key_id = hashlib.sha256(public.encode()).hexdigest()[:16]
        return pulumi.dynamic.CreateResult(id_=key_id, outs={"public_key": public, "private_key": private})


class SshHostKey(pulumi.dynamic.Resource):
    """One host's SSH key; the private half is a secret output (encrypted in the state)."""

    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key"])
        super().__init__(
            _HostKeyProvider(),
            name,
            {"public_key": None, "private_key": None},
            pulumi.ResourceOptions.merge(opts, secret),
        )
