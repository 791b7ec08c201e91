"""End-to-end checks of the Maven-Central-built RocketMQ release (loopback only).

Each test unpacks the zip built by ``rocketmq_dist.build_dist`` into a temp
dir, starts the servers with the zip's own ``bin/`` launchers and talks to
them with ``mqadmin`` and the ``RmqCheck`` client.

Networking: when ``unshare -n`` works (root), every process runs inside a
private network namespace that only has ``lo``, so even sockets RocketMQ
binds to the wildcard address (4.x remoting, the HA port) are reachable on
loopback only.  Without it, 5.x servers are told ``bindAddress=127.0.0.1``
and the tests that need wildcard binds are skipped.

Cleanup: every process is started in its own session and is ended by PID
(its process group) in ``finally`` blocks.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.e2e import rocketmq_dist as rd
from tests.e2e.cluster_harness import wait_until

pytestmark = pytest.mark.e2e

V5 = os.environ.get("RMQ_TEST_VERSION", rd.DEFAULT_VERSION)
V4 = os.environ.get("RMQ_TEST_VERSION_4X", "4.9.7")  # 4.9.8 namesrv/broker are not on Maven Central
SMALL_HEAP = "-Xms128m -Xmx256m"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


class NetNs:
    """A private network namespace (only ``lo``) held open by a sleeper."""

    def __init__(self) -> None:
        self.holder: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
            return False
        try:
            proc = subprocess.Popen(
                ["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 3600"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return False
        self.holder = proc
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.holder = None
                return False
            probe = subprocess.run(self.wrap(["ip", "-o", "link"]), capture_output=True, text=True)
            if (
                probe.returncode == 0
                and "lo:" in probe.stdout
                and "state UNKNOWN" in probe.stdout
                and probe.stdout.count("\n") == 1
            ):
                return True
            time.sleep(0.1)
        self.stop()
        return False

    def wrap(self, cmd: Sequence[str]) -> list[str]:
        if self.holder is None:
            return list(cmd)
        return ["nsenter", "-t", str(self.holder.pid), "-n", "--", *cmd]

    def stop(self) -> None:
        if self.holder is not None:
            _kill_tree(self.holder.pid)
            self.holder = None


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _kill_tree(pid: int, grace: float = 20.0) -> None:
    """SIGTERM ``pid`` and its descendants, SIGKILL what is left after ``grace``."""
    pids = [pid, *_descendants(pid)]
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for p in pids:
        if _alive(p):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
    for p in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(p, os.WNOHANG)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _java_pids_of(main_class: str) -> list[int]:
    """Every java process on the host running ``main_class`` (what mqshutdown sees)."""
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "java" and main_class.encode() in cmdline:
            out.append(int(entry.name))
    return out


def _port_block_free(base: int) -> bool:
    for port in (base - 2, base - 1, base, base + 1):  # fastListenPort, -, listenPort, haListenPort
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _pick_ports(n: int) -> list[int]:
    """``n`` port bases, each with base-2..base+1 free, spaced 10 apart."""
    rng = random.Random()
    while True:
        start = rng.randrange(20000, 60000, 10)
        bases = [start + 10 * i for i in range(n)]
        if all(_port_block_free(b) for b in bases):
            return bases


class Cluster:
    """Processes of one test, all started by us and ended by PID."""

    def __init__(self, home: Path, netns: NetNs, version: str) -> None:
        self.root = home
        self.netns = netns
        self.version = version
        self.rocketmq_home = _unpack(version, home / "dist")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.client_cp = rd.build_client(version)

    # -- env ------------------------------------------------------------
    def env(self, user_home: Path) -> dict[str, str]:
        user_home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["HOME"] = str(user_home)
        env["JAVA_OPT_EXT"] = f"-Duser.home={user_home} {SMALL_HEAP}"
        env.pop("NAMESRV_ADDR", None)
        return env

    @property
    def bind_line(self) -> str:
        # 5.x remoting servers can be pinned to loopback; 4.x cannot.
        return "bindAddress=127.0.0.1\n" if rd.is_5x(self.version) else ""

    # -- servers --------------------------------------------------------
    def start(self, name: str, script: str, args: Sequence[str], user_home: Path) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.out").open("wb")
        cmd = self.netns.wrap(["bash", str(self.rocketmq_home / "bin" / script), *args])
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env(user_home), cwd=self.root, start_new_session=True
        )
        log.close()
        self.procs[name] = proc
        return proc

    def output(self, name: str) -> str:
        return (self.root / f"{name}.out").read_text(errors="replace")

    def wait_output(self, name: str, needle: str, timeout: float = 90.0) -> float:
        started = time.monotonic()
        proc = self.procs[name]
        while time.monotonic() - started < timeout:
            if needle in self.output(name):
                return time.monotonic() - started
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{name}: {needle!r} not seen (rc={proc.poll()}):\n{self.output(name)[-3000:]}")

    def start_namesrv(self, port: int) -> str:
        conf = self.root / "namesrv.conf"
        conf.write_text(f"listenPort={port}\n{self.bind_line}")
        self.start("namesrv", "mqnamesrv", ["-c", str(conf)], self.root / "home-namesrv")
        return f"127.0.0.1:{port}"

    def start_broker(
        self, name: str, namesrv: str, port: int, *, broker_id: int = 0, role: str = "ASYNC_MASTER", extra: str = ""
    ) -> Path:
        store = self.root / f"store-{name}"
        conf = self.root / f"{name}.conf"
        conf.write_text(
            "brokerClusterName=DefaultCluster\n"
            "brokerName=broker-a\n"
            f"brokerId={broker_id}\n"
            f"brokerRole={role}\n"
            "flushDiskType=ASYNC_FLUSH\n"
            "brokerIP1=127.0.0.1\n"
            "brokerIP2=127.0.0.1\n"
            f"listenPort={port}\n"
            f"haListenPort={port + 1}\n"
            f"storePathRootDir={store}\n"
            f"storePathCommitLog={store}/commitlog\n"
            "autoCreateTopicEnable=true\n"
            f"{self.bind_line}"
            f"{extra}"
        )
        self.start(name, "mqbroker", ["-c", str(conf), "-n", namesrv], self.root / f"home-{name}")
        return conf

    def jvm_pid(self, name: str) -> int:
        for pid in _descendants(self.procs[name].pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
                    return pid
            except OSError:
                continue
        raise AssertionError(f"no JVM under {name}")

    # -- tools ----------------------------------------------------------
    def run(self, cmd: Sequence[str], user_home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.netns.wrap(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(user_home),
            cwd=self.root,
        )

    def mqadmin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(["bash", str(self.rocketmq_home / "bin" / "mqadmin"), *args], self.root / "home-tools")

    def client(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.run(rd.client_command(self.client_cp, *args), self.root / "home-client", timeout)

    def wait_cluster(self, namesrv: str, addrs: Sequence[str], timeout: float = 60) -> tuple[float, str]:
        started = time.monotonic()
        out = ""
        while time.monotonic() - started < timeout:
            out = self.mqadmin("clusterList", "-n", namesrv).stdout
            if all(a in out for a in addrs):
                return time.monotonic() - started, out
            time.sleep(1)
        raise AssertionError(f"brokers {addrs} not in clusterList:\n{out}")

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            _kill_tree(proc.pid)
            proc.wait(timeout=30)


def _unpack(version: str, dest: Path) -> Path:
    dist = rd.build_dist(version)
    dest.mkdir(parents=True, exist_ok=True)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(dist.zip_path), "-d", str(dest)], check=True)
    else:  # zipfile drops permissions: restore them from the zip
        with zipfile.ZipFile(dist.zip_path) as zf:
            for info in zf.infolist():
                zf.extract(info, dest)
                mode = info.external_attr >> 16 & 0o777
                if mode:
                    os.chmod(dest / info.filename, mode)
    return dest / str(dist.folder)


def _timed(label: str, started: float) -> None:
    print(f"[timing] {label}: {time.monotonic() - started:.1f}s")


@pytest.fixture()
def netns() -> Iterator[NetNs]:
    ns = NetNs()
    ns.start()
    try:
        yield ns
    finally:
        ns.stop()


def _require_isolation(netns: NetNs, why: str) -> None:
    if netns.holder is None:
        pytest.skip(f"needs a private network namespace (unshare -n): {why}")


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V5, V4])
def test_zip_layout_and_checksum(version: str, tmp_path: Path) -> None:
    started = time.monotonic()
    dist = rd.build_dist(version, tmp_path / "mirror")
    _timed(f"build_dist({version}) incl. cache", started)
    assert dist.zip_path == tmp_path / "mirror" / "rocketmq" / version / f"rocketmq-all-{version}-bin-release.zip"
    line = dist.sha512_path.read_text()
    assert re.fullmatch(r"[0-9a-f]{128}  rocketmq-all-" + re.escape(version) + r"-bin-release\.zip\n", line)
    check = subprocess.run(
        ["sha512sum", "-c", dist.sha512_path.name], cwd=dist.zip_path.parent, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr

    folder = f"rocketmq-all-{version}-bin-release" if version.startswith("5") else f"rocketmq-{version}"
    assert dist.folder == folder
    with zipfile.ZipFile(dist.zip_path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert all(name.startswith(folder + "/") for name in infos)
    for script in ("mqnamesrv", "mqbroker", "mqshutdown", "mqadmin", "runserver.sh", "runbroker.sh", "tools.sh"):
        info = infos[f"{folder}/bin/{script}"]
        assert info.external_attr >> 16 & 0o777 == 0o755, script
    for artifact in rd.SERVER_ARTIFACTS:
        assert f"{folder}/lib/{artifact}-{version}.jar" in infos
    conf = {n.rsplit("/", 1)[1] for n in infos if n.startswith(f"{folder}/conf/") and not n.endswith("/")}
    if rd.is_5x(version):
        assert {"broker.conf", "rmq.namesrv.logback.xml", "rmq.broker.logback.xml", "rmq.tools.logback.xml"} <= conf
    else:
        assert {"broker.conf", "logback_namesrv.xml", "logback_broker.xml", "logback_tools.xml"} <= conf

    # deterministic: a forced rebuild gives the same bytes
    again = rd.build_dist(version, force=True)
    assert again.sha512 == dist.sha512


def test_single_broker_roundtrip(tmp_path: Path, netns: NetNs) -> None:
    cluster = Cluster(tmp_path, netns, V5)
    ns_port, broker_port = _pick_ports(2)
    try:
        t0 = time.monotonic()
        namesrv = cluster.start_namesrv(ns_port)
        print(f"[timing] namesrv boot: {cluster.wait_output('namesrv', 'boot success'):.1f}s")
        cluster.start_broker("broker", namesrv, broker_port)
        print(f"[timing] broker boot: {cluster.wait_output('broker', 'boot success'):.1f}s")
        waited, listing = cluster.wait_cluster(namesrv, [f"127.0.0.1:{broker_port}"])
        _timed(f"namesrv+broker start to clusterList (broker listed after {waited:.1f}s more)", t0)
        assert "broker-a" in listing and "DefaultCluster" in listing
        print(listing)
        logs = tmp_path / "home-broker" / "logs" / "rocketmqlogs"
        assert (logs / "broker.log").is_file(), sorted(os.listdir(logs))
        assert (tmp_path / "home-namesrv" / "logs" / "rocketmqlogs" / "namesrv.log").is_file()

        created = cluster.mqadmin("updateTopic", "-n", namesrv, "-c", "DefaultCluster", "-t", "E2E_T1")
        assert "success" in created.stdout, created.stdout + created.stderr

        # mqadmin exits 0 even when it fails (like the release).
        failed = cluster.mqadmin("clusterList", "-n", f"127.0.0.1:{ns_port + 5}")
        assert failed.returncode == 0
        assert "Exception" in failed.stdout + failed.stderr

        t = time.monotonic()
        produced = cluster.client("produce", namesrv, "E2E_T1", "1000")
        _timed("produce 1000 (incl. JVM start)", t)
        assert produced.returncode == 0 and "SENT 1000 0" in produced.stdout, produced.stdout + produced.stderr
        t = time.monotonic()
        consumed = cluster.client("consume", namesrv, "E2E_T1", "e2e_group", "1000", "90")
        _timed("consume 1000 (incl. JVM start)", t)
        assert consumed.returncode == 0 and "RECEIVED 1000" in consumed.stdout, consumed.stdout + consumed.stderr

        ns_jvm, broker_jvm = cluster.jvm_pid("namesrv"), cluster.jvm_pid("broker")
        print(f"[memory] RSS namesrv {_rss_kib(ns_jvm) // 1024} MiB, broker {_rss_kib(broker_jvm) // 1024} MiB")

        # mqshutdown signals *every* broker/namesrv JVM on the host: only use
        # it when the only ones are ours.
        for role, jvm, main in (
            ("broker", broker_jvm, "org.apache.rocketmq.broker.BrokerStartup"),
            ("namesrv", ns_jvm, "org.apache.rocketmq.namesrv.NamesrvStartup"),
        ):
            others = [p for p in _java_pids_of(main) if p != jvm]
            t = time.monotonic()
            if others:
                print(f"[note] other {role} JVMs on this host {others}: SIGTERM ours instead of mqshutdown")
                os.kill(jvm, signal.SIGTERM)
            else:
                res = subprocess.run(
                    ["bash", str(cluster.rocketmq_home / "bin" / "mqshutdown"), role],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                ps = subprocess.run(["ps", "-eo", "pid=,comm=,args="], capture_output=True, text=True).stdout
                assert res.returncode == 0 and f"({jvm})" in res.stdout, (
                    res.stdout + res.stderr + "\n".join(ln[:150] for ln in ps.splitlines() if "rocketmq" in ln)
                )
                assert time.monotonic() - t < 10, "mqshutdown should return at once"
            cluster.procs[role].wait(timeout=60)
            assert not _alive(jvm)
            _timed(f"{role} exit after SIGTERM", t)
        again = subprocess.run(
            ["bash", str(cluster.rocketmq_home / "bin" / "mqshutdown"), "namesrv"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if not _java_pids_of("org.apache.rocketmq.namesrv.NamesrvStartup"):
            assert again.returncode != 0 and "No mqnamesrv running" in again.stdout
    finally:
        cluster.stop_all()


def _start_master_and_slave(cluster: Cluster) -> tuple[str, str, str]:
    """namesrv, master and slave of broker-a; returns their addresses once both are listed."""
    ns_port, master_port, slave_port = _pick_ports(3)
    namesrv = cluster.start_namesrv(ns_port)
    cluster.wait_output("namesrv", "boot success")
    # 5.x slaves answer pulls only with slaveReadEnable=true (4.x always
    # did); without it consumers get "[REJECTREQUEST]system busy" from
    # the slave once the master is gone.
    read = "slaveReadEnable=true\n"
    cluster.start_broker("master", namesrv, master_port, extra=read)
    cluster.start_broker("slave", namesrv, slave_port, broker_id=1, role="SLAVE", extra=read)
    cluster.wait_output("master", "boot success")
    cluster.wait_output("slave", "boot success")
    master, slave = f"127.0.0.1:{master_port}", f"127.0.0.1:{slave_port}"
    waited, listing = cluster.wait_cluster(namesrv, [master, slave])
    print(f"[timing] master+slave listed {waited:.1f}s after boot\n{listing}")
    assert re.search(r"broker-a\s+1\s+" + re.escape(slave), listing), listing
    return namesrv, master, slave


def _offsets(cluster: Cluster, namesrv: str, broker: str, topic: str, group: str) -> dict[int, tuple[int, int]]:
    stats = cluster.mqadmin("brokerConsumeStats", "-n", namesrv, "-b", broker).stdout
    return rd.consumer_offsets(stats, topic, group)


def _commitlog_offset(cluster: Cluster, namesrv: str, broker: str) -> int:
    return rd.commitlog_max_offset(cluster.mqadmin("brokerStatus", "-n", namesrv, "-b", broker).stdout)


def test_existing_group_resumes_on_the_slave_after_the_master_stops(tmp_path: Path, netns: NetNs) -> None:
    _require_isolation(netns, "the HA port binds the wildcard address")
    cluster = Cluster(tmp_path, netns, V5)
    topic, group = "E2E_HA", "e2e_old_group"
    try:
        namesrv, master, slave = _start_master_and_slave(cluster)
        created = cluster.mqadmin("updateTopic", "-n", namesrv, "-c", "DefaultCluster", "-t", topic)
        assert "success" in created.stdout, created.stdout
        produced = cluster.client("produce", namesrv, topic, "200")
        assert "SENT 200 0" in produced.stdout, produced.stdout + produced.stderr
        first = cluster.client("consume", namesrv, topic, group, "200", "60")
        assert "RECEIVED 200" in first.stdout, first.stdout + first.stderr
        committed: dict[int, tuple[int, int]] = {}

        def master_has_all_offsets() -> bool:
            committed.update(_offsets(cluster, namesrv, master, topic, group))
            return bool(committed) and all(b == c for b, c in committed.values())

        wait_until(master_has_all_offsets, 60, f"{group}'s offsets on the master")
        second = cluster.client("produce", namesrv, topic, "100", "--verbose")
        assert "SENT 100 0" in second.stdout, second.stdout + second.stderr
        new_keys = set(rd.keys_in(second.stdout, "KEY"))
        assert len(new_keys) == 100

        committed_offsets = {q: c for q, (_, c) in committed.items()}

        def slave_caught_up() -> bool:
            # The commit log streams to the slave; topic configs and consumer offsets
            # are copied from the master only about once a minute.
            on_slave = _offsets(cluster, namesrv, slave, topic, group)
            if {q: c for q, (_, c) in on_slave.items()} != committed_offsets:
                return False
            return _commitlog_offset(cluster, namesrv, master) == _commitlog_offset(cluster, namesrv, slave)

        started = time.monotonic()
        wait_until(slave_caught_up, 180, f"the slave to hold {topic}, {group}'s offsets and the whole commit log")
        waited = time.monotonic() - started
        print(f"[timing] slave caught up with topic, offsets and commit log: {waited:.1f}s")

        master_jvm = cluster.jvm_pid("master")
        os.kill(master_jvm, signal.SIGTERM)
        cluster.procs["master"].wait(timeout=60)
        assert not _alive(master_jvm)
        route = cluster.mqadmin("topicRoute", "-n", namesrv, "-t", topic).stdout
        assert master not in route and slave in route, route

        t = time.monotonic()
        rest = cluster.client("consume", namesrv, topic, group, "100", "90", "--verbose")
        _timed("existing group reads the 100 new messages from the slave", t)
        # Exactly the new ones: the group resumes where it stopped, nothing is re-read or skipped.
        assert set(rd.keys_in(rest.stdout, "GOT")) == new_keys, rest.stdout[-3000:] + rest.stderr
        fresh = cluster.client("consume", namesrv, topic, "e2e_new_group", "300", "90")
        assert fresh.returncode == 0 and "RECEIVED 300" in fresh.stdout, fresh.stdout[-3000:] + fresh.stderr
    finally:
        cluster.stop_all()


def test_5_5_0_slaves_never_copy_consumer_offsets(tmp_path: Path, netns: NetNs) -> None:
    """Why the program refuses 5.5.0 with slaves (apache/rocketmq#10284)."""
    _require_isolation(netns, "the HA port binds the wildcard address")
    cluster = Cluster(tmp_path, netns, "5.5.0")
    topic, group = "E2E_OFFSETS", "e2e_group"
    try:
        namesrv, master, slave = _start_master_and_slave(cluster)
        cluster.mqadmin("updateTopic", "-n", namesrv, "-c", "DefaultCluster", "-t", topic)
        assert "SENT 20 0" in cluster.client("produce", namesrv, topic, "20").stdout
        assert "RECEIVED 20" in cluster.client("consume", namesrv, topic, group, "20", "60").stdout
        wait_until(lambda: bool(_offsets(cluster, namesrv, master, topic, group)), 60, "offsets on the master")
        slave_log = tmp_path / "home-slave" / "logs" / "rocketmqlogs" / "broker.log"
        wait_until(
            lambda: slave_log.is_file() and "SyncConsumerOffset Exception" in slave_log.read_text(errors="replace"),
            150,
            "the slave's offset sync to fail",
        )
        assert "not support unquoted name" in slave_log.read_text(errors="replace")
        assert _offsets(cluster, namesrv, slave, topic, group) == {}
    finally:
        cluster.stop_all()


def test_4x_namesrv_and_broker_start_on_this_jdk(tmp_path: Path, netns: NetNs) -> None:
    _require_isolation(netns, "4.x servers cannot bind to loopback only")
    cluster = Cluster(tmp_path, netns, V4)
    ns_port, broker_port = _pick_ports(2)
    try:
        namesrv = cluster.start_namesrv(ns_port)
        print(f"[timing] 4.x namesrv boot: {cluster.wait_output('namesrv', 'boot success'):.1f}s")
        assert (tmp_path / "home-namesrv" / "logs" / "rocketmqlogs" / "namesrv.log").is_file()
        cluster.start_broker("broker", namesrv, broker_port)
        cluster.wait_output("broker", "boot success")
        cluster.wait_cluster(namesrv, [f"127.0.0.1:{broker_port}"])
        cluster.mqadmin("updateTopic", "-n", namesrv, "-c", "DefaultCluster", "-t", "E2E_4X")
        produced = cluster.client("produce", namesrv, "E2E_4X", "100")
        assert "SENT 100 0" in produced.stdout, produced.stdout + produced.stderr
        consumed = cluster.client("consume", namesrv, "E2E_4X", "e2e_group", "100", "60")
        assert "RECEIVED 100" in consumed.stdout, consumed.stdout + consumed.stderr
    finally:
        cluster.stop_all()
