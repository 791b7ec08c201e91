"""One systemd-nspawn machine on this machine: its disk, cgroups, boot, supervisor and stop.

The one implementation the product (``target: local``, through ``python -m localhosts``) and the
e2e tests (``tests/e2e/testhosts.py``) both boot machines with. A machine is a Debian bookworm
system container (systemd as PID 1, a real sshd) booted from the shared cached root filesystem
that ``scripts/build-rootfs.sh`` builds, through its own overlayfs: ``upper/`` is its disk, kept
across reboots.

This machine may have no systemd as PID 1, so nothing registers machines with systemd-machined:
a small supervisor process per machine (``localhosts.supervisor``, started detached with setsid)
runs ``systemd-nspawn``, boots the machine again when nspawn exits 133 (``systemctl reboot``
inside) and is stopped by its PID. Before exec'ing nspawn, the supervisor's child enters the
machine's own cgroups in the v1 hierarchies of :data:`CGROUP_HIERARCHIES`: ``--keep-unit``
creates its ``payload`` cgroup below the cgroup it starts in, so two machines started from one
cgroup would share (and fight over) one tree; ``memory`` lets the tests read peak memory.

Everything of a machine lives in its state directory (:attr:`MachineSpec.state_dir`):
``upper/ work/ merged/`` (the disk), ``console.log``, ``spec.json``, ``supervisor.pid``,
``nspawn.pid``, ``exit-status``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from localhosts.system import (
    kill_cgroups,
    mountpoints,
    pid_alive,
    rmdir_cgroup_tree,
    run,
    signal_pid,
    umount_under,
    wait_gone,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOTFS = PROJECT_ROOT / "scripts" / "build-rootfs.sh"
CGROUP_HIERARCHIES = ("memory", "systemd", "unified")
NSPAWN_PROPAGATE_DIR = Path("/run/systemd/nspawn/propagate")
REBOOT_EXIT_STATUS = 133  # systemd-nspawn's status when the machine rebooted itself
DEPLOY_USER = "deploy"  # the rootfs's user with passwordless sudo
SUPERVISOR_MODULE = "localhosts.supervisor"


@dataclasses.dataclass(frozen=True)
class MachineSpec:
    """Everything needed to boot, find and stop one machine."""

    name: str  # systemd-nspawn --machine (unique on this machine)
    hostname: str
    rootfs: Path
    state_dir: Path
    cgroups: Mapping[str, Path]  # hierarchy -> this machine's own cgroup
    netns_path: str | None = None  # None: share this machine's network namespace
    extra_nspawn_args: tuple[str, ...] = ()

    @property
    def upper(self) -> Path:
        return self.state_dir / "upper"

    @property
    def work(self) -> Path:
        return self.state_dir / "work"

    @property
    def merged(self) -> Path:
        return self.state_dir / "merged"

    @property
    def console_log(self) -> Path:
        return self.state_dir / "console.log"

    @property
    def spec_file(self) -> Path:
        return self.state_dir / "spec.json"

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data.update(
            rootfs=str(self.rootfs),
            state_dir=str(self.state_dir),
            cgroups={k: str(v) for k, v in self.cgroups.items()},
            extra_nspawn_args=list(self.extra_nspawn_args),
        )
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MachineSpec:
        data = json.loads(text)
        return cls(
            name=data["name"],
            hostname=data["hostname"],
            rootfs=Path(data["rootfs"]),
            state_dir=Path(data["state_dir"]),
            cgroups={k: Path(v) for k, v in data["cgroups"].items()},
            netns_path=data.get("netns_path"),
            extra_nspawn_args=tuple(data.get("extra_nspawn_args", ())),
        )


# ---------------------------------------------------------------- cgroups


def make_cgroups(spec: MachineSpec, memory_limit_bytes: int | None = None) -> None:
    for cg in spec.cgroups.values():
        cg.mkdir(parents=True, exist_ok=True)
    if memory_limit_bytes is not None and "memory" in spec.cgroups:
        (spec.cgroups["memory"] / "memory.limit_in_bytes").write_text(str(memory_limit_bytes))


# ---------------------------------------------------------------- disk


def mount_overlay(spec: MachineSpec) -> None:
    if str(spec.merged) in mountpoints():
        return
    opts = f"lowerdir={spec.rootfs},upperdir={spec.upper},workdir={spec.work}"
    run(["mount", "-t", "overlay", spec.name, "-o", opts, str(spec.merged)])


def prepare_disk(spec: MachineSpec) -> None:
    """Creates the machine's disk (an overlay over the rootfs) and mounts it."""
    for d in (spec.upper, spec.work, spec.merged):
        d.mkdir(parents=True, exist_ok=True)
    mount_overlay(spec)


def deploy_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        f = line.split(":")
        if f[0] == DEPLOY_USER:
            return int(f[2]), int(f[3])
    raise RuntimeError(f"no user {DEPLOY_USER} in {root}/etc/passwd")


def install_ssh_keys(spec: MachineSpec, host_key: Path, authorized_public_key: str) -> None:
    """The machine's sshd host key, and the key allowed to log in as ``deploy``."""
    m = spec.merged
    dst = m / "etc/ssh/ssh_host_ed25519_key"
    dst.write_bytes(host_key.read_bytes())
    os.chmod(dst, 0o600)
    pub = dst.with_suffix(".pub")
    pub.write_bytes(host_key.with_suffix(".pub").read_bytes())
    os.chmod(pub, 0o644)
    uid, gid = deploy_ids(m)
    ak = m / "home" / DEPLOY_USER / ".ssh" / "authorized_keys"
    ak.write_text(authorized_public_key.strip() + "\n")
    os.chmod(ak, 0o600)
    os.chown(ak, uid, gid)


# ---------------------------------------------------------------- rootfs


def build_rootfs() -> Path:
    """Builds (or reuses the cached) base rootfs with scripts/build-rootfs.sh; returns its path."""
    res = subprocess.run(["bash", str(BUILD_ROOTFS)], check=True, stdout=subprocess.PIPE, text=True)
    lines = res.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError("build-rootfs.sh printed no rootfs path")
    path = Path(lines[-1])
    if not (path / "usr/lib/systemd/systemd").exists():
        raise RuntimeError(f"build-rootfs.sh returned a bad rootfs: {path}")
    return path


# ---------------------------------------------------------------- boot and stop


def nspawn_argv(spec: MachineSpec) -> list[str]:
    """The systemd-nspawn command line that boots ``spec``."""
    network = [f"--network-namespace-path={spec.netns_path}"] if spec.netns_path else []
    return [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        f"--directory={spec.merged}",
        f"--machine={spec.name}",
        f"--hostname={spec.hostname}",
        *network,
        "--register=no",
        "--keep-unit",
        "--private-users=no",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--settings=no",
        "--console=read-only",
        *spec.extra_nspawn_args,
    ]


def nspawn_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SYSTEMD_", "NOTIFY_SOCKET", "LISTEN_"))}


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def supervisor_pid(spec: MachineSpec) -> int | None:
    """PID of the machine's live supervisor (checked against its command line), or None."""
    pid = _read_int(spec.state_dir / "supervisor.pid")
    if pid is None or not pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return pid if str(spec.spec_file).encode() in cmdline else None


def nspawn_pid(spec: MachineSpec) -> int | None:
    """PID of the running systemd-nspawn of this machine, or None."""
    if supervisor_pid(spec) is None:
        return None
    pid = _read_int(spec.state_dir / "nspawn.pid")
    return pid if pid is not None and pid_alive(pid) else None


def leader_pid(spec: MachineSpec) -> int | None:
    """PID (this machine's view) of the machine's systemd, or None."""
    pid = nspawn_pid(spec)
    if pid is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            return int(child)
    return None


def last_exit_status(spec: MachineSpec) -> int | None:
    """systemd-nspawn's exit status of the machine's last boot."""
    return _read_int(spec.state_dir / "exit-status")


def boots(spec: MachineSpec) -> int:
    return _read_int(spec.state_dir / "boots") or 0


def is_running(spec: MachineSpec) -> bool:
    return nspawn_pid(spec) is not None


def is_rebooting(spec: MachineSpec) -> bool:
    """Between two boots of a machine that rebooted itself."""
    return supervisor_pid(spec) is not None and not is_running(spec)


def start(spec: MachineSpec) -> int:
    """Boots the machine (no-op when its supervisor runs); does not wait for readiness.

    Starts the supervisor detached (own session, stdio on the console log), so it outlives the
    caller; returns its PID."""
    running = supervisor_pid(spec)
    if running is not None:
        return running
    mount_overlay(spec)
    spec.spec_file.write_text(spec.to_json())
    for name in ("supervisor.pid", "nspawn.pid", "exit-status"):
        (spec.state_dir / name).unlink(missing_ok=True)
    env = {**nspawn_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    with open(spec.console_log, "ab") as console:
        proc = subprocess.Popen(
            [sys.executable, "-m", SUPERVISOR_MODULE, "--daemonize", str(spec.spec_file)],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env=env,
            cwd="/",
            start_new_session=True,
        )
    # --daemonize: the supervisor forks, writes its PID and the first nspawn's, and its first
    # process exits, so the supervisor belongs to no caller (and leaves no zombie there).
    if proc.wait(timeout=30) != 0:
        raise RuntimeError(f"the supervisor of {spec.name} did not start; see {spec.console_log}")
    pid = supervisor_pid(spec)
    if pid is None:
        raise RuntimeError(f"the supervisor of {spec.name} exited at once; see {spec.console_log}")
    return pid


def stop(spec: MachineSpec, timeout: float = 30.0) -> int | None:
    """Powers the machine off cleanly; SIGKILLs everything of it after ``timeout``.

    SIGTERM to the supervisor stops its reboot loop and passes SIGTERM to systemd-nspawn, which
    sends SIGRTMIN+3 to the machine's systemd: a clean poweroff. Returns nspawn's exit status
    (None when the machine was not running)."""
    pid = supervisor_pid(spec)
    if pid is None:
        kill_cgroups(spec.cgroups.values())
        return None
    signal_pid(pid, signal.SIGTERM)
    if not wait_gone([pid], timeout=timeout):
        log.warning("%s did not power off in %.0fs; killing it", spec.name, timeout)
        kill_cgroups(spec.cgroups.values())
        if not wait_gone([pid], timeout=10):
            signal_pid(pid, signal.SIGKILL)
            wait_gone([pid], timeout=5)
    # The machine's init dies with nspawn; be sure nothing of it survives.
    kill_cgroups(spec.cgroups.values())
    return last_exit_status(spec)


def remove(spec: MachineSpec, timeout: float = 30.0) -> None:
    """Stops the machine and removes its disk, mounts, cgroups and state directory."""
    stop(spec, timeout)
    umount_under(str(spec.state_dir))
    for cg in spec.cgroups.values():
        rmdir_cgroup_tree(cg)
    prop = NSPAWN_PROPAGATE_DIR / spec.name
    if prop.exists():
        run(["rm", "-rf", "--one-file-system", str(prop)], check=False)
    if any(m == str(spec.state_dir) or m.startswith(f"{spec.state_dir}/") for m in mountpoints()):
        raise RuntimeError(f"mounts remain below {spec.state_dir}; not removing it")
    if spec.state_dir.exists():
        run(["rm", "-rf", "--one-file-system", str(spec.state_dir)])
    left = [str(cg) for cg in spec.cgroups.values() if cg.exists()]
    if left:
        raise RuntimeError(f"cgroups of {spec.name} remain: {', '.join(left)}")


def console_tail(spec: MachineSpec, lines: int = 40) -> str:
    try:
        text = spec.console_log.read_text(errors="replace").replace("\r", "")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
