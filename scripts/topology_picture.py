"""Draws the cluster a stack's config would build, without deploying and without Pulumi.

Run it through scripts/topology.sh. Reads Pulumi.<stack>.yaml over Pulumi.yaml's declared
defaults, hands the values over as the Pulumi engine does (text, lists and maps as JSON), then
validates and plans them with the program's own parse_config and plan_cluster. Prints Mermaid to
stdout; with --svg FILE also writes an SVG drawn by Graphviz's `dot`.

The SSH keys and the ACL passwords do not shape the cluster and are often not set yet when you
want a picture: a missing one is replaced by a placeholder, and a secret (`secure:`) value is
never decrypted, so it cannot be printed. A plain-text sshPrivateKey is refused, as the program
refuses it.
Exit status: 0 drawn, 2 bad config or arguments (one line naming the key), 1 no `dot` for --svg.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from components.config import parse_config
from components.config_acl import acl_enabled
from components.config_checks import NAMESPACE, ConfigError
from components.topology import plan_cluster
from components.topology_picture import graphviz_dot, mermaid

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRIVATE_KEY = f"{NAMESPACE}:sshPrivateKey"
PUBLIC_KEY = f"{NAMESPACE}:sshPublicKey"
ADMIN_PASSWORD = f"{NAMESPACE}:aclAdminPassword"
PLACEHOLDERS = {
    PRIVATE_KEY: "placeholder: the picture never reads the private key",
    # An all-zero ED25519 key: the shape the config's check decodes, no one's key.
    PUBLIC_KEY: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA topology-picture",
    ADMIN_PASSWORD: "placeholder-the-picture-never-reads-it",
    # Only a secret one is replaced, by one that the program checks alike: users shape no host.
    f"{NAMESPACE}:aclUsers": json.dumps({"topology-picture": {"password": "placeholder-password", "admin": True}}),
}
# What `pulumi up` gets from the region: its zones, at most aws_fleet.MAX_ZONES of them.
DEFAULT_ZONES = 3


class UsageError(Exception):
    pass


def _as_engine_gives(value: Any) -> str:
    """Config values reach the program as text; lists and maps as JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _stack_name(project_dir: Path, stack: str | None) -> str:
    stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
    if stack is None:
        if len(stacks) != 1:
            raise UsageError(f"name a stack with --stack; stack files here: {', '.join(stacks) or 'none'}")
        return stacks[0]
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", stack) or stack not in stacks:
        raise UsageError(f"no Pulumi.{stack}.yaml in {project_dir}; stack files here: {', '.join(stacks) or 'none'}")
    return stack


def read_stack(project_dir: Path, stack: str) -> tuple[dict[str, str], frozenset[str]]:
    """The `rocketmq:` values the program would see, and which of them Pulumi holds as secrets."""
    declared = (yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}).get("config") or {}
    raw = {
        (key if ":" in key else f"{NAMESPACE}:{key}"): _as_engine_gives(d["default"])
        for key, d in declared.items()
        if isinstance(d, dict) and "default" in d
    }
    settings = (yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {}
    secrets = set()
    for key, value in settings.items():
        if not key.startswith(f"{NAMESPACE}:"):
            continue  # aws:region and other providers' settings
        if _holds_secret(value):  # `--secret`, or `--secret --path` for a part of it
            if key not in PLACEHOLDERS:
                raise ConfigError(
                    key, "is a secret, which the picture does not decrypt; only the SSH keys and ACL passwords may be"
                )
            secrets.add(key)
            raw[key] = PLACEHOLDERS[key]
        elif key == PRIVATE_KEY:
            raw[key] = PLACEHOLDERS[key]  # in plain text: parse_config refuses it below, without the value
        else:
            raw[key] = _as_engine_gives(value)
    for key in (PRIVATE_KEY, PUBLIC_KEY, ADMIN_PASSWORD):
        if key == PRIVATE_KEY and raw.get(f"{NAMESPACE}:target") == "local":
            continue  # target local makes its own key, and refuses one
        if key == ADMIN_PASSWORD and not _acl_on(raw):
            continue  # the program refuses an admin password without access control
        if not raw.get(key):
            raw[key] = PLACEHOLDERS[key]
            secrets.add(key)  # as if set with --secret
    return raw, frozenset(secrets)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_holds_secret(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secret(v) for v in value)


def _acl_on(raw: dict[str, str]) -> bool:
    try:
        version = tuple(int(part) for part in raw.get(f"{NAMESPACE}:version", "").split("."))
        return acl_enabled(raw.get(f"{NAMESPACE}:acl") or "auto", version, raw.get(f"{NAMESPACE}:target", "aws"))[0]
    except (ValueError, ConfigError):
        return False  # parse_config names the bad value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/topology.sh",
        description="Draws the cluster a stack's config would build, without deploying and without Pulumi.",
    )
    parser.add_argument("--stack", help="read Pulumi.NAME.yaml (default: the only stack file)")
    parser.add_argument("--svg", type=Path, metavar="FILE", help="also write an SVG (needs Graphviz's dot)")
    parser.add_argument(
        "--zones",
        type=int,
        choices=(2, 3),
        default=DEFAULT_ZONES,
        help="target aws without subnetIds: how many zones the region offers (default 3; given subnets decide otherwise)",
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    try:
        stack = _stack_name(args.project_dir, args.stack)
        raw, secrets = read_stack(args.project_dir, stack)
        cfg = parse_config(raw, secret_keys=secrets)
    except UsageError as error:
        print(f"topology.sh: {error}", file=sys.stderr)
        return 2
    except yaml.YAMLError as error:
        print(f"topology.sh: a stack file is not valid YAML: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(error, file=sys.stderr)  # the program's own one line, naming the key
        return 2
    if args.svg is not None and shutil.which("dot") is None:
        print("topology.sh: --svg needs Graphviz's dot: install the graphviz package", file=sys.stderr)
        return 1

    zones = len(cfg.aws.subnet_ids) if cfg.aws is not None and cfg.aws.subnet_ids else args.zones
    plan = plan_cluster(cfg, zones=zones)
    sys.stdout.write(mermaid(plan, cfg))
    if args.svg is not None:
        result = subprocess.run(["dot", "-Tsvg"], input=graphviz_dot(plan, cfg), capture_output=True, text=True)
        if result.returncode != 0:
            print(f"topology.sh: dot failed: {result.stderr.strip()}", file=sys.stderr)
            return 1
        args.svg.write_text(result.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
