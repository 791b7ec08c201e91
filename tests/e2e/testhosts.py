"""Real test hosts for the end-to-end tests: systemd-nspawn containers.

Each test host is a Debian bookworm system container (systemd as PID 1, a real
sshd) booted with ``systemd-nspawn`` from a shared, cached root filesystem
(see ``scripts/build-rootfs.sh``) through a per-host overlayfs, so every host has
its own writable "disk" that survives :meth:`TestNetwork.reboot`. Booting, rebooting and
stopping are the product's own machine runtime (:mod:`localhosts.machine`, which ``target:
local`` uses too); this module adds what only the tests need: a network namespace per host
behind a bridge, a control namespace, and memory measurement.

Network layout (everything lives in network namespaces created here; the root
network namespace is never given an address or a route)::

    netns <tag>-sw        bridge br0 (no address)
      |- veth -> netns <tag>-ctl     eth0 10.251.0.1/24  (test runner)
      |- veth -> netns <tag>-<host1> eth0 10.251.0.11/24 (container)
      |- veth -> netns <tag>-<host2> eth0 10.251.0.12/24 (container)
      ...

Commands of the test runner that must talk to the hosts (ssh, pulumi, an HTTP
server serving artifacts) run in the control namespace through
:meth:`TestNetwork.run_in_control` / :meth:`TestNetwork.spawn_in_control`.

Every container runs in its own v1 memory cgroup, nested below the memory
cgroup of the process that created the :class:`TestNetwork`, so that
:meth:`TestNetwork.peak_memory_bytes` can report ``memory.max_usage_in_bytes``.

Names of everything created here (namespaces, temp dirs, cgroups, nspawn
machine names) start with ``<prefix>-<pid>-<rand>-`` where ``pid`` is the
creating process; :func:`tests.e2e.namespaces.cleanup_leftovers` removes what a
crashed run (a pid that no longer exists) left behind. SSH material and ssh
command lines: :mod:`tests.e2e.host_ssh`.

Requires root, systemd-nspawn, ssh/ssh-keygen, ip and nsenter (see
``setup-host-tools.sh``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import ipaddress
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from localhosts import machine
from localhosts.machine import CGROUP_HIERARCHIES, NSPAWN_PROPAGATE_DIR, MachineSpec, build_rootfs
from localhosts.system import (
    kill_cgroups,
    kill_pids,
    mountpoints,
    own_cgroup,
    rmdir_cgroup_tree,
    run,
    signal_pid,
    umount_under,
)
from tests.e2e.host_ssh import SshFiles, SSHResult
from tests.e2e.namespaces import (
    DEFAULT_PREFIX,
    NETNS_DIR,
    cleanup_leftovers,
    make_switched_network,
    netns_inode,
    pids_in_netns,
)

__all__ = [
    "DEFAULT_PREFIX",
    "E2E_DIR",
    "Host",
    "HostNotReadyError",
    "SSHResult",
    "TestNetwork",
    "build_rootfs",
    "cleanup_leftovers",
    "setup_host_tools",
]

log = logging.getLogger(__name__)

E2E_DIR = Path(__file__).resolve().parent
SUBNET = ipaddress.IPv4Network("10.251.0.0/24")
CONTROL_ADDRESS = "10.251.0.1"
FIRST_HOST_OCTET = 11
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


class HostNotReadyError(TimeoutError):
    """A host did not become ready (ssh + systemd boot finished) in time."""


@dataclasses.dataclass(frozen=True)
class Host:
    """One test host. ``netns`` is the name of its network namespace."""

    name: str
    address: str
    netns: str

    def __str__(self) -> str:
        return f"{self.name}({self.address})"


@dataclasses.dataclass
class _HostState:
    host: Host
    spec: MachineSpec  # the machine: disk, cgroups, state directory (upper/, work/, merged/, console.log)

    @property
    def machine(self) -> str:
        return self.spec.name

    @property
    def cgroups(self) -> Mapping[str, Path]:
        return self.spec.cgroups


# --------------------------------------------------------------------------
# provisioning scripts


def setup_host_tools() -> None:
    """Install the host tools (apt-get); a no-op when all are present."""
    subprocess.run(["bash", str(E2E_DIR / "setup-host-tools.sh")], check=True)


# --------------------------------------------------------------------------


class TestNetwork:
    """A bridge, a control namespace and ``n_hosts`` booted containers.

    Use as a context manager; :meth:`close` (also called on ``__exit__``) is
    idempotent and tears everything down, also after a partial setup.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        n_hosts: int = 3,
        *,
        rootfs: Path | str | None = None,
        host_names: Sequence[str] | None = None,
        prefix: str = DEFAULT_PREFIX,
        boot: bool = True,
        ready_timeout: float = 120.0,
        memory_limit_bytes: int | None = None,
        extra_nspawn_args: Sequence[str] = (),
    ) -> None:
        if host_names is None:
            host_names = [f"host{i + 1}" for i in range(n_hosts)]
        if len(host_names) != n_hosts:
            raise ValueError("len(host_names) must equal n_hosts")
        if n_hosts > 200:
            raise ValueError("at most 200 hosts fit in 10.251.0.0/24")
        for name in host_names:
            if not _NAME_RE.match(name) or name in ("sw", "ctl"):
                raise ValueError(f"bad host name {name!r}")
        if len(set(host_names)) != n_hosts:
            raise ValueError("host names must be unique")
        if os.geteuid() != 0:
            raise PermissionError("TestNetwork needs root")

        self.prefix = prefix
        # <prefix>-<pid>-<rand>: unique per TestNetwork, even within one process.
        self.tag = f"{prefix}-{os.getpid()}-{secrets.token_hex(2)}"
        self._rootfs = Path(rootfs) if rootfs is not None else None
        self._boot_on_enter = boot
        self.ready_timeout = ready_timeout
        self._memory_limit = memory_limit_bytes
        self._extra_nspawn_args = list(extra_nspawn_args)
        self.switch_netns = f"{self.tag}-sw"
        self.control_netns = f"{self.tag}-ctl"
        self.control_address = CONTROL_ADDRESS
        self.hosts: list[Host] = [
            Host(
                name=name,
                address=str(SUBNET.network_address + FIRST_HOST_OCTET + i),
                netns=f"{self.tag}-{name}",
            )
            for i, name in enumerate(host_names)
        ]
        self._state: dict[str, _HostState] = {}
        self._spawned: list[subprocess.Popen[Any]] = []
        self._lock = threading.Lock()
        self._created_netns: list[str] = []
        self._cgroup_bases: list[Path] = []
        self.workdir: Path | None = None
        self._closed = False
        self._closing = False

    # ---------------------------------------------------------------- setup

    def __enter__(self) -> TestNetwork:
        try:
            self._setup()
            if self._boot_on_enter:
                self.start_all()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _setup(self) -> None:
        cleanup_leftovers(self.prefix)
        if self._rootfs is None:
            self._rootfs = build_rootfs()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self._ssh_files().make(self.tag, self.hosts)
        self._make_network()
        self._make_cgroups()
        for h in self.hosts:
            self._prepare_host_disk(self._state[h.name])

    @property
    def rootfs(self) -> Path:
        assert self._rootfs is not None
        return self._rootfs

    def _wd(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("TestNetwork is not set up (use it as a context manager)")
        return self.workdir

    def _ssh_files(self) -> SshFiles:
        return SshFiles(self._wd() / "ssh")

    @property
    def private_key_path(self) -> Path:
        """ed25519 private key (no passphrase) accepted for ``deploy``."""
        return self._ssh_files().private_key

    @property
    def known_hosts_path(self) -> Path:
        """known_hosts listing every host's (pre-generated) host key."""
        return self._ssh_files().known_hosts

    @property
    def ssh_config_path(self) -> Path:
        """ssh_config with a ``Host`` block per test host (by name)."""
        return self._ssh_files().config

    def _make_network(self) -> None:
        endpoints = [("ctl", self.control_netns, CONTROL_ADDRESS)] + [
            (f"h{h.address.rsplit('.', 1)[1]}", h.netns, h.address) for h in self.hosts
        ]
        make_switched_network(self.switch_netns, endpoints, SUBNET.prefixlen, self._created_netns)

    def _make_cgroups(self) -> None:
        for h in self.hosts:
            cgroups: dict[str, Path] = {}
            for hierarchy in CGROUP_HIERARCHIES:
                base = own_cgroup(hierarchy) / self.tag
                if base not in self._cgroup_bases:
                    base.mkdir(exist_ok=True)
                    self._cgroup_bases.append(base)
                cgroups[hierarchy] = base / h.name
            spec = MachineSpec(
                name=f"{self.tag}-{h.name}",
                hostname=h.name,
                rootfs=self.rootfs,
                state_dir=self._wd() / "hosts" / h.name,
                cgroups=cgroups,
                netns_path=str(NETNS_DIR / h.netns),
                extra_nspawn_args=tuple(self._extra_nspawn_args),
            )
            machine.make_cgroups(spec, self._memory_limit)
            self._state[h.name] = _HostState(host=h, spec=spec)

    def _prepare_host_disk(self, st: _HostState) -> None:
        machine.prepare_disk(st.spec)
        m = st.spec.merged
        h = st.host
        (m / "etc/hostname").write_text(f"{h.name}\n")
        hosts = [
            "127.0.0.1\tlocalhost",
            f"127.0.1.1\t{h.name}",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            f"{CONTROL_ADDRESS}\tctl",
        ] + [f"{o.address}\t{o.name}" for o in self.hosts]
        (m / "etc/hosts").write_text("\n".join(hosts) + "\n")
        (m / "etc/resolv.conf").unlink(missing_ok=True)
        (m / "etc/resolv.conf").write_text("# no DNS in the e2e test network\n")
        public_key = self.private_key_path.with_suffix(".pub").read_text()
        machine.install_ssh_keys(st.spec, self._ssh_files().host_key(h), public_key)

    # ----------------------------------------------------------- lifecycle

    def host(self, name_or_address: str) -> Host:
        for h in self.hosts:
            if name_or_address in (h.name, h.address):
                return h
        raise KeyError(name_or_address)

    def _st(self, host: Host | str) -> _HostState:
        name = host.name if isinstance(host, Host) else self.host(host).name
        return self._state[name]

    def nspawn_argv(self, host: Host | str) -> list[str]:
        """The systemd-nspawn command line used to boot ``host``."""
        return machine.nspawn_argv(self._st(host).spec)

    def is_running(self, host: Host | str) -> bool:
        return machine.is_running(self._st(host).spec)

    def start(self, host: Host | str) -> None:
        """Boot ``host`` (no-op if running); does not wait for readiness.

        The machine runtime's supervisor boots it again when it reboots itself."""
        st = self._st(host)
        with self._lock:
            machine.start(st.spec)

    def stop(self, host: Host | str, timeout: float = 30.0) -> int | None:
        """Power ``host`` off cleanly; SIGKILL everything after ``timeout``.

        Returns nspawn's exit code (None if the host was not running)."""
        return machine.stop(self._st(host).spec, timeout)

    def nspawn_pid(self, host: Host | str) -> int | None:
        return machine.nspawn_pid(self._st(host).spec)

    def reboot(self, host: Host | str, timeout: float | None = None) -> float:
        """Power off and boot again from the same disk; wait until ready.

        Returns the seconds from the power-off request to readiness.
        """
        t0 = time.monotonic()
        self.stop(host)
        self.start(host)
        self.wait_ready(host, timeout)
        return time.monotonic() - t0

    def start_all(self, timeout: float | None = None) -> dict[str, float]:
        """Boot all stopped hosts in parallel and wait until all are ready.

        Returns seconds-to-ready per host name.
        """
        t0 = time.monotonic()
        for h in self.hosts:
            self.start(h)
        return self.wait_all_ready(timeout, since=t0)

    def wait_all_ready(self, timeout: float | None = None, *, since: float | None = None) -> dict[str, float]:
        t0 = time.monotonic() if since is None else since
        times: dict[str, float] = {}
        with concurrent.futures.ThreadPoolExecutor(len(self.hosts)) as pool:
            futs = {pool.submit(self.wait_ready, h, timeout): h for h in self.hosts}
            for fut in concurrent.futures.as_completed(futs):
                fut.result()
                times[futs[fut].name] = time.monotonic() - t0
        return times

    def wait_ready(self, host: Host | str, timeout: float | None = None) -> None:
        """Wait until ssh as deploy works and systemd finished booting.

        Ready means ``systemctl is-system-running --wait`` says ``running``
        or ``degraded``.  Raises :class:`HostNotReadyError` with the tail of
        the console log otherwise.
        """
        st = self._st(host)
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if not self.is_running(st.host):
                if machine.is_rebooting(st.spec):
                    time.sleep(0.1)  # rebooting itself; the supervisor boots it again
                    continue
                raise HostNotReadyError(
                    f"{st.host}: container exited (rc={machine.last_exit_status(st.spec)})\n{self.console_tail(st.host)}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise HostNotReadyError(
                    f"{st.host} not ready after {timeout:.0f}s (last: {last!r})\n{self.console_tail(st.host)}"
                )
            try:
                res = self.ssh(
                    st.host,
                    "systemctl is-system-running --wait",
                    timeout=max(1.0, left),
                    connect_timeout=2,
                )
            except subprocess.TimeoutExpired:
                continue
            state = res.stdout.strip()
            if state in ("running", "degraded"):
                return
            last = (state or res.stderr.strip())[-300:]
            # 255: ssh itself failed (sshd not up yet): poll again quickly.
            time.sleep(0.1 if res.returncode == 255 else 0.5)

    # ------------------------------------------------------------- running

    def _control_prefix(self) -> list[str]:
        return ["nsenter", f"--net={NETNS_DIR / self.control_netns}", "--"]

    def ssh_argv(self, host: Host | str, *, connect_timeout: float = 5) -> list[str]:
        """``ssh`` command line for ``deploy@host`` (without control-ns prefix)."""
        h = host if isinstance(host, Host) else self.host(host)
        return self._ssh_files().ssh_argv(h, connect_timeout=connect_timeout)

    def ssh(
        self,
        host: Host | str,
        command: str,
        *,
        timeout: float = 120.0,
        input: str | None = None,
        check: bool = False,
        connect_timeout: float = 5,
    ) -> SSHResult:
        """Run a shell ``command`` on ``host`` as ``deploy`` from the control
        namespace. Exit code 255 means ssh itself failed."""
        res = self.run_in_control(
            [*self.ssh_argv(host, connect_timeout=connect_timeout), command],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out = SSHResult(res.returncode, res.stdout, res.stderr)
        return out.check() if check else out

    def run_in_control(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run(argv, **kwargs)`` inside the control namespace
        (address 10.251.0.1). Only the network namespace changes."""
        check = bool(kwargs.pop("check", False))
        return subprocess.run([*self._control_prefix(), *argv], check=check, **kwargs)

    def spawn_in_control(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a long-running process in the control namespace.

        nsenter execs ``argv`` directly, so ``Popen.pid`` is the process
        itself; stop it with :meth:`stop_process` (also done on close).
        """
        kwargs.setdefault("start_new_session", True)
        proc: subprocess.Popen[Any] = subprocess.Popen([*self._control_prefix(), *argv], **kwargs)
        self._spawned.append(proc)
        return proc

    @staticmethod
    def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
        """SIGTERM ``proc`` by PID, SIGKILL after ``timeout``; returns its rc."""
        if proc.poll() is None:
            signal_pid(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_pid(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def exec_in_host(self, host: Host | str, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` as root directly inside the container (nsenter into
        all of its namespaces) -- for diagnostics, bypassing ssh."""
        pid = self.leader_pid(host)
        if pid is None:
            raise RuntimeError(f"{host} is not running")
        check = bool(kwargs.pop("check", False))
        return subprocess.run(["nsenter", "-t", str(pid), "-a", "--", *argv], check=check, **kwargs)

    def leader_pid(self, host: Host | str) -> int | None:
        """PID (host view) of the container's systemd, or None."""
        return machine.leader_pid(self._st(host).spec)

    def console_tail(self, host: Host | str, lines: int = 40) -> str:
        return machine.console_tail(self._st(host).spec, lines)

    def disk_path(self, host: Host | str) -> Path:
        """The host's root filesystem as seen from outside (overlay mount)."""
        return self._st(host).spec.merged

    # -------------------------------------------------------------- memory

    def _memory_file(self, host: Host | str, name: str) -> Path:
        return self._st(host).cgroups["memory"] / name

    def peak_memory_bytes(self, host: Host | str) -> int:
        """``memory.max_usage_in_bytes`` of the host's memory cgroup (v1):
        the high-water mark of RSS + page cache charged to the container
        since it was first booted or :meth:`reset_peak_memory`."""
        return int(self._memory_file(host, "memory.max_usage_in_bytes").read_text())

    def memory_usage_bytes(self, host: Host | str) -> int:
        return int(self._memory_file(host, "memory.usage_in_bytes").read_text())

    def memory_stat(self, host: Host | str) -> dict[str, int]:
        """Parsed ``memory.stat`` (e.g. ``total_rss``, ``total_cache``)."""
        out: dict[str, int] = {}
        for line in self._memory_file(host, "memory.stat").read_text().splitlines():
            k, v = line.split()
            out[k] = int(v)
        return out

    def reset_peak_memory(self, host: Host | str) -> None:
        self._memory_file(host, "memory.max_usage_in_bytes").write_text("0")

    # ------------------------------------------------------------ teardown

    def close(self) -> None:
        """Tear everything down; safe to call repeatedly and after a
        partially failed setup."""
        if self._closed:
            return
        self._closing = True
        errors: list[str] = []

        def attempt(what: str, fn: Any, *args: Any) -> None:
            try:
                fn(*args)
            except Exception as e:  # keep tearing down
                errors.append(f"{what}: {e}")
                log.exception("teardown: %s failed", what)

        for proc in self._spawned:
            attempt(f"stop pid {proc.pid}", self.stop_process, proc, 5.0)
        # Power off all containers in parallel.
        running = [st for st in self._state.values() if machine.supervisor_pid(st.spec) is not None]
        if running:
            with concurrent.futures.ThreadPoolExecutor(len(running)) as pool:
                for fut in [pool.submit(self.stop, st.host, 20.0) for st in running]:
                    try:
                        fut.result()
                    except Exception as e:
                        errors.append(f"stop: {e}")
        for st in self._state.values():
            attempt(f"kill {st.host}", kill_cgroups, st.cgroups.values())
        # Anything else still in our namespaces (shouldn't be).
        inodes = {i for i in (netns_inode(n) for n in self._created_netns) if i is not None}
        if inodes:
            attempt("kill netns processes", kill_pids, pids_in_netns(inodes))
        if self.workdir is not None:
            attempt("umount", umount_under, str(self.workdir))
        for ns in reversed(self._created_netns):
            attempt(f"netns {ns}", run, ["ip", "netns", "delete", ns])
        self._created_netns.clear()
        for base in self._cgroup_bases:
            attempt(f"cgroup {base}", rmdir_cgroup_tree, base)
        for st in self._state.values():
            prop = NSPAWN_PROPAGATE_DIR / st.machine
            if prop.exists():
                shutil.rmtree(prop, ignore_errors=True)
        if self.workdir is not None and self.workdir.exists():
            wd = str(self.workdir)
            if any(m == wd or m.startswith(wd + "/") for m in mountpoints()):
                errors.append(f"mounts remain below {wd}; not removing it")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        self._closed = True
        if errors:
            raise RuntimeError("TestNetwork teardown incomplete: " + "; ".join(errors))

    # ------------------------------------------------------------ info

    def describe(self) -> Mapping[str, Any]:
        return {
            "control": {"netns": self.control_netns, "address": self.control_address},
            "hosts": [dataclasses.asdict(h) for h in self.hosts],
            "workdir": str(self.workdir),
            "rootfs": str(self._rootfs),
        }
