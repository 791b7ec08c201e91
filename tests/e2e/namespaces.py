"""The network namespaces the e2e tests make, and the clean-up of what crashed runs left behind.

Everything the tests create (namespaces, temp dirs, cgroups, nspawn machine names) is named
``<prefix>-<pid>-...`` after the creating process: :func:`cleanup_leftovers` removes what a
process that no longer exists left, and never touches a live run's.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localhosts.machine import CGROUP_HIERARCHIES, NSPAWN_PROPAGATE_DIR
from localhosts.system import (
    CGROUP_ROOT,
    exclusive,
    kill_cgroups,
    kill_pids,
    mountpoints,
    pid_alive,
    rmdir_cgroup_tree,
    run,
    umount_under,
)

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "rmqe2e"
NETNS_DIR = Path("/run/netns")


def ip(*args: str, netns: str | None = None) -> None:
    run(["ip"] + (["-n", netns] if netns else []) + list(args))


def make_switched_network(
    switch: str, endpoints: Sequence[tuple[str, str, str]], prefixlen: int, created: list[str]
) -> None:
    """A bridge in namespace ``switch`` and, per endpoint (port name, namespace, address), a
    namespace joined to it by a veth pair. Each namespace is appended to ``created`` as soon as
    it exists, so that a failure part-way still tears down what was made."""

    def add_netns(name: str) -> None:
        run(["ip", "netns", "add", name])
        created.append(name)
        ip("link", "set", "lo", "up", netns=name)

    add_netns(switch)
    ip("link", "add", "br0", "type", "bridge", netns=switch)
    ip("link", "set", "br0", "up", netns=switch)
    for port, ns, addr in endpoints:
        add_netns(ns)
        # Both ends are created directly inside the namespaces: the root namespace never sees them.
        ip("link", "add", f"v-{port}", "type", "veth", "peer", "name", "eth0", "netns", ns, netns=switch)
        ip("link", "set", f"v-{port}", "master", "br0", netns=switch)
        ip("link", "set", f"v-{port}", "up", netns=switch)
        ip("addr", "add", f"{addr}/{prefixlen}", "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)


def netns_inode(name: str) -> int | None:
    try:
        return (NETNS_DIR / name).stat().st_ino
    except OSError:
        return None


def pids_in_netns(inodes: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ino = (entry / "ns" / "net").stat().st_ino
        except OSError:
            continue
        if ino in inodes:
            found.append(int(entry.name))
    return found


def cleanup_leftovers(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Remove what runs that no longer exist left behind.

    Objects are named ``<prefix>-<pid>-...``; those whose ``pid`` is still a
    live process (another run, or this one) are left alone.  Returns a list
    of human-readable descriptions of what was removed.
    """
    # Test workers start networks side by side: one clean-up at a time.
    with exclusive(Path(tempfile.gettempdir()) / f".{prefix}-cleanup.lock"):
        return _cleanup_leftovers_locked(prefix)


def _cleanup_leftovers_locked(prefix: str) -> list[str]:
    pat = re.compile(rf"^{re.escape(prefix)}-(\d+)(?:-|$)")

    def stale(name: str) -> bool:
        m = pat.match(name)
        return m is not None and not pid_alive(int(m.group(1)))

    removed: list[str] = []
    try:
        netns_names = [p.name for p in NETNS_DIR.iterdir()]
    except OSError:
        netns_names = []
    stale_ns = [n for n in netns_names if stale(n)]

    # 1. processes: anything in a stale cgroup or a stale network namespace.
    pids: set[int] = set()
    stale_cgroups: list[Path] = []
    for hierarchy in CGROUP_HIERARCHIES:
        base = CGROUP_ROOT / hierarchy
        for dirpath, dirnames, _ in os.walk(base):
            depth = Path(dirpath).relative_to(base).parts
            keep = []
            for d in dirnames:
                if stale(d):
                    stale_cgroups.append(Path(dirpath) / d)
                elif len(depth) < 3:
                    keep.append(d)
            dirnames[:] = keep
    # A crashed run's containers need no graceful shutdown: SIGKILL them.
    pids.update(kill_cgroups(stale_cgroups))
    inodes = {i for i in (netns_inode(n) for n in stale_ns) if i is not None}
    if inodes:
        others = pids_in_netns(inodes)
        kill_pids(others, timeout=5.0)
        pids.update(others)
    if pids:
        removed.append(f"processes {sorted(pids)}")

    # 2. mounts below stale temp dirs.
    tmp = Path(tempfile.gettempdir())
    stale_dirs = [p for p in tmp.glob(f"{prefix}-*") if stale(p.name)]
    for sd in stale_dirs:
        umount_under(str(sd))
    # 3. namespaces, cgroups, directories.
    for n in stale_ns:
        if run(["ip", "netns", "delete", n], check=False).returncode == 0:
            removed.append(f"netns {n}")
    for cg in stale_cgroups:
        rmdir_cgroup_tree(cg)
        removed.append(f"cgroup {cg}")
    for sd in stale_dirs:
        if not any(m.startswith(str(sd) + "/") for m in mountpoints()):
            shutil.rmtree(sd, ignore_errors=True)
            removed.append(f"dir {sd}")
    for prop in NSPAWN_PROPAGATE_DIR.glob(f"{prefix}-*"):
        if stale(prop.name):
            shutil.rmtree(prop, ignore_errors=True)
    if removed:
        log.warning("cleaned up leftovers of crashed runs: %s", removed)
    return removed
