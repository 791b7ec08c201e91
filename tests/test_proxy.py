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


def _with_proxy_hosts(mode: str, count: int) -> list[dict[str, Any]]:
    """The mode's hosts plus `count` proxy hosts of their own (192.0.2.21 ...)."""
    proxies = [{"name": f"proxy{i + 1}", "address": f"192.0.2.{21 + i}", "proxy": True} for i in range(count)]
    return [*HOSTS_BY_MODE[mode], *proxies]


def _with_proxy_on_a_broker(mode: str) -> list[dict[str, Any]]:
    hosts = [dict(h) for h in HOSTS_BY_MODE[mode]]
    hosts[0]["proxy"] = True  # peer1: a name server and broker-a's master
    return hosts


# Refused before any resource by test_config.py, with the other bad inputs.
BAD_INPUTS = [
    (
        "proxy on 4.9.x",
        hosts_stack("multi-master", proxy="local", version="4.9.7"),
        "rocketmq:proxy",
        "4.9.7 has no proxy",
    ),
    (
        "proxy cluster without proxy hosts",
        hosts_stack("multi-master", proxy="cluster"),
        "rocketmq:hosts",
        "at least one host with proxy: true",
    ),
    (
        "proxy host count on target hosts",
        hosts_stack("multi-master", proxy="cluster", proxyHosts=2, hosts=_with_proxy_hosts("multi-master", 1)),
        "rocketmq:proxyHosts",
        "set proxy: true on the proxy hosts",
    ),
    (
        "proxy host count without proxy cluster",
        aws_stack("multi-master", proxyHosts=3),
        "rocketmq:proxyHosts",
        "only for proxy: cluster",
    ),
    (
        "proxy host without proxy cluster",
        hosts_stack("multi-master", hosts=_with_proxy_hosts("multi-master", 1)),
        "rocketmq:hosts[3].proxy",
        "only with proxy: cluster",
    ),
    (
        "proxy and broker on one host",
        hosts_stack("multi-master", proxy="cluster", hosts=_with_proxy_on_a_broker("multi-master")),
        "rocketmq:hosts[0].proxy",
        "may carry a name server but no broker",
    ),
    (
        "proxy heap without proxy hosts",
        aws_stack("multi-master", proxyHeap="1g"),
        "rocketmq:proxyHeap",
        "only with proxy: cluster",
    ),
    (
        "too many proxy hosts",
        aws_stack("multi-master", proxy="cluster", proxyHosts=10),
        "rocketmq:proxyHosts",
        "from 1 to 9",
    ),
    (
        "proxy cluster on 4.9.x",
        aws_stack("multi-master", proxy="cluster", version="4.9.7"),
        "rocketmq:proxy",
        "4.9.7 has no proxy",
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


def test_every_broker_runs_the_proxy_and_clients_get_the_masters() -> None:
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
    # Clients start from the masters' proxies: a slave's has its master's topics only after a copy.
    private = {h["name"]: h.get("privateAddress", h["address"]) for h in HOSTS_BY_MODE["master-slave-async"]}
    masters = [h["name"] for h in HOSTS_BY_MODE["master-slave-async"] if h.get("broker", "").endswith("/0")]
    assert len(masters) == 2
    assert sorted(run.outputs["proxyEndpoints"]) == sorted(f"{private[name]}:9081" for name in masters)


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
    # Every host carries a broker here: each closes the proxy's ports in its firewall.
    firewalls = {f"rocketmq-peer{i}-firewall" for i in (1, 2, 3, 4)}
    assert firewalls <= changed and all(n.startswith("rocketmq-broker-") for n in changed - firewalls), sorted(changed)
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


# ---------------------------------------------------------------- proxy: cluster


def _proxy_commands(run: Any) -> list[Registered]:
    return [c for c in run.commands if "UNIT=rocketmq-proxy.service" in c.inputs.get("stdin", "")]


def test_cluster_proxies_run_on_hosts_of_their_own_on_aws() -> None:
    run = run_main_program(aws_stack("multi-master", proxy="cluster", metrics=True, proxyHeap="1g"), ["sshPrivateKey"])
    instances = {i.name: i.inputs for i in run.mocks.of_type("aws:ec2/instance:Instance")}
    assert {name: inputs["instanceType"] for name, inputs in instances.items() if "proxy" in name} == {
        "rocketmq-proxy-1": "t3.medium",
        "rocketmq-proxy-2": "t3.medium",
    }
    assert all("proxy" not in v.name for v in run.mocks.of_type("aws:ebs/volume:Volume"))  # no store
    for command in broker_commands(run):
        assert "PROXY_CONFIG" not in _script_env(command)  # the brokers run none of their own
    assert all(
        node.proxy_ports is None
        for node in plan_cluster(parse_config(aws_stack("multi-master", proxy="cluster"))).broker_nodes
    )
    configure = [c for c in _proxy_commands(run) if not c.name.endswith("-rollout")]
    assert sorted(c.name for c in configure) == ["rocketmq-proxy-proxy-1", "rocketmq-proxy-proxy-2"]
    for command in configure:
        conf = json.loads(written_file(command, PROXY_CONF) or "")
        assert conf == {
            "rocketMQClusterName": "DefaultCluster",
            "metricsExporterType": 2,  # 5.4.0's ProxyConfig (see render_proxy_conf)
            "metricsPromExporterPort": 5557,
            "grpcServerPort": 8081,
            "remotingListenPort": 8080,
        }
        stdin = command.inputs["stdin"]
        assert "/etc/systemd/system/rocketmq-proxy.service" in stdin and "/dev/tcp/$1/8081" in stdin
        assert 'HEAP="1g"' in (written_file(command, "/etc/rocketmq/proxy.env") or "")
        assert 'exec /bin/bash "$ROCKETMQ_HOME/bin/mqproxy" -pc /etc/rocketmq/proxy.json' in stdin
    assert len(run.outputs["proxyEndpoints"]) == 2 and all(e.endswith(":8081") for e in run.outputs["proxyEndpoints"])
    assert len(run.outputs["metricsTargets"]) == 4  # two brokers, two proxies
    # Proxies restart after every broker, one at a time.
    chain = [c.name for c in rollouts(run)]
    assert chain[-2:] == ["rocketmq-proxy-proxy-1-rollout", "rocketmq-proxy-proxy-2-rollout"]


def test_cluster_proxies_on_hosts_are_the_hosts_marked_proxy() -> None:
    hosts = [dict(h) for h in HOSTS_BY_MODE["multi-master"]]
    hosts[2]["proxy"] = True  # peer3: a name server too
    hosts.append({"name": "peer9", "address": "192.0.2.19", "proxy": True})
    run = run_main_program(hosts_stack("multi-master", hosts, proxy="cluster"), ["sshPrivateKey"])
    assert sorted(run.outputs["proxyEndpoints"]) == ["192.0.2.13:8081", "192.0.2.19:8081"]
    assert {c.name for c in _proxy_commands(run) if not c.name.endswith("-rollout")} == {
        "rocketmq-proxy-peer3",
        "rocketmq-proxy-peer9",
    }
    assert "rocketmq-namesrv-peer3" in {c.name for c in namesrv_commands(run)}


def test_cluster_proxies_on_target_local_get_their_own_ports() -> None:
    cfg = parse_config(local_stack("master-slave-async", proxy="cluster", metrics=True, brokerGroups=2))
    plan = plan_cluster(cfg)
    proxies = plan.proxy_hosts
    assert [(h.proxy_ports.grpc, h.proxy_ports.remoting, h.metrics_port, h.ssh_port) for h in proxies] == [  # type: ignore[union-attr]
        (18081, 18080, 18082, 20400),
        (18091, 18090, 18092, 20401),
    ]
    assert all(node.proxy_ports is None for node in plan.broker_nodes)  # none in the brokers
    opened = [port for h in plan.hosts for port in (h.ssh_port, *h.listen_ports)]
    assert len(opened) == len(set(opened))
