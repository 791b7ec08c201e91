"""RocketMQ 5's gRPC proxy inside each broker (`proxy`, `proxyGrpcPort`, `proxyRemotingPort`): the
config and its defaults, the plan, the files a broker gets, the `proxyEndpoints` output and the
aws security group, under Pulumi mocks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.config import parse_config
from components.rendering import PROXY_CONF
from components.topology import plan_cluster
from tests.program_commands import broker_commands, broker_conf, namesrv_commands, rollouts, written_file
from tests.pulumi_harness import Registered, run_main_program
from tests.stacks import HOSTS_BY_MODE, aws_stack, hosts_stack, local_stack

# Refused before any resource by test_config.py, with the other bad inputs.
BAD_INPUTS = [
    (
        "proxy on 4.9.x",
        hosts_stack("multi-master", proxy="local", version="4.9.7"),
        "rocketmq:proxy",
        "4.9.7 has no proxy",
    ),
    (
        "proxy hosts of their own",
        hosts_stack("multi-master", proxy="cluster"),
        "rocketmq:proxy",
        "not available yet",
    ),
    ("proxy mode unknown", hosts_stack("multi-master", proxy="remote"), "rocketmq:proxy", "none"),
    (
        "proxy on a broker port",
        hosts_stack("multi-master", proxyGrpcPort=10912),
        "rocketmq:proxyGrpcPort",
        "must differ from the ports RocketMQ and SSH use",
    ),
    (
        "proxy ports the same",
        hosts_stack("multi-master", proxyGrpcPort=9000, proxyRemotingPort=9000),
        "rocketmq:proxyRemotingPort",
        "must differ from proxyGrpcPort",
    ),
    (
        "proxy on the metrics port",
        hosts_stack("multi-master", metrics=True, proxyGrpcPort=5557),
        "rocketmq:proxyGrpcPort",
        "must differ from metricsPort",
    ),
    (
        "proxy port on target local",
        local_stack("single-master", proxy="local", proxyGrpcPort=9081),
        "rocketmq:proxyGrpcPort",
        "listenPort + 6",
    ),
    (
        "local proxy for several local brokers",
        local_stack("multi-master", proxy="local"),
        "rocketmq:proxy",
        "only with a single broker (this cluster has 2)",
    ),
]


def _script_env(command: Registered) -> dict[str, str]:
    content = written_file(command, "/etc/rocketmq/broker.env")
    assert content is not None, f"{command.name} writes no broker.env"
    return dict(line.split("=", 1) for line in content.splitlines() if line and not line.startswith("#"))


def test_5x_brokers_run_a_proxy_by_default_on_hosts_and_aws() -> None:
    for stack in (hosts_stack("multi-master"), aws_stack("multi-master")):
        cfg = parse_config(stack)
        assert cfg.proxy is not None and (cfg.proxy.mode, cfg.proxy.grpc_port, cfg.proxy.remoting_port) == (
            "local",
            8081,
            8080,
        )
        assert parse_config({**stack, "proxy": "auto"}).proxy == cfg.proxy


@pytest.mark.parametrize(
    "stack",
    [
        hosts_stack("multi-master", version="4.9.7"),
        local_stack("multi-master"),
        hosts_stack("multi-master", proxy="none"),
    ],
    ids=["4.9.x", "target local", "proxy none"],
)
def test_no_proxy_without_5x_on_local_or_when_off(stack: dict[str, Any]) -> None:
    cfg = parse_config(stack)
    assert cfg.proxy is None
    assert all(node.proxy_ports is None for node in plan_cluster(cfg).broker_nodes)


def test_every_broker_runs_the_proxy_and_clients_get_every_endpoint() -> None:
    stack = hosts_stack("master-slave-async", proxyGrpcPort=9081, proxyRemotingPort=9080)
    plan = plan_cluster(parse_config(stack))
    for node in plan.broker_nodes:
        assert (node.proxy_ports.grpc, node.proxy_ports.remoting) == (9081, 9080)  # type: ignore[union-attr]
        assert {9081, 9080} <= set(plan.host(node.host).listen_ports)

    run = run_main_program(stack, ["sshPrivateKey"])
    commands = broker_commands(run)
    assert len(commands) == 4
    for command in commands:
        # The launcher starts the proxy, and the broker in its JVM, when PROXY_CONFIG names its file.
        assert _script_env(command)["PROXY_CONFIG"] == f'"{PROXY_CONF}"'
        proxy_conf = json.loads(written_file(command, PROXY_CONF) or "")
        assert proxy_conf == {
            "rocketMQClusterName": "DefaultCluster",
            "grpcServerPort": 9081,
            "remotingListenPort": 9080,
        }
        stdin = command.inputs["stdin"]
        assert '"$ROCKETMQ_HOME/bin/mqbroker" --enable-proxy -c /etc/rocketmq/broker.conf' in stdin
        assert re.search(r"/dev/tcp/\$1/9081", stdin), "the health check does not wait for the proxy"
        # The proxy takes its settings from its own file, never from broker.conf.
        assert not any(key in broker_conf(command) for key in ("grpcServerPort", "remotingListenPort", "proxyMode"))
    for rollout in rollouts(run):
        if rollout.name.startswith("rocketmq-broker-"):
            assert "/dev/tcp/$1/9081" in rollout.inputs["stdin"], rollout.name
    private = {h["name"]: h.get("privateAddress", h["address"]) for h in HOSTS_BY_MODE["master-slave-async"]}
    brokers = [h["name"] for h in HOSTS_BY_MODE["master-slave-async"] if "broker" in h]
    assert sorted(run.outputs["proxyEndpoints"]) == sorted(f"{private[name]}:9081" for name in brokers)


@pytest.mark.parametrize(("version", "exporter_type"), [("5.4.0", 2), ("5.5.0", "PROM")])
def test_with_metrics_the_proxy_reports_through_the_brokers_exporter(version: str, exporter_type: Any) -> None:
    run = run_main_program(hosts_stack("multi-master", metrics=True, version=version), ["sshPrivateKey"])
    for command in broker_commands(run):
        proxy_conf = json.loads(written_file(command, PROXY_CONF) or "")
        # What each release's ProxyConfig parses as PROM (see render_proxy_conf).
        assert proxy_conf["metricsExporterType"] == exporter_type
        # No exporter of its own in local mode: its port settings would be unused.
        assert not any(key.startswith("metricsProm") for key in proxy_conf)


def test_brokers_without_a_proxy_write_no_proxy_settings() -> None:
    run = run_main_program(hosts_stack("master-slave-async", version="4.9.7"), ["sshPrivateKey"])
    assert run.outputs["proxyEndpoints"] == []
    for command in broker_commands(run):
        assert "PROXY_CONFIG" not in _script_env(command)
        assert written_file(command, PROXY_CONF) is None
        assert "/dev/tcp/$1/8081" not in command.inputs["stdin"]


def test_turning_the_proxy_off_changes_only_the_brokers_steps() -> None:
    before = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    after = run_main_program(hosts_stack("master-slave-async", proxy="none"), ["sshPrivateKey"])
    changed = {c.name for c in after.commands if c.inputs != before.mocks.named(c.name).inputs}
    assert changed and all(name.startswith("rocketmq-broker-") for name in changed), sorted(changed)
    assert all(c.inputs == before.mocks.named(c.name).inputs for c in namesrv_commands(after))


def test_a_single_local_broker_may_run_a_proxy_on_its_own_ports() -> None:
    plan = plan_cluster(parse_config(local_stack("single-master", proxy="local")))
    (node,) = plan.broker_nodes
    assert node.proxy_ports is not None
    assert (node.proxy_ports.grpc, node.proxy_ports.remoting) == (node.listen_port + 6, node.listen_port + 7)
    opened = [port for h in plan.hosts for port in (h.ssh_port, *h.listen_ports)]
    assert len(opened) == len(set(opened))


def test_aws_opens_the_proxy_to_clients_only() -> None:
    run = run_main_program(aws_stack("multi-master"), ["sshPrivateKey"])  # clients: 198.18.0.0/15
    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    proxy = [rule for rule in group.inputs["ingress"] if rule["fromPort"] in (8080, 8081)]
    assert sorted(rule["fromPort"] for rule in proxy) == [8080, 8081]
    assert all(rule["cidrBlocks"] == ["198.18.0.0/15"] and not rule.get("self") for rule in proxy)
    assert len(run.outputs["proxyEndpoints"]) == 2

    closed = run_main_program(aws_stack("multi-master", clientCidrs="[]"), ["sshPrivateKey"])
    (group,) = closed.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert all(rule["fromPort"] not in (8080, 8081) for rule in group.inputs["ingress"])
