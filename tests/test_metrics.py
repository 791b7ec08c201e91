"""RocketMQ's Prometheus exporter (`metrics`, `metricsPort`, `metricsCidrs`): the config, the plan,
broker.conf, the `metricsTargets` output and the aws security group, under Pulumi mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import parse_config
from components.topology import plan_cluster
from tests.program_commands import broker_commands, broker_conf
from tests.pulumi_harness import run_main_program
from tests.stacks import HOSTS_BY_MODE, aws_stack, hosts_stack, local_stack

PROMETHEUS = json.dumps(["198.51.100.7/32"])

# Refused before any resource by test_config.py, with the other bad inputs.
BAD_INPUTS = [
    (
        "metrics on 4.9.x",
        hosts_stack("multi-master", metrics=True, version="4.9.7"),
        "rocketmq:metrics",
        "4.9.7 has no built-in Prometheus exporter",
    ),
    (
        "metrics not a boolean",
        hosts_stack("multi-master", metrics="sometimes"),
        "rocketmq:metrics",
        "true or false",
    ),
    (
        "metrics on a broker port",
        hosts_stack("multi-master", metrics=True, metricsPort=10911),
        "rocketmq:metricsPort",
        "must differ from the ports RocketMQ and SSH use",
    ),
    (
        "metrics port too low",
        hosts_stack("single-master", metrics=True, metricsPort=80),
        "rocketmq:metricsPort",
        "1024",
    ),
    (
        "metrics port on target local",
        local_stack("single-master", metrics=True, metricsPort=9100),
        "rocketmq:metricsPort",
        "listenPort + 5",
    ),
    (
        "prometheus cidrs without metrics",
        aws_stack("single-master", metricsCidrs=PROMETHEUS),
        "rocketmq:metricsCidrs",
        "only with metrics: true",
    ),
    (
        "prometheus cidrs open to the world",
        aws_stack("single-master", metrics=True, metricsCidrs='["0.0.0.0/0"]'),
        "rocketmq:metricsCidrs",
        "whole internet",
    ),
    (
        "bad prometheus cidr",
        aws_stack("single-master", metrics=True, metricsCidrs='["10.0.0.1/8"]'),
        "rocketmq:metricsCidrs[0]",
        "IPv4 CIDR",
    ),
    (
        "the exporter set through brokerProperties",
        hosts_stack("single-master", brokerProperties=json.dumps({"metricsExporterType": "PROM"})),
        "rocketmq:brokerProperties",
        "managed by this program",
    ),
]


def test_metrics_are_off_unless_asked() -> None:
    cfg = parse_config(hosts_stack("master-slave-async"))
    assert cfg.metrics_port is None
    assert all(node.metrics_port is None for node in plan_cluster(cfg).broker_nodes)
    run = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    assert run.outputs["metricsTargets"] == []
    for command in broker_commands(run):
        assert not any(key.startswith("metrics") for key in broker_conf(command)), command.name


@pytest.mark.parametrize("port", [None, 9100])
def test_every_broker_serves_prometheus_on_hosts(port: int | None) -> None:
    extra: dict[str, Any] = {} if port is None else {"metricsPort": port}
    stack = hosts_stack("master-slave-async", metrics=True, **extra)
    expected_port = 5557 if port is None else port
    plan = plan_cluster(parse_config(stack))
    assert {node.metrics_port for node in plan.broker_nodes} == {expected_port}
    for node in plan.broker_nodes:
        assert expected_port in plan.host(node.host).listen_ports

    run = run_main_program(stack, ["sshPrivateKey"])
    confs = [broker_conf(command) for command in broker_commands(run)]
    assert len(confs) == 4
    for conf in confs:
        assert conf["metricsExporterType"] == "PROM"
        assert conf["metricsPromExporterPort"] == str(expected_port)
        # RocketMQ binds the exporter to brokerIP1, the address the targets name.
        assert "metricsPromExporterHost" not in conf
    private = {h["name"]: h.get("privateAddress", h["address"]) for h in HOSTS_BY_MODE["master-slave-async"]}
    brokers = [h["name"] for h in HOSTS_BY_MODE["master-slave-async"] if "broker" in h]
    assert sorted(run.outputs["metricsTargets"]) == sorted(f"{private[name]}:{expected_port}" for name in brokers)
    assert {conf["brokerIP1"] for conf in confs} == {target.split(":")[0] for target in run.outputs["metricsTargets"]}


def test_local_brokers_each_get_their_own_metrics_port() -> None:
    plan = plan_cluster(parse_config(local_stack("master-slave-async", metrics=True, brokerGroups=2)))
    for node in plan.broker_nodes:
        assert node.metrics_port == node.listen_port + 5
    opened = [port for h in plan.hosts for port in (h.ssh_port, *h.listen_ports)]
    assert len(opened) == len(set(opened))


def test_turning_metrics_on_changes_only_the_brokers_files() -> None:
    before = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    after = run_main_program(hosts_stack("master-slave-async", metrics=True), ["sshPrivateKey"])
    changed = {c.name for c in after.commands if c.inputs != before.mocks.named(c.name).inputs}
    assert changed and all(name.startswith("rocketmq-broker-") for name in changed), sorted(changed)


def test_aws_opens_the_metrics_port_to_prometheus_only() -> None:
    run = run_main_program(aws_stack("master-slave-async", metrics=True, metricsCidrs=PROMETHEUS), ["sshPrivateKey"])
    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    metrics = [rule for rule in group.inputs["ingress"] if rule["fromPort"] == 5557]
    assert metrics == [
        {
            "description": "RocketMQ metrics for Prometheus",
            "protocol": "tcp",
            "fromPort": 5557,
            "toPort": 5557,
            "cidrBlocks": ["198.51.100.7/32"],
        }
    ]
    assert len(run.outputs["metricsTargets"]) == 4


def test_aws_without_prometheus_cidrs_opens_no_metrics_port() -> None:
    run = run_main_program(aws_stack("master-slave-async", metrics=True), ["sshPrivateKey"])
    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert all(rule["fromPort"] != 5557 for rule in group.inputs["ingress"])
