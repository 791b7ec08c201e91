"""The machines of a `target: local` stack: what ``python -m localhosts machine create|delete``
and ``keygen`` do for the program's ``local.Command`` resources (components/local_fleet.py).

Each machine shares this machine's network namespace and loopback (no private network: nothing
is added to the root namespace), so each has its own ports: sshd listens on 127.0.0.1:<its ssh
port>, and RocketMQ on the ports the plan gave it. Its cgroups are
``/sys/fs/cgroup/<hierarchy>/rocketmq-local/<machine>``; its disk and state live in the stack's
directory under ``${RMQ_CACHE}/local/``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from localhosts import machine
from localhosts.machine import CGROUP_HIERARCHIES, MachineSpec
from localhosts.system import CGROUP_ROOT, rmdir_cgroup_tree, run

CGROUP_PARENT = "rocketmq-local"
LOOPBACK = "127.0.0.1"
SSH_READY_TIMEOUT_SECONDS = 180
# command -> the Debian package that has it (scripts/setup-host-tools.sh installs them)
REQUIRED_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
}


class LocalTargetError(RuntimeError):
    """A problem with one clear line of explanation."""


def preflight_problem() -> str | None:
    """Why `target: local` cannot run here, in one line, or None."""
    if os.geteuid() != 0:
        return (
            "rocketmq:target local needs root (it boots systemd-nspawn machines, mounts their disks "
            "and makes their cgroups): run `sudo scripts/pulumi.sh up --stack local`"
        )
    missing = sorted({package for tool, package in REQUIRED_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        return (
            f"rocketmq:target local needs the Debian packages {', '.join(missing)}: "
            "`apt-get install " + " ".join(missing) + "` (tests/e2e/setup-host-tools.sh installs them)"
        )
    return None


def machine_name(stack: str, key: str) -> str:
    """A systemd-nspawn machine name (a host name of at most 64 characters) for ``key`` of ``stack``."""
    text = re.sub(r"[^a-z0-9-]+", "-", f"rmq-{stack}-{key}".lower()).strip("-")
    return text[:64].rstrip("-")


def spec_for(state_dir: Path, name: str, hostname: str, rootfs: Path) -> MachineSpec:
    return MachineSpec(
        name=name,
        hostname=hostname,
        rootfs=rootfs,
        state_dir=state_dir,
        cgroups={h: CGROUP_ROOT / h / CGROUP_PARENT / name for h in CGROUP_HIERARCHIES},
    )


# ---------------------------------------------------------------- ports


def port_taken(port: int) -> bool:
    """True when something listens on ``port`` (any address) or it cannot be bound on loopback.

    SO_REUSEADDR, as servers bind: connections of a stopped server that wait out TIME_WAIT do
    not count."""
    for address in ("0.0.0.0", LOOPBACK):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return True
    return False


def port_owner(port: int) -> str:
    res = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, check=False)
    return " ".join(res.stdout.split()) or "unknown"


def check_ports_free(ports: Sequence[tuple[str, int]], machine_label: str) -> None:
    for label, port in ports:
        if port_taken(port):
            raise LocalTargetError(
                f"port {port} ({label} of {machine_label}) is already in use on this machine ({port_owner(port)}): "
                "stop what holds it, or destroy the stack whose machine uses it"
            )


# ---------------------------------------------------------------- keys


def keygen(key_dir: Path, comment: str) -> str:
    """A new ed25519 key pair: writes only the public key to ``key_dir``; returns the private key."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
        shutil.copyfile(key.with_suffix(".pub"), key_dir / "id_ed25519.pub")
        return key.read_text()


# ---------------------------------------------------------------- machines


def _configure_disk(spec: MachineSpec, ssh_port: int, public_key: str) -> None:
    m = spec.merged
    (m / "etc/hostname").write_text(f"{spec.hostname}\n")
    hosts = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{spec.hostname}", "::1\tlocalhost ip6-localhost ip6-loopback"]
    (m / "etc/hosts").write_text("\n".join(hosts) + "\n")
    # The machine shares this machine's network, so it resolves names as this machine does
    # (a `mirror` given by name).
    resolv = m / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    host_resolv = Path("/etc/resolv.conf")
    resolv.write_text(host_resolv.read_text() if host_resolv.is_file() else "")
    (m / "etc/ssh/sshd_config.d/20-rocketmq-local.conf").write_text(
        f"# Written by rocketmq-pulumi (target local): machines share this machine's loopback.\n"
        f"ListenAddress {LOOPBACK}:{ssh_port}\n"
    )
    host_key = _host_key_path(spec)
    if not host_key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{spec.hostname}", "-f", str(host_key)])
    machine.install_ssh_keys(spec, host_key, public_key)


# `machine create` prints the machine's host key on a line of its own, after this.
HOST_KEY_PREFIX = "host key "


def host_key_in(create_output: str) -> str | None:
    """The host key a `machine create` printed; None from machines made before it printed one."""
    for line in create_output.splitlines():
        if line.startswith(HOST_KEY_PREFIX):
            return line.removeprefix(HOST_KEY_PREFIX).strip()
    return None


def _host_key_path(spec: MachineSpec) -> Path:
    return spec.state_dir / "ssh_host_ed25519_key"


def host_public_key(spec: MachineSpec) -> str:
    """The machine's SSH host key as "type base64" (no comment)."""
    return " ".join(_host_key_path(spec).with_suffix(".pub").read_text().split()[:2])


def wait_for_sshd(spec: MachineSpec, port: int, timeout: float = SSH_READY_TIMEOUT_SECONDS) -> float:
    """Waits until sshd of the machine answers on 127.0.0.1:port; returns the seconds it took."""
    started = time.monotonic()
    while True:
        if not machine.is_running(spec) and not machine.is_rebooting(spec):
            raise LocalTargetError(
                f"machine {spec.name} stopped while booting (exit {machine.last_exit_status(spec)}); "
                f"its console:\n{machine.console_tail(spec)}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=2) as conn:
                conn.settimeout(5)
                if conn.recv(64).startswith(b"SSH-"):
                    return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            raise LocalTargetError(
                f"sshd of machine {spec.name} did not answer on {LOOPBACK}:{port} within {timeout:.0f}s; "
                f"its console:\n{machine.console_tail(spec)}"
            )
        time.sleep(0.2)


def create(spec: MachineSpec, ssh_port: int, ports: Sequence[tuple[str, int]], public_key_file: Path) -> float:
    """Boots a fresh machine and waits until its sshd answers; returns the seconds to boot.

    A machine left over from a failed create is removed first, so a retry starts clean."""
    if spec.state_dir.exists() or machine.supervisor_pid(spec) is not None:
        machine.remove(spec)
    check_ports_free([("sshd", ssh_port), *ports], spec.name)
    public_key = public_key_file.read_text()
    spec.state_dir.mkdir(parents=True, mode=0o700)
    try:
        machine.make_cgroups(spec)
        machine.prepare_disk(spec)
        _configure_disk(spec, ssh_port, public_key)
        machine.start(spec)
        return wait_for_sshd(spec, ssh_port)
    except BaseException:
        machine.remove(spec)
        raise


def delete(spec: MachineSpec) -> None:
    """Stops the machine and removes its disk, mounts, cgroups and state; nothing of it is left."""
    machine.remove(spec)
    remove_empty_parents(spec.state_dir)
    for hierarchy in CGROUP_HIERARCHIES:
        base = CGROUP_ROOT / hierarchy / CGROUP_PARENT
        if base.is_dir() and not [c for c in base.iterdir() if c.is_dir()]:
            rmdir_cgroup_tree(base)


def remove_empty_parents(path: Path) -> None:
    """Removes the empty directories above ``path`` up to the stack's own (``.../local/<stack>``)."""
    for parent in path.parents:
        if parent.name == "local":
            return
        try:  # machines are deleted in parallel: another delete may empty or remove it meanwhile
            parent.rmdir()
        except OSError:
            return
