"""The parts of target local's machine runtime (localhosts/) that need no root: names, ports,
preflight, the mirror decision and the command line."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localhosts import __main__ as cli
from localhosts import local_machines, machine, mirror
from localhosts.local_machines import LocalTargetError


def test_machine_names_are_valid_host_names() -> None:
    assert local_machines.machine_name("rocketmq-local", "broker-a-0") == "rmq-rocketmq-local-broker-a-0"
    assert local_machines.machine_name("Org/Proj_X-dev", "ns-1") == "rmq-org-proj-x-dev-ns-1"
    long = local_machines.machine_name("x" * 80, "ns-1")
    assert len(long) <= 64 and not long.endswith("-")


def test_each_machine_has_its_own_cgroups(tmp_path: Path) -> None:
    spec = local_machines.spec_for(tmp_path / "m", "rmq-s-ns-1", "ns-1", tmp_path / "rootfs")
    assert {h: str(p) for h, p in spec.cgroups.items()} == {
        h: f"/sys/fs/cgroup/{h}/rocketmq-local/rmq-s-ns-1" for h in ("memory", "systemd", "unified")
    }
    assert machine.MachineSpec.from_json(spec.to_json()) == spec


def test_nspawn_shares_this_machines_network_unless_given_a_namespace(tmp_path: Path) -> None:
    spec = local_machines.spec_for(tmp_path / "m", "rmq-s-ns-1", "ns-1", tmp_path / "rootfs")
    args = machine.nspawn_argv(spec)
    assert "--boot" in args and "--keep-unit" in args and f"--directory={spec.merged}" in args
    assert not [a for a in args if a.startswith(("--network", "--private-network"))]
    netns = machine.nspawn_argv(machine.MachineSpec(**{**spec.__dict__, "netns_path": "/run/netns/x"}))
    assert "--network-namespace-path=/run/netns/x" in netns


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_fails_clearly(listener: int) -> None:
    assert local_machines.port_taken(listener)
    with pytest.raises(LocalTargetError) as raised:
        local_machines.check_ports_free([("broker listenPort", listener)], "rmq-s-broker-a-0")
    message = str(raised.value)
    assert message.startswith(f"port {listener} (broker listenPort of rmq-s-broker-a-0) is already in use")
    assert "\n" not in message


def test_connections_waiting_out_time_wait_do_not_hold_a_port() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end waits in TIME_WAIT
    client.close()
    server.close()
    assert not local_machines.port_taken(port)


def test_free_ports_pass() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    local_machines.check_ports_free([("sshd", free)], "m")


def test_preflight_names_root_then_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    problem = local_machines.preflight_problem()
    assert problem is not None and "needs root" in problem and "\n" not in problem
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "systemd-nspawn" else "/bin/x")
    problem = local_machines.preflight_problem()
    assert problem is not None and "systemd-container" in problem and "setup-host-tools.sh" in problem
    monkeypatch.setattr(shutil, "which", lambda tool: "/bin/x")
    assert local_machines.preflight_problem() is None


@pytest.fixture
def apache_mirror(tmp_path: Path) -> Iterator[str]:
    release = tmp_path / "rocketmq" / "5.4.0"
    release.mkdir(parents=True)
    (release / "rocketmq-all-5.4.0-bin-release.zip.sha512").write_text("x: AB\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_mirror_that_answers_is_used_as_it_is(apache_mirror: str, tmp_path: Path) -> None:
    assert mirror.start(apache_mirror, "5.4.0", tmp_path / "state", port=1) == apache_mirror
    assert not (tmp_path / "state").exists()  # no local mirror was made


def test_no_mirror_and_no_vendored_tree_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, listener: int
) -> None:
    monkeypatch.setenv("RMQ_VENDOR_DIR", str(tmp_path / "no-vendor"))
    dead = f"http://127.0.0.1:{listener}"  # accepts connections, never answers
    with pytest.raises(LocalTargetError, match=r"does not answer .* set rocketmq:mirror"):
        mirror.start(dead, "5.4.0", tmp_path / "state", port=1)


def test_cli_says_one_line_when_it_cannot_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(local_machines, "preflight_problem", lambda: "rocketmq:target local needs root")
    assert cli.main(["rootfs"]) == 1
    assert capsys.readouterr().err == "rocketmq: rocketmq:target local needs root\n"


def test_removing_empty_parents_stops_at_the_local_dir_and_tolerates_races(tmp_path: Path) -> None:
    machines = tmp_path / "local" / "rocketmq-s" / "machines"
    (machines / "ns-1").mkdir(parents=True)
    (machines / "broker-a-0").mkdir()
    (machines / "ns-1").rmdir()  # what delete removed
    local_machines.remove_empty_parents(machines / "ns-1")  # machines/ still holds broker-a-0
    assert (machines / "broker-a-0").is_dir()
    (machines / "broker-a-0").rmdir()
    local_machines.remove_empty_parents(machines / "broker-a-0")
    assert not (tmp_path / "local" / "rocketmq-s").exists() and (tmp_path / "local").is_dir()
    local_machines.remove_empty_parents(machines / "ns-1")  # a parallel delete removed them already
