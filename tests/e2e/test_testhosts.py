"""End-to-end checks of the nspawn test-host infrastructure (testhosts.py).

Run as root:  pytest -p no:cacheprovider -m e2e -s tests/e2e/test_testhosts.py

The ``e2e`` marker is meant to be registered in the project's pytest config
(``[tool.pytest.ini_options] markers = ["e2e: ..."]``).  The module fixture
installs the host tools and builds the cached rootfs on a fresh machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localhosts import machine, system

from . import testhosts
from .testhosts import TestNetwork

pytestmark = pytest.mark.e2e

TIMINGS: dict[str, float | str] = {}


def _require_root() -> None:
    if sys.platform != "linux":
        pytest.skip("e2e test hosts need Linux")
    if os.geteuid() != 0:
        pytest.skip("e2e test hosts need root (netns, overlayfs, systemd-nspawn)")


@pytest.fixture(scope="module")
def rootfs() -> Path:
    _require_root()
    testhosts.setup_host_tools()
    for tool in ("systemd-nspawn", "debootstrap", "ssh", "ip", "nsenter"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing after setup-host-tools.sh")
    t0 = time.monotonic()
    path = testhosts.build_rootfs()
    TIMINGS["build_rootfs_s (0 = cached)"] = round(time.monotonic() - t0, 2)
    return path


@pytest.fixture(scope="module")
def net(rootfs: Path) -> Iterator[TestNetwork]:
    t0 = time.monotonic()
    with TestNetwork(3, rootfs=rootfs, boot=False) as network:
        TIMINGS["network_setup_s"] = round(time.monotonic() - t0, 2)
        ready = network.start_all()
        for name, secs in sorted(ready.items()):
            TIMINGS[f"boot_to_ready_s[{name}]"] = round(secs, 2)
        yield network
    print("\n==== e2e test host timings ====")
    for k, v in TIMINGS.items():
        print(f"  {k}: {v}")


def test_ssh_and_passwordless_sudo(net: TestNetwork) -> None:
    for h in net.hosts:
        res = net.ssh(h, "sudo -n true && id -un && hostname && java -version 2>&1")
        assert res.returncode == 0, res
        user, hostname, java = res.stdout.split("\n", 2)
        assert user == "deploy"
        assert hostname == h.name
        assert 'version "17' in java


def test_password_login_is_refused(net: TestNetwork) -> None:
    h = net.hosts[0]
    res = net.run_in_control(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            f"UserKnownHostsFile={net.known_hosts_path}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=5",
            f"deploy@{h.address}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 255
    assert "Permission denied (publickey)" in res.stderr


def test_hosts_reach_each_other(net: TestNetwork) -> None:
    # Every host reaches every other host's sshd by address and by name.
    for a in net.hosts:
        for b in net.hosts:
            if a is b:
                continue
            for target in (b.address, b.name):
                cmd = f"timeout 5 bash -c 'exec 3<>/dev/tcp/{target}/22; head -c 7 <&3'"
                res = net.ssh(a, cmd)
                assert res.stdout == "SSH-2.0", (a, b, target, res)

    # A TCP server opened on host2 answers host1.
    server, client = net.hosts[1], net.hosts[0]
    listener = textwrap.dedent(
        """
        import socket
        s = socket.create_server(("0.0.0.0", 9555))
        c, peer = s.accept()
        c.sendall(("hello " + peer[0]).encode())
        c.close()
        """
    )
    net.ssh(
        server,
        "sudo systemd-run --quiet --unit=e2e-listener python3 -c " + _sh_quote(listener),
        check=True,
    )
    probe = textwrap.dedent(
        f"""
        import socket, time
        for _ in range(100):
            try:
                c = socket.create_connection(("{server.address}", 9555), timeout=5)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        print(c.recv(100).decode())
        """
    )
    res = net.ssh(client, "python3 -c " + _sh_quote(probe), check=True)
    assert res.stdout.strip() == f"hello {client.address}"


def test_http_server_in_control_namespace(net: TestNetwork, tmp_path: Path) -> None:
    (tmp_path / "artifact.txt").write_text("rocketmq-artifact\n")
    proc = net.spawn_in_control(
        [sys.executable, "-m", "http.server", "8000", "--bind", net.control_address, "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for h in net.hosts:
            res = net.ssh(
                h,
                "curl -fsS --retry 20 --retry-delay 0 --retry-connrefused "
                f"http://{net.control_address}:8000/artifact.txt "
                "http://ctl:8000/artifact.txt",
            )
            assert res.returncode == 0, res
            assert res.stdout == "rocketmq-artifact\n" * 2
    finally:
        rc = TestNetwork.stop_process(proc)
    assert rc is not None
    assert not _pid_exists(proc.pid)


def test_reboot_keeps_disk_and_enabled_units(net: TestNetwork) -> None:
    h = net.hosts[2]
    unit = textwrap.dedent(
        """
        [Unit]
        Description=e2e reboot probe
        After=network.target

        [Service]
        ExecStartPre=/bin/sh -c 'date +%%s.%%N >> /var/lib/e2e-boots'
        ExecStart=/usr/bin/python3 -m http.server 8088 --directory /var/lib
        Restart=on-failure

        [Install]
        WantedBy=multi-user.target
        """
    )
    net.ssh(
        h,
        "sudo tee /etc/systemd/system/e2e-probe.service >/dev/null"
        " && sudo systemctl daemon-reload"
        " && sudo systemctl enable --now --quiet e2e-probe.service"
        " && echo persisted > ~/before-reboot.txt",
        input=unit,
        check=True,
    )
    before = net.ssh(h, "cat /proc/1/stat | cut -d' ' -f22", check=True).stdout

    TIMINGS["reboot_to_ready_s"] = round(net.reboot(h), 2)

    after = net.ssh(h, "cat /proc/1/stat | cut -d' ' -f22", check=True).stdout
    assert before != after, "PID 1 was not restarted"
    res = net.ssh(
        h,
        "cat ~/before-reboot.txt; systemctl is-enabled e2e-probe;"
        " systemctl is-active e2e-probe; wc -l < /var/lib/e2e-boots",
    )
    assert res.stdout.split() == ["persisted", "enabled", "active", "2"], res
    # The service is really serving again, to another host.
    res = net.ssh(
        net.hosts[0],
        f"curl -fsS --retry 20 --retry-delay 0 --retry-connrefused http://{h.name}:8088/e2e-boots | wc -l",
    )
    assert res.stdout.strip() == "2", res


def test_reboot_from_inside_the_host(net: TestNetwork) -> None:
    """``systemctl reboot`` on the host: nspawn exits 133, the supervisor boots it again."""
    h = net.hosts[0]
    old_leader = net.leader_pid(h)
    assert old_leader is not None
    t0 = time.monotonic()
    net.ssh(h, "sudo systemctl reboot", timeout=30)
    deadline = time.monotonic() + 60
    while net.leader_pid(h) in (None, old_leader):
        assert time.monotonic() < deadline, "host did not reboot"
        time.sleep(0.05)
    net.wait_ready(h)
    TIMINGS["in_host_reboot_to_ready_s"] = round(time.monotonic() - t0, 2)
    assert net.ssh(h, "systemctl is-system-running").stdout.strip() in ("running", "degraded")


def test_stop_and_start(net: TestNetwork) -> None:
    h = net.hosts[1]
    net.ssh(h, "echo kept | sudo tee /root/kept >/dev/null", check=True)
    t0 = time.monotonic()
    assert net.stop(h) == 0
    TIMINGS["clean_poweroff_s"] = round(time.monotonic() - t0, 2)
    assert not net.is_running(h)
    assert net.ssh(h, "true", timeout=20, connect_timeout=2).returncode == 255
    t0 = time.monotonic()
    net.start(h)
    net.wait_ready(h)
    TIMINGS["start_to_ready_s"] = round(time.monotonic() - t0, 2)
    assert net.ssh(h, "sudo cat /root/kept").stdout == "kept\n"


def test_peak_memory(net: TestNetwork) -> None:
    time.sleep(1)  # let the hosts idle a moment
    for h in net.hosts:
        peak = net.peak_memory_bytes(h)
        usage = net.memory_usage_bytes(h)
        stat = net.memory_stat(h)
        assert peak > 0 and usage > 0
        assert peak >= usage
        TIMINGS[f"idle_memory_MiB[{h.name}] usage/rss/cache/peak"] = (
            f"{usage / 2**20:.1f}/{stat['total_rss'] / 2**20:.1f}/{stat['total_cache'] / 2**20:.1f}/{peak / 2**20:.1f}"
        )
    # reset works and the high-water mark starts again from current usage
    h = net.hosts[0]
    net.reset_peak_memory(h)
    net.ssh(h, "python3 -c 'b = bytearray(64 << 20); b[::4096] = b\"x\" * (len(b) // 4096)'", check=True)
    assert net.peak_memory_bytes(h) >= 64 << 20


def test_teardown_leaves_nothing(rootfs: Path) -> None:
    """A separate small network: everything is gone after the context exits
    (and a second close() is a no-op)."""
    with TestNetwork(2, rootfs=rootfs, host_names=["td1", "td2"]) as n:
        tag = n.tag
        workdir = n.workdir
        assert workdir is not None
        nspawn_pids = [n.nspawn_pid(h) for h in n.hosts]
        supervisors = [machine.supervisor_pid(n._st(h).spec) for h in n.hosts]
        assert all(nspawn_pids) and all(supervisors)
        leaders = [n.leader_pid(h) for h in n.hosts]
        assert all(leaders)
        helper = n.spawn_in_control(["sleep", "300"])
    n.close()
    _assert_gone(tag, str(workdir), [*nspawn_pids, *supervisors, *leaders, helper.pid])  # type: ignore[list-item]


def test_failed_setup_cleans_up(tmp_path: Path) -> None:
    _require_root()
    n = TestNetwork(1, rootfs=tmp_path / "no-such-rootfs", host_names=["bad1"])
    with pytest.raises(RuntimeError, match="mount"):
        n.__enter__()
    _assert_gone(n.tag, str(n.workdir), [])


def test_crashed_run_leftovers_are_cleaned(rootfs: Path) -> None:
    """A run killed with SIGKILL leaves containers, mounts and namespaces;
    cleanup_leftovers() (called by every new TestNetwork) removes them."""
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(testhosts.__file__).parents[2])!r})
        from tests.e2e import testhosts
        n = testhosts.TestNetwork(1, rootfs={str(rootfs)!r}, host_names=["crash1"])
        n.__enter__()
        print(n.tag, n.workdir, n.leader_pid(n.hosts[0]), flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        tag, workdir, leader = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait()
    assert _pid_exists(int(leader)), "container should survive its crashed creator"
    removed = testhosts.cleanup_leftovers()
    assert any(r.startswith("netns") for r in removed), removed
    _assert_gone(tag, workdir, [int(leader)])


# -------------------------------------------------------------------------


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _assert_gone(tag: str, workdir: str, pids: list[int]) -> None:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not [n for n in netns.splitlines() if n.startswith(tag + "-")], netns
    mounts = Path("/proc/self/mountinfo").read_text()
    assert workdir not in mounts
    assert f"/{tag}-" not in mounts
    assert not Path(workdir).exists()
    for pid in pids:
        assert not _pid_exists(pid), f"pid {pid} survived teardown"
    root_addrs = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    assert not re.search(r"\b10\.251\.", root_addrs), "test address leaked to root netns"
    for hierarchy in machine.CGROUP_HIERARCHIES:
        base = system.own_cgroup(hierarchy)
        assert not (base / tag).exists()
