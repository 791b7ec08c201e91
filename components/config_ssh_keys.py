"""Stack config for SSH keys: the public key EC2 imports (aws), and the host keys every connection
pins (hosts: `hostKey` per host, or a known_hosts file in `sshHostKeysFile`).

Part of the config parser (components/config_targets.py calls it)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from components.config import _Reader
from components.config_checks import ConfigError
from components.config_model import HostSpec

# Host keys the program pins, in the order it prefers them from a known_hosts file. Not ssh-rsa:
# pulumi-command's SSH client then offers only SHA-1 RSA signatures, which OpenSSH 8.8+ (EL9
# included) refuses, so the connection would fail although the key is right.
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")


# What EC2 imports as a key pair: RSA of 2048 bits or more (so this program says) and ED25519.
MIN_RSA_BITS = 2048


def ec2_public_key(line: str) -> str:
    """`line` (already an OpenSSH public key line in shape) if EC2 can import its key."""
    key = "sshPublicKey"
    kind, blob_text = line.split()[:2]
    if kind.startswith("ecdsa-"):
        raise ConfigError(
            key,
            f"EC2 imports only RSA ({MIN_RSA_BITS} bits or more) and ED25519 keys, not {kind}; "
            "make one with `ssh-keygen -t ed25519`",
        )
    fields = _key_fields(key, kind, blob_text)
    if kind == "ssh-ed25519" and (len(fields) != 2 or len(fields[1]) != 32):
        raise ConfigError(key, "is not a valid ssh-ed25519 public key: the key is not 32 bytes")
    if kind == "ssh-rsa":
        if len(fields) != 3:
            raise ConfigError(key, "is not a valid ssh-rsa public key: it lacks the exponent or the modulus")
        bits = int.from_bytes(fields[2], "big").bit_length()
        if bits < MIN_RSA_BITS:
            raise ConfigError(
                key, f"is a {bits}-bit RSA key; use {MIN_RSA_BITS} bits or more, or ED25519 (`ssh-keygen -t ed25519`)"
            )
    return line


def _ssh_wire_strings(blob: bytes) -> list[bytes]:
    """The length-prefixed strings of an SSH public key blob (RFC 4253 section 6.6)."""
    fields, at = [], 0
    while at < len(blob):
        if at + 4 > len(blob):
            raise ValueError("truncated length")
        size = int.from_bytes(blob[at : at + 4], "big")
        at += 4
        if at + size > len(blob):
            raise ValueError("truncated field")
        fields.append(blob[at : at + size])
        at += size
    return fields


def _key_fields(key: str, kind: str, blob_text: str) -> list[bytes]:
    """The fields of a `kind` public key's base64 blob; refused unless it decodes and is of `kind`."""
    try:
        fields = _ssh_wire_strings(base64.b64decode(blob_text, validate=True))
    except (binascii.Error, ValueError):
        raise ConfigError(key, f"is not a valid {kind} public key: its base64 part does not decode") from None
    if not fields or fields[0] != kind.encode():
        raise ConfigError(key, f"is not a valid {kind} public key: its key data is of another type")
    return fields


def host_key(key: str, raw: Any) -> str:
    """A host's public key to pin, as "type base64" (a comment is dropped)."""
    parts = raw.split() if isinstance(raw, str) else []
    if len(parts) < 2:
        raise ConfigError(
            key,
            "must be the host's public key line, such as `ssh-keyscan -t ed25519 HOST` prints it without the "
            f"host: `ssh-ed25519 AAAA...`; got {raw!r}",
        )
    kind, blob_text = parts[:2]
    if kind == "ssh-rsa":
        raise ConfigError(
            key,
            "is an RSA host key, which cannot be pinned here (the SSH client would offer only SHA-1 RSA "
            "signatures, which OpenSSH 8.8 and EL9 refuse); pin the host's ED25519 key: "
            "`ssh-keyscan -t ed25519 HOST`",
        )
    if kind not in HOST_KEY_TYPES:
        raise ConfigError(key, f"has the key type {kind!r}; allowed: {', '.join(HOST_KEY_TYPES)}")
    _key_fields(key, kind, blob_text)
    return f"{kind} {blob_text}"


def _known_host_entries(path: Path) -> list[tuple[str, str, str]]:
    """(host patterns, key type, base64 key) of each plain entry of a known_hosts file; markers
    (@cert-authority, @revoked) and comments are left out."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("sshHostKeysFile", f"cannot be read as a known_hosts file: {error}") from None
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith(("#", "@")):
            continue
        entries.append((fields[0], fields[1], fields[2]))
    return entries


def _names(patterns: str, name: str) -> bool:
    """Whether a known_hosts pattern list names `name`, as OpenSSH matches it (hashed entries too)."""
    matched = False
    for pattern in patterns.split(","):
        if pattern.startswith("|1|"):
            matched = matched or _hashed_names(pattern, name)
        elif pattern.startswith("!"):
            if _wildcard(pattern[1:], name):
                return False
        elif _wildcard(pattern, name):
            matched = True
    return matched


def _hashed_names(pattern: str, name: str) -> bool:
    """`|1|salt|hash`: HMAC-SHA1 of the name under the salt, as `ssh-keygen -H` writes it. A
    malformed one names nothing, as for OpenSSH."""
    try:
        salt, digest = (base64.b64decode(part, validate=True) for part in pattern[3:].split("|"))
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)


def _wildcard(pattern: str, name: str) -> bool:
    """OpenSSH's host patterns know only * and ?: `[address]:port` is literal."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


def pin_host_keys(r: _Reader, specs: tuple[HostSpec, ...]) -> tuple[HostSpec, ...]:
    """Every host with the key its connections pin: its own `hostKey`, else the one
    `sshHostKeysFile` lists for its address (as ssh writes it: `[address]:port` off port 22)."""
    raw_path = r.get("sshHostKeysFile")
    entries: list[tuple[str, str, str]] = []
    if raw_path is not None:
        path = Path(str(raw_path)).expanduser()
        if not path.is_file():
            raise ConfigError(
                "sshHostKeysFile", f"names no readable file: {raw_path!r} (relative paths start at the project)"
            )
        entries = _known_host_entries(path)
    pinned = []
    for index, spec in enumerate(specs):
        if spec.host_key is not None:
            pinned.append(spec)
            continue
        name = spec.address if spec.port == 22 else f"[{spec.address}]:{spec.port}"
        listed = [(kind, blob) for patterns, kind, blob in entries if _names(patterns, name)]
        kind, blob = next(((k, b) for k in HOST_KEY_TYPES for kk, b in listed if kk == k), ("", ""))
        if not kind:
            in_file = (
                f"sshHostKeysFile lists {name} only with keys of other types than {', '.join(HOST_KEY_TYPES)}; "
                if listed
                else ""
            )
            raise ConfigError(
                f"hosts[{index}].hostKey",
                f"host {spec.name!r} has no pinned SSH host key, and connections must not trust whatever "
                f"key a host shows: {in_file}set hostKey to its key line (`ssh-keyscan -t ed25519 "
                f"{spec.address}` prints it after the address), or point rocketmq:sshHostKeysFile at a "
                "known_hosts file that lists it",
            )
        pinned.append(replace(spec, host_key=host_key("sshHostKeysFile", f"{kind} {blob}")))
    return tuple(pinned)
