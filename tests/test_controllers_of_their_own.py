"""master-slave-auto with its controllers on hosts of their own (rocketmq:controllers on aws and local,
hosts with controller: true): the config's limits, the plan, the controllers' files and health
check, and where they sit in the order of a deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import rendering
from components.config import parse_config
from components.controller_rendering import ControllerPeers, render_controller_rollout, render_controller_script
from components.topology import plan_cluster
from components.topology_picture import mermaid
from tests.program_commands import _configure_commands, broker_commands, broker_conf, namesrv_commands, written_file
from tests.pulumi_harness import run_main_program
from tests.shell_checks import check_script
from tests.stacks import HOSTS_BY_MODE, HOSTS_WITH_CONTROLLERS, aws_stack, hosts_stack, local_stack

AUTO = "master-slave-auto"
CONTROLLER_UNIT = "rocketmq-controller.service"

# Refused before any resource by test_config.py, with the other bad inputs.
BAD_INPUTS = [
    (
        "controllers in a mode without them",
        aws_stack("master-slave-async", controllers=3),
        "rocketmq:controllers",
        "only for mode master-slave-auto",
    ),
    ("an even number of controllers", aws_stack(AUTO, controllers=2), "rocketmq:controllers", "odd"),
    ("ten controllers", aws_stack(AUTO, controllers=10), "rocketmq:controllers", "up to 9"),
    ("a word for controllers", aws_stack(AUTO, controllers="three"), "rocketmq:controllers", "got 'three'"),
    ("controllers counted on hosts", hosts_stack(AUTO, controllers=3), "rocketmq:controllers", "controller: true"),
    (
        "a controller host that also runs a name server",
        hosts_stack(AUTO, hosts=[{**HOSTS_BY_MODE[AUTO][0], "controller": True}, *HOSTS_BY_MODE[AUTO][1:]]),
        "rocketmq:hosts[0].controller",
        "runs a name server",
    ),
    (
        "a controller host in a mode without controllers",
        hosts_stack(
            "master-slave-async",
            hosts=[*HOSTS_BY_MODE["master-slave-async"], {"name": "ctl1", "address": "192.0.2.21", "controller": True}],
        ),
        "rocketmq:hosts[4].controller",
        "only master-slave-auto has",
    ),
    (
        "two controller hosts",
        hosts_stack(AUTO, hosts=HOSTS_BY_MODE[AUTO] + HOSTS_WITH_CONTROLLERS[4:]),
        "rocketmq:hosts",
        "2 controllers",
    ),
    (
        "a controller heap with controllers in the name servers",
        aws_stack(AUTO, controllerHeap="512m"),
        "rocketmq:controllerHeap",
        "nameServerHeap",
    ),
    (
        "a controller heap in a mode without controllers",
        aws_stack("multi-master", controllerHeap="512m"),
        "rocketmq:controllerHeap",
        "has none of",
    ),
]


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_controllers_of_their_own_free_the_name_servers_count() -> None:
    cfg = parse_config(aws_stack(AUTO, controllers=3, nameServers=2, controllerHeap="512m"))
    assert (cfg.controllers, cfg.name_servers, cfg.heap.controller) == (3, 2, "512m")
    assert parse_config(aws_stack(AUTO, controllers=1)).controllers == 1  # no fault tolerance: README says so
    assert parse_config(aws_stack(AUTO)).controllers == 0  # in the name servers
    assert parse_config(hosts_stack(AUTO, hosts=HOSTS_WITH_CONTROLLERS)).controllers == 3


def test_aws_plans_a_host_per_controller_across_zones() -> None:
    plan = plan_cluster(parse_config(aws_stack(AUTO, controllers=3, nameServers=2)), zones=3)
    controllers = plan.controller_hosts
    assert [h.key for h in controllers] == ["controller-1", "controller-2", "controller-3"]
    assert [h.zone_slot for h in controllers] == [0, 1, 2]
    assert all(h.own_controller and h.roles == ("controller",) and h.listen_ports == (9878,) for h in controllers)
    assert all(h.controller_port is None for h in plan.name_server_hosts)


def test_local_controller_machines_get_ports_no_other_machine_opens() -> None:
    cfg = parse_config(local_stack(AUTO, nameServers=9, brokerGroups=26, slavesPerGroup=8, controllers=9, proxyHosts=9))
    plan = plan_cluster(cfg)
    for k, host in enumerate(plan.controller_hosts):
        assert (host.controller_port, host.ssh_port) == (19879 + 10 * k, 20420 + k)
    opened = [port for h in plan.hosts for port in (h.ssh_port, *h.listen_ports)]
    assert len(opened) == len(set(opened)) and max(opened) < 32768
    small = plan_cluster(parse_config(local_stack(AUTO, controllers=3)))
    assert "controller-1 nspawn machine, ssh 127.0.0.1:20420<br/>controller :19879" in mermaid(
        small, parse_config(local_stack(AUTO, controllers=3))
    )


def test_each_controller_host_runs_mqcontroller_in_one_raft_group() -> None:
    run = run_main_program(hosts_stack(AUTO, hosts=HOSTS_WITH_CONTROLLERS), ["sshPrivateKey"])
    endpoints = ["10.0.0.14:9878", "192.0.2.21:9878", "192.0.2.22:9878"]  # peer4 by its private address
    peers = ";".join(f"n{i}-{e}" for i, e in enumerate(endpoints))
    commands = _configure_commands(run, CONTROLLER_UNIT)
    assert sorted(c.name for c in commands) == [
        "rocketmq-controller-ctl1",
        "rocketmq-controller-ctl2",
        "rocketmq-controller-peer4",
    ]
    for command in commands:
        conf = _props(written_file(command, "/etc/rocketmq/controller.conf") or "")
        self_endpoint = {"peer4": endpoints[0], "ctl1": endpoints[1], "ctl2": endpoints[2]}[
            command.name.rsplit("-", 1)[1]
        ]
        assert conf == {
            "controllerDLegerGroup": "DefaultCluster-controllers",
            "controllerDLegerPeers": peers,
            "controllerDLegerSelfId": f"n{endpoints.index(self_endpoint)}",
            "controllerStorePath": "/data/rocketmq/store/controller",
            "enableElectUncleanMaster": "false",
            "notifyBrokerRoleChanged": "true",
        }
        unit = written_file(command, f"/etc/systemd/system/{CONTROLLER_UNIT}") or ""
        assert "RequiresMountsFor=/data/rocketmq/store" in unit and "start controller" in unit
        assert f'{rendering.CLUSTER_INFO} --controller "$ADDRESS:9878"' in command.inputs["stdin"]
    # The name servers run none; the brokers ask the controllers of their own.
    for command in namesrv_commands(run):
        assert _props(written_file(command, "/etc/rocketmq/namesrv.conf") or "") == {"listenPort": "9876"}
        assert "--controller" not in command.inputs["stdin"]
    for command in broker_commands(run):
        assert broker_conf(command)["controllerAddr"] == ";".join(endpoints)


def test_controllers_come_between_the_name_servers_and_the_brokers() -> None:
    run = run_main_program(aws_stack(AUTO, controllers=3, nameServers=2), ["sshPrivateKey"])
    after = run.mocks.depends_on
    controllers = [f"rocketmq-controller-controller-{i}" for i in (1, 2, 3)]
    for command in broker_commands(run):
        assert set(controllers) <= after(command), command.name  # a broker starts once they elect
    # Rolling restarts: name servers, then controllers one at a time, then the brokers.
    assert "rocketmq-namesrv-ns-2-rollout" in after(run.mocks.named("rocketmq-controller-controller-1-rollout"))
    assert "rocketmq-controller-controller-1-rollout" in after(
        run.mocks.named("rocketmq-controller-controller-2-rollout")
    )
    first_group = [after(run.mocks.named(f"rocketmq-broker-a-{i}-rollout")) for i in (0, 1)]
    assert "rocketmq-controller-controller-3-rollout" in set.union(*first_group)
    # Each controller host keeps its Raft log on a volume of its own, as brokers keep their stores.
    volumes = {v.name for v in run.mocks.of_type("aws:ebs/volume:Volume")}
    assert {f"rocketmq-controller-{i}-store" for i in (1, 2, 3)} <= volumes
    assert not {v for v in volumes if v.startswith("rocketmq-ns-")}


def test_controller_scripts_pass_shellcheck_and_start_mqcontroller(tmp_path: Path) -> None:
    cfg = parse_config(aws_stack(AUTO, controllers=3))
    host = plan_cluster(cfg).controller_hosts[1]
    peers = ControllerPeers(("10.0.0.1:9878", "10.0.0.2:9878", "10.0.0.3:9878"))
    script = render_controller_script(cfg, host, "10.0.0.2", peers)
    check_script(tmp_path, "controller.sh", script)
    assert "controllerDLegerSelfId=n1\n" in script and "mqcontroller" in script
    rollout = render_controller_rollout(cfg, host, "10.0.0.2")
    check_script(tmp_path, "controller-rollout.sh", rollout)
    assert f'{rendering.CLUSTER_INFO} --controller "$ADDRESS:9878"' in rollout
    start = rendering.render_start_script(cfg.release)
    assert 'exec /bin/bash "$ROCKETMQ_HOME/bin/mqcontroller" -c /etc/rocketmq/controller.conf' in start
    with pytest.raises(AssertionError, match="runs no controller"):
        render_controller_script(cfg, plan_cluster(cfg).name_server_hosts[0], "10.0.0.9", peers)
