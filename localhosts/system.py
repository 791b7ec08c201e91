"""This machine's processes, cgroups (v1 hierarchies) and mounts, as the machine runtime needs them."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


# ---------------------------------------------------------------- processes


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    log.debug("run: %s", shlex.join(argv))
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and res.returncode != 0:
        raise RuntimeError(f"command failed ({res.returncode}): {shlex.join(argv)}\n{res.stderr.strip()}")
    return res


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Holds an exclusive flock on ``lock_file`` (created if missing): builds into a shared cache
    take turns with other processes (test workers, two stacks' `up`s)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is no zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not is_zombie(pid)


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_gone(pids: Iterable[int], *, timeout: float) -> bool:
    """Wait until none of ``pids`` exists any more (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    pending = list(pids)
    while pending:
        pending = [p for p in pending if pid_alive(p)]
        if not pending:
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def kill_pids(pids: Iterable[int], *, timeout: float = 5.0) -> None:
    """SIGTERM the given pids, SIGKILL whatever is left after ``timeout``."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        signal_pid(pid, signal.SIGTERM)
    if not wait_gone(pids, timeout=timeout):
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        wait_gone(pids, timeout=5.0)


# ---------------------------------------------------------------- cgroups


def own_cgroup(hierarchy: str) -> Path:
    """Path (below CGROUP_ROOT/<hierarchy>) of this process' cgroup."""
    want = {"memory": "memory", "systemd": "name=systemd", "unified": ""}[hierarchy]
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if hierarchy == "unified":
            if line.startswith("0::"):
                return CGROUP_ROOT / "unified" / path.lstrip("/")
        elif want in controllers.split(","):
            return CGROUP_ROOT / hierarchy / path.lstrip("/")
    raise RuntimeError(f"no {hierarchy} cgroup in /proc/self/cgroup")


def subdirs(p: Path) -> list[Path]:
    try:
        return [c for c in p.iterdir() if c.is_dir() and not c.is_symlink()]
    except OSError:
        return []


def cgroup_pids(cg: Path) -> list[int]:
    try:
        text = (cg / "cgroup.procs").read_text()
    except OSError:
        return []
    pids = {int(x) for x in text.split()}
    for child in subdirs(cg):
        pids.update(cgroup_pids(child))
    return sorted(pids)


def rmdir_cgroup_tree(cg: Path) -> None:
    if not cg.is_dir():
        return
    for child in subdirs(cg):
        rmdir_cgroup_tree(child)
    with contextlib.suppress(OSError):
        cg.rmdir()


def kill_cgroups(cgroups: Iterable[Path], *, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process in ``cgroups`` (recursively) until they are empty; processes forked
    meanwhile are caught by the next round. Returns the pids that were killed."""
    cgroups = list(cgroups)
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        pids = {p for cg in cgroups for p in cgroup_pids(cg) if p != os.getpid()}
        pids = {p for p in pids if not is_zombie(p)}
        if not pids:
            return sorted(killed)
        if time.monotonic() > deadline:
            log.error("processes survive SIGKILL: %s", sorted(pids))
            return sorted(killed)
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        killed.update(pids)
        wait_gone(pids, timeout=1.0)


# ---------------------------------------------------------------- mounts


def mountpoints() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]  # the mount point, octal-escaped
        points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), mp))
    return points


def umount_under(path: str) -> None:
    """Unmount everything at or below ``path``, deepest first."""
    prefix = path.rstrip("/") + "/"
    for mp in sorted((m for m in mountpoints() if m == path or m.startswith(prefix)), key=len, reverse=True):
        if run(["umount", mp], check=False).returncode != 0:
            run(["umount", "--lazy", mp], check=False)
