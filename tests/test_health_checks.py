"""Health checks without a JVM: the hosts' cluster-info (templates/cluster-info.py.j2) speaks
RocketMQ's remoting protocol to a stand-in name server on 127.0.0.1, and a broker's rolling
restart, run by bash with stand-ins for systemd, waits on it and fails naming the host with the
logs that explain why."""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import rendering
from components.config import parse_config
from components.topology import plan_cluster
from tests.host_scripts import run_with_stand_ins
from tests.stacks import hosts_stack

GET_BROKER_CLUSTER_INFO = 106


def _frame(header: dict[str, object], body: bytes = b"") -> bytes:
    """RocketMQ's remoting frame, JSON-serialized: length, header length, header, body."""
    encoded = json.dumps(header).encode()
    return struct.pack(">II", 4 + len(encoded) + len(body), len(encoded)) + encoded + body


def read_request(conn: socket.socket) -> dict[str, Any]:
    """The JSON header of one remoting request read from ``conn`` (its body is ignored)."""
    (length,) = struct.unpack(">I", conn.recv(4, socket.MSG_WAITALL))
    payload = conn.recv(length, socket.MSG_WAITALL)
    (marked,) = struct.unpack(">I", payload[:4])
    header: dict[str, Any] = json.loads(payload[4 : 4 + (marked & 0xFFFFFF)])
    return header


class _NameServer(socketserver.BaseRequestHandler):
    """Answers GET_BROKER_CLUSTER_INFO with the server's `body`, as RocketMQ writes it (number keys
    unquoted), or with the server's `error_code`."""

    server: _Server

    def handle(self) -> None:
        request = read_request(self.request)
        self.server.requests.append(request)
        if self.server.error_code is not None or request["code"] != GET_BROKER_CLUSTER_INFO:
            answer = {"code": self.server.error_code or 1, "flag": 1, "opaque": request["opaque"], "remark": "no"}
            self.request.sendall(_frame(answer))
            return
        answer = {"code": 0, "flag": 1, "language": "JAVA", "opaque": request["opaque"], "version": 0}
        self.request.sendall(_frame(answer, self.server.body.encode()))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, body: str, error_code: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _NameServer)
        self.body = body
        self.error_code = error_code
        self.requests: list[dict[str, object]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


def _cluster_info_body(brokers: dict[str, dict[int, str]], cluster: str = "DefaultCluster") -> str:
    table = ",".join(
        f'"{name}":{{"brokerAddrs":{{{",".join(f"{i}:{json.dumps(a)}" for i, a in addrs.items())}}},'
        f'"brokerName":"{name}","cluster":"{cluster}"}}'
        for name, addrs in brokers.items()
    )
    return f'{{"brokerAddrTable":{{{table}}},"clusterAddrTable":{{"{cluster}":{json.dumps(list(brokers))}}}}}'


@pytest.fixture
def name_server() -> Iterator[_Server]:
    server = _Server(_cluster_info_body({"broker-a": {0: "10.0.0.9:10911", 1: "10.0.0.10:10911"}}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def cluster_info(tmp_path: Path) -> Path:
    script = tmp_path / "cluster-info"
    script.write_text(rendering.render_cluster_info())
    script.chmod(0o755)
    return script


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=30, check=False)


def test_cluster_info_prints_every_registered_broker(cluster_info: Path, name_server: _Server) -> None:
    result = _run(str(cluster_info), name_server.address)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "DefaultCluster broker-a 0 10.0.0.9:10911",
        "DefaultCluster broker-a 1 10.0.0.10:10911",
    ]
    assert name_server.requests[0]["code"] == GET_BROKER_CLUSTER_INFO


def test_cluster_info_joins_what_the_name_servers_know(cluster_info: Path, name_server: _Server) -> None:
    """A name server that does not answer is named; the others' brokers still count."""
    silent = f"127.0.0.1:{_free_port()}"
    result = _run(str(cluster_info), f"{silent};{name_server.address}")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert silent in result.stderr


def test_cluster_info_fails_when_no_name_server_answers(cluster_info: Path) -> None:
    unused = f"127.0.0.1:{_free_port()}"
    result = _run(str(cluster_info), unused)
    assert result.returncode == 1 and result.stdout == ""
    assert unused in result.stderr


def test_cluster_info_takes_an_error_answer_as_no_answer(cluster_info: Path) -> None:
    server = _Server("{}", error_code=17)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = _run(str(cluster_info), server.address)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "answered code 17" in result.stderr


# ------------------------------------------------- a broker's rolling restart, waiting on cluster-info

FAKE_SYSTEMCTL = """#!/bin/bash
case $1 in
  restart) : >"$STATE/restarted" ;;
  is-failed) exit 1 ;;
  status) echo "rocketmq-broker.service - active (running)" ;;
esac
"""
FAKE_JOURNALCTL = """#!/bin/bash
echo "2026-12-02T00:00:00 n1 start[42]: java.net.BindException: Address already in use"
"""


def _rollout(
    tmp_path: Path,
    cluster_info: Path,
    namesrv: str,
    *,
    address: str = "10.0.0.9",
    proxy_port: int | None = None,
    health_only: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """A broker's rolling restart (with a proxy on `proxy_port`, else none); with `health_only`,
    only its health check, called with that argument."""
    proxy: dict[str, Any] = {"proxy": "none"} if proxy_port is None else {"proxyGrpcPort": proxy_port}
    cfg = parse_config(hosts_stack("single-master", readyTimeoutSeconds=30, **proxy))
    node = plan_cluster(cfg).broker_nodes[0]
    script = rendering.render_broker_rollout(cfg, node, "n1", address, namesrv, master_endpoint=None)
    if health_only is not None:
        end = "# --- end of health checks ---\n"
        script = script[: script.index(end) + len(end)] + f"wait_healthy {health_only}\n"
    state, bin_dir, logs = tmp_path / "state", tmp_path / "bin", tmp_path / "logs"
    for directory in (state, bin_dir, logs):
        directory.mkdir()
    pending = state / "restart-pending-broker"
    pending.touch()
    (logs / "broker.log").write_text("INFO boot\nERROR registerBroker to name server failed\n")
    for name, text in (("systemctl", FAKE_SYSTEMCTL), ("journalctl", FAKE_JOURNALCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    script = (
        script.replace(rendering.CLUSTER_INFO, str(cluster_info))
        .replace("/var/lib/rocketmq/restart-pending-broker", str(pending))
        .replace(rendering.LOG_DIR, str(logs))
        .replace("READY_TIMEOUT=30\n", "READY_TIMEOUT=3\n")
    )
    return run_with_stand_ins(script, bin_dir, state)


def test_a_restarted_broker_is_healthy_once_the_name_servers_list_it(
    tmp_path: Path, cluster_info: Path, name_server: _Server
) -> None:
    result = _rollout(tmp_path, cluster_info, name_server.address)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "restarted").exists()
    assert not (tmp_path / "state" / "restart-pending-broker").exists()
    assert "broker broker-a/0 registered as 10.0.0.9:10911 in cluster DefaultCluster" in result.stdout + result.stderr


def test_a_broker_that_never_registers_fails_naming_the_host_with_its_logs(
    tmp_path: Path, cluster_info: Path, name_server: _Server
) -> None:
    name_server.body = _cluster_info_body({"broker-a": {0: "10.0.0.77:10911"}})  # someone else's broker-a
    result = _rollout(tmp_path, cluster_info, name_server.address)
    assert result.returncode != 0
    error = result.stderr
    assert "RocketMQ broker broker-a/0 on n1 (10.0.0.9) is not healthy" in error, error
    assert f"broker-a/0 at 10.0.0.9:10911 is not in clusterList of {name_server.address}" in error
    assert "Address already in use" in error  # the journal's explanation
    assert "registerBroker to name server failed" in error  # and the broker's own log
    assert (tmp_path / "state" / "restart-pending-broker").exists(), "a failed restart stays pending"


@pytest.fixture
def local_broker(name_server: _Server) -> _Server:
    name_server.body = _cluster_info_body({"broker-a": {0: "127.0.0.1:10911"}})
    return name_server


def test_a_restarted_broker_with_a_proxy_is_healthy_once_the_proxy_answers(
    tmp_path: Path, cluster_info: Path, local_broker: _Server
) -> None:
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen()
        port = proxy.getsockname()[1]
        result = _rollout(tmp_path, cluster_info, local_broker.address, address="127.0.0.1", proxy_port=port)
    assert result.returncode == 0, result.stderr
    assert f"its proxy answers on 127.0.0.1:{port}" in result.stdout + result.stderr


def test_a_restarted_broker_whose_proxy_never_answers_fails(
    tmp_path: Path, cluster_info: Path, local_broker: _Server
) -> None:
    port = _free_port()
    result = _rollout(tmp_path, cluster_info, local_broker.address, address="127.0.0.1", proxy_port=port)
    assert result.returncode != 0
    assert f"is not healthy: the proxy does not answer on 127.0.0.1:{port}" in result.stderr, result.stderr


def test_a_broker_running_older_files_is_not_asked_for_a_proxy(
    tmp_path: Path, cluster_info: Path, local_broker: _Server
) -> None:
    """The configure step leaves a running broker on its older files (4.9.x, or proxy none) until the
    rolling restart: its health is what those files made, without the new proxy."""
    port = _free_port()
    result = _rollout(
        tmp_path, cluster_info, local_broker.address, address="127.0.0.1", proxy_port=port, health_only="older-files"
    )
    assert result.returncode == 0, result.stderr
    assert "proxy" not in result.stdout + result.stderr
    configure = rendering.render_broker_script(
        parse_config(hosts_stack("single-master")),
        plan_cluster(parse_config(hosts_stack("single-master"))).broker_nodes[0],
        "n1",
        "10.0.0.9",
        "10.0.0.1:9876",
    )
    assert "if [[ -f $RESTART_PENDING ]]; then wait_healthy older-files; else wait_healthy; fi" in configure


def test_cluster_info_is_clean_python(tmp_path: Path) -> None:
    """It runs on the hosts' own Python (3.9 on EL 9): ruff keeps it to the project's standard."""
    script = tmp_path / "cluster_info.py"
    script.write_text(rendering.render_cluster_info())
    for check in (["check", "--no-cache", "--target-version", "py39"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *check, str(script)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
