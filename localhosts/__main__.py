"""The commands the program's `target: local` resources run on this machine (components/local_fleet.py):

    python -m localhosts rootfs
    python -m localhosts keygen --dir DIR --comment TEXT           (prints the private key)
    python -m localhosts keydelete --dir DIR
    python -m localhosts machine create --state-dir D --name N --hostname H --rootfs R
                                        --ssh-port P --public-key-file F [--port LABEL=PORT ...]
    python -m localhosts machine delete --state-dir D --name N --hostname H
    python -m localhosts mirror start --mirror URL --version V --state-dir D --port P   (prints the URL)
    python -m localhosts mirror stop --state-dir D

Each fails with one clear line on stderr (exit 1).
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from localhosts import local_machines, machine, mirror
from localhosts.local_machines import HOST_KEY_PREFIX, LocalTargetError


def _label_port(text: str) -> tuple[str, int]:
    label, _, port = text.rpartition("=")
    if not label or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected LABEL=PORT, got {text!r}")
    return label, int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localhosts", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rootfs", help="build (or reuse) the cached rootfs; prints its path")
    for name in ("keygen", "keydelete"):
        keys = commands.add_parser(name)
        keys.add_argument("--dir", type=Path, required=True)
        if name == "keygen":
            keys.add_argument("--comment", default="rocketmq-local")
    machines = commands.add_parser("machine").add_subparsers(dest="action", required=True)
    for action in ("create", "delete"):
        sub = machines.add_parser(action)
        sub.add_argument("--state-dir", type=Path, required=True)
        sub.add_argument("--name", required=True)
        sub.add_argument("--hostname", required=True)
        sub.add_argument("--rootfs", type=Path, default=Path("/nonexistent"))
        if action == "create":
            sub.add_argument("--ssh-port", type=int, required=True)
            sub.add_argument("--public-key-file", type=Path, required=True)
            sub.add_argument("--port", type=_label_port, action="append", default=[])
    mirrors = commands.add_parser("mirror").add_subparsers(dest="action", required=True)
    start = mirrors.add_parser("start")
    start.add_argument("--mirror", required=True)
    start.add_argument("--version", required=True)
    start.add_argument("--state-dir", type=Path, required=True)
    start.add_argument("--port", type=int, required=True)
    mirrors.add_parser("stop").add_argument("--state-dir", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command != "keydelete" and not (args.command == "mirror" and args.action == "stop"):
            problem = local_machines.preflight_problem()
            if problem:
                raise LocalTargetError(problem)
        if args.command == "rootfs":
            print(machine.build_rootfs())
        elif args.command == "keygen":
            sys.stdout.write(local_machines.keygen(args.dir, args.comment))
        elif args.command == "keydelete":
            shutil.rmtree(args.dir, ignore_errors=True)
            local_machines.remove_empty_parents(args.dir)
        elif args.command == "machine":
            spec = local_machines.spec_for(args.state_dir, args.name, args.hostname, args.rootfs)
            if args.action == "create":
                seconds = local_machines.create(spec, args.ssh_port, args.port, args.public_key_file)
                # A new token on every create: the program reruns its scripts on a machine made anew.
                print(
                    f"machine {spec.name} booted as {secrets.token_hex(8)}; "
                    f"sshd answers on 127.0.0.1:{args.ssh_port} after {seconds:.1f}s"
                )
                # The program pins it on every connection to the machine.
                print(f"{HOST_KEY_PREFIX}{local_machines.host_public_key(spec)}")
            else:
                local_machines.delete(spec)
                print(f"machine {spec.name} stopped and removed")
        elif args.action == "start":
            print(mirror.start(args.mirror, args.version, args.state_dir, args.port))
        else:
            mirror.stop(args.state_dir)
    except (LocalTargetError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"rocketmq: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
