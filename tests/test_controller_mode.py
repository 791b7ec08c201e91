"""master-slave-auto (RocketMQ 5's controller mode): the config's limits, the controllers in the name
servers, brokers that leave their role to them, the rolling restart that hands a master's role over
first (run by bash with stand-ins), the aws network, and the `brokers` output."""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import rendering
from components.broker_pair import latest_master
from components.config import parse_config
from components.topology import plan_cluster
from tests.host_scripts import run_with_stand_ins
from tests.program_commands import broker_commands, broker_conf, namesrv_commands, rollouts, written_file
from tests.pulumi_harness import run_main_program
from tests.shell_checks import check_script
from tests.stacks import HOSTS_BY_MODE, aws_stack, hosts_stack
from tests.test_health_checks import (
    FAKE_JOURNALCTL,
    FAKE_SYSTEMCTL,
    _cluster_info_body,
    _frame,
    _Server,
    read_request,
)

AUTO = "master-slave-auto"

# Refused before any resource by test_config.py, with the other bad inputs.
BAD_INPUTS = [
    ("controllers on 4.9.x", hosts_stack(AUTO, version="4.9.7"), "rocketmq:version", "came with RocketMQ 5"),
    ("even controller count", aws_stack(AUTO, nameServers=2), "rocketmq:nameServers", "must be odd"),
    ("four controllers", aws_stack(AUTO, nameServers=4), "rocketmq:nameServers", "got 4"),
    ("one broker per group", aws_stack(AUTO, slavesPerGroup=0), "rocketmq:slavesPerGroup", "at least 1"),
    ("a proxy in each elected broker", hosts_stack(AUTO, proxy="local"), "rocketmq:proxy", "proxy: cluster"),
    (
        "controllers from brokerProperties",
        hosts_stack(AUTO, brokerProperties=json.dumps({"controllerAddr": "10.9.9.9:9878"})),
        "rocketmq:brokerProperties",
        "managed by this program",
    ),
]


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_one_controller_is_allowed_and_the_proxy_defaults_to_hosts_of_its_own() -> None:
    assert parse_config(aws_stack(AUTO, nameServers=1)).name_servers == 1  # no fault tolerance: README says so
    cfg = parse_config(aws_stack(AUTO))
    assert cfg.proxy is not None and (cfg.proxy.mode, cfg.proxy.hosts) == ("cluster", 2)
    assert parse_config(hosts_stack(AUTO)).proxy is None  # on hosts: no host is marked proxy: true


def test_every_name_server_runs_a_controller_of_one_raft_group() -> None:
    run = run_main_program(hosts_stack(AUTO), ["sshPrivateKey"])
    peers = "n0-192.0.2.11:9878;n1-192.0.2.12:9878;n2-192.0.2.13:9878"
    for command in namesrv_commands(run):
        label = next(line for line in command.inputs["stdin"].splitlines() if line.startswith("HOST_LABEL="))
        self_id = f"n{int(label.removeprefix('HOST_LABEL=peer')) - 1}"
        conf = _props(written_file(command, "/etc/rocketmq/namesrv.conf") or "")
        assert conf == {
            "listenPort": "9876",
            "enableControllerInNamesrv": "true",
            "controllerDLegerGroup": "DefaultCluster-controllers",
            "controllerDLegerPeers": peers,
            "controllerDLegerSelfId": self_id,
            "controllerStorePath": "/data/rocketmq/store/controller",
            "enableElectUncleanMaster": "false",
            "notifyBrokerRoleChanged": "true",
        }
        # Its Raft log is state: the name server never starts without the store's volume.
        unit = written_file(command, "/etc/systemd/system/rocketmq-namesrv.service") or ""
        assert "RequiresMountsFor=/data/rocketmq/store" in unit
        # Healthy once its controller knows the group's leader (a majority runs).
        assert f'{rendering.CLUSTER_INFO} --controller "$ADDRESS:9878"' in command.inputs["stdin"]
    for rollout in rollouts(run):
        if rollout.name.startswith("rocketmq-namesrv-"):
            assert f'{rendering.CLUSTER_INFO} --controller "$ADDRESS:9878"' in rollout.inputs["stdin"]
    for command in broker_commands(run):
        assert broker_conf(command)["controllerAddr"] == "192.0.2.11:9878;192.0.2.12:9878;192.0.2.13:9878"


def test_other_modes_run_no_controller() -> None:
    run = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    for command in namesrv_commands(run):
        assert _props(written_file(command, "/etc/rocketmq/namesrv.conf") or "") == {"listenPort": "9876"}
        assert "RequiresMountsFor" not in (written_file(command, "/etc/systemd/system/rocketmq-namesrv.service") or "")
        assert "--controller" not in command.inputs["stdin"]
    for command in broker_commands(run):
        assert not {"enableControllerMode", "controllerAddr", "allAckInSyncStateSet"} & set(broker_conf(command))


def test_users_may_choose_their_own_sync_state_set_acknowledgement() -> None:
    properties = json.dumps({"allAckInSyncStateSet": False, "minInSyncReplicas": 2})
    cfg = parse_config(hosts_stack(AUTO, brokerProperties=properties))
    text = rendering.render_broker_conf(cfg, plan_cluster(cfg).broker_nodes[0], "10.0.0.9", "n:9876", "c:9878")
    assert text.count("allAckInSyncStateSet") == 1 and _props(text)["allAckInSyncStateSet"] == "false"
    assert _props(text)["minInSyncReplicas"] == "2"
    with pytest.raises(ValueError, match="elected by controllers"):
        rendering.render_broker_conf(cfg, plan_cluster(cfg).broker_nodes[0], "10.0.0.9", "n:9876")


def test_aws_opens_the_controllers_inside_the_cluster_only() -> None:
    def rules(stack: dict[str, Any]) -> list[dict[str, Any]]:
        run = run_main_program(stack, ["sshPrivateKey"])
        (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
        return [rule for rule in group.inputs["ingress"] if rule["fromPort"] == 9878]

    (rule,) = rules(aws_stack(AUTO))
    assert rule["self"] is True and not rule.get("cidrBlocks")
    assert rules(aws_stack("master-slave-async")) == []


def test_the_master_output_is_the_latest_steps_report() -> None:
    older = "rocketmq[n1]: rolling restart\nmaster-now 1700000000 10.0.0.9:10911\n"
    newer = "master-now 1700000100 10.0.0.10:10911\n"
    assert latest_master([older, newer, ""]) == "10.0.0.10:10911"
    assert latest_master([newer, older]) == "10.0.0.10:10911"
    assert latest_master(["", "nothing to restart"]) == ""


class _Controller(socketserver.BaseRequestHandler):
    """Answers CONTROLLER_GET_METADATA_INFO as a controller does, naming its server's `leader`."""

    server: _ControllerServer

    def handle(self) -> None:
        request = read_request(self.request)
        fields = {"group": "DefaultCluster-controllers", "isLeader": "false", "peers": "n0-127.0.0.1:9878"}
        if self.server.leader:
            fields["controllerLeaderAddress"] = self.server.leader
        ok = request["code"] == 1005
        answer = {"code": 0 if ok else 1, "flag": 1, "opaque": request["opaque"], "extFields": fields}
        self.request.sendall(_frame(answer))


class _ControllerServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, leader: str) -> None:
        super().__init__(("127.0.0.1", 0), _Controller)
        self.leader = leader


@pytest.mark.parametrize("leader", ["10.0.0.2:9878", ""])
def test_cluster_info_asks_a_controller_for_its_leader(tmp_path: Path, leader: str) -> None:
    script = tmp_path / "cluster-info"
    script.write_text(rendering.render_cluster_info())
    server = _ControllerServer(leader)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        argv = [sys.executable, str(script), "--controller", f"127.0.0.1:{server.server_address[1]}"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    finally:
        server.shutdown()
        server.server_close()
    if leader:
        assert (result.returncode, result.stdout) == (0, f"leader {leader}\n"), result.stderr
    else:  # no leader elected yet: not healthy
        assert result.returncode == 1 and "knows no leader yet" in result.stderr


# ------------------------------------------------- the rolling restart of an elected master

# mqadmin's stand-in: electMaster succeeds only when $STATE/electable says so, and then the name
# servers list the other replica as master; brokerStatus shows two equal commit logs.
FAKE_MQADMIN = """#!/bin/bash
echo "mqadmin $*" >>"$STATE/calls"
case $1 in
  electMaster)
    if [[ -f $STATE/electable ]]; then
      : >"$STATE/elected"
      printf '\\n#ClusterName\\tDefaultCluster\\n#BrokerName\\tbroker-a\\n#BrokerMasterAddr\\t10.0.0.10:10911\\n'
    else
      echo "electMaster command failed"
    fi ;;
  brokerStatus) echo "commitLogMaxOffset       : 4096" ;;
  *) echo "success" ;;
esac
"""
FAKE_RUNUSER = """#!/bin/bash
shift 3  # -u rocketmq --
exec "$@"
"""
CALLS_SYSTEMCTL = FAKE_SYSTEMCTL.replace(': >"$STATE/restarted"', 'echo "systemctl restart" >>"$STATE/calls"')


class _ElectingNameServer(_Server):
    """Lists broker-a's master 10.0.0.9 and its slave 10.0.0.10 until the stand-in mqadmin has
    elected the slave; then the other way round."""

    def __init__(self, state: Path) -> None:
        super().__init__("")
        self.state = state

    @property
    def body(self) -> str:
        elected = (self.state / "elected").exists()
        addresses = ("10.0.0.10:10911", "10.0.0.9:10911") if elected else ("10.0.0.9:10911", "10.0.0.10:10911")
        return _cluster_info_body({"broker-a": {0: addresses[0], 2: addresses[1]}})

    @body.setter
    def body(self, _: str) -> None:
        pass


@pytest.fixture
def elected_master(tmp_path: Path) -> Iterator[tuple[_ElectingNameServer, Path]]:
    state = tmp_path / "state"
    state.mkdir()
    server = _ElectingNameServer(state)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, state
    server.shutdown()
    server.server_close()


def _elected_rollout(tmp_path: Path, namesrv: str, state: Path, *, groups: int = 1) -> Any:
    """broker-a/0's rolling restart in a master-slave-auto cluster of `groups` groups, on 10.0.0.9
    (with two, its master first stops taking writes: clients refresh routes every second here)."""
    hosts = HOSTS_BY_MODE[AUTO]
    if groups == 1:
        hosts = [{k: v for k, v in h.items() if v != "broker-b/0"} for h in hosts[:3]]
    stack = hosts_stack(AUTO, hosts, brokerGroups=groups, readyTimeoutSeconds=30, clientRouteRefreshSeconds=1)
    cfg = parse_config(stack)
    node = plan_cluster(cfg).broker_nodes[0]
    script = rendering.render_broker_rollout(
        cfg, node, "n1", "10.0.0.9", namesrv, master_endpoint=None, controller_addr="10.0.0.1:9878"
    )
    bin_dir, logs = tmp_path / "bin", tmp_path / "logs"
    for directory in (bin_dir, logs):
        directory.mkdir()
    (state / "restart-pending-broker").touch()
    cluster_info = tmp_path / "cluster-info"
    cluster_info.write_text(rendering.render_cluster_info())
    for name, text in (
        ("systemctl", CALLS_SYSTEMCTL),
        ("journalctl", FAKE_JOURNALCTL),
        ("mqadmin", FAKE_MQADMIN),
        ("runuser", FAKE_RUNUSER),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    script = (
        script.replace(rendering.CLUSTER_INFO, f"python3 {cluster_info}")
        .replace(rendering.MQADMIN, str(bin_dir / "mqadmin"))
        .replace("/var/lib/rocketmq/restart-pending-broker", str(state / "restart-pending-broker"))
        .replace(rendering.LOG_DIR, str(logs))
        .replace("READY_TIMEOUT=30\n", "READY_TIMEOUT=4\n")
    )
    return run_with_stand_ins(script, bin_dir, state)


def test_an_elected_master_hands_its_role_over_before_it_restarts(
    tmp_path: Path, elected_master: tuple[_ElectingNameServer, Path]
) -> None:
    server, state = elected_master
    (state / "electable").touch()
    result = _elected_rollout(tmp_path, server.address, state)
    assert result.returncode == 0, result.stderr
    calls = [" ".join(line.split()[:2]) for line in (state / "calls").read_text().splitlines()]
    assert calls.index("mqadmin electMaster") < calls.index("systemctl restart"), calls
    output = result.stdout + result.stderr
    assert "broker-a's master is now 10.0.0.10:10911 (elected by the controllers)" in output
    assert "slave 10.0.0.9:10911 has caught up with its master 10.0.0.10:10911" in output
    assert result.stdout.strip().splitlines()[-1].endswith(" 10.0.0.10:10911")  # master-now, for the outputs
    assert not (state / "restart-pending-broker").exists()


def test_an_elected_master_no_replica_can_take_over_from_keeps_running(
    tmp_path: Path, elected_master: tuple[_ElectingNameServer, Path]
) -> None:
    server, state = elected_master  # no $STATE/electable: the controllers elect no one
    result = _elected_rollout(tmp_path, server.address, state)
    assert result.returncode != 0
    assert "no replica of broker-a could take over from its master 10.0.0.9:10911" in result.stderr, result.stderr
    assert "systemctl restart" not in (state / "calls").read_text()
    assert (state / "restart-pending-broker").exists(), "a restart that did not happen stays pending"


def test_a_master_that_keeps_running_takes_writes_again(
    tmp_path: Path, elected_master: tuple[_ElectingNameServer, Path]
) -> None:
    """With other groups, a master stops taking writes before its hand-over; when no replica can
    take over it keeps running, and must not stay read-only."""
    server, state = elected_master
    result = _elected_rollout(tmp_path, server.address, state, groups=2)
    assert result.returncode != 0
    calls = (state / "calls").read_text()
    stopped = calls.index("updateBrokerConfig -b 10.0.0.9:10911 -k brokerPermission -v 4")
    assert calls.index("updateBrokerConfig -b 10.0.0.9:10911 -k brokerPermission -v 6") > stopped, calls
    assert "keeps running on its older files, taking writes" in result.stderr


def test_a_topic_on_chosen_groups_goes_to_the_master_the_name_servers_list_now(tmp_path: Path) -> None:
    topics = json.dumps([{"name": "Orders", "brokerGroups": ["broker-b"]}])
    run = run_main_program(hosts_stack(AUTO, topics=topics), ["sshPrivateKey"])
    script = run.mocks.named("rocketmq-topic-Orders").inputs["stdin"]
    assert "master=$(current_master broker-b) || die" in script and 'update_topic -b "$master"' in script
    assert f'{rendering.CLUSTER_INFO} "$NAMESRV_ADDR"' in script
    check_script(tmp_path, "topic.sh", script)
