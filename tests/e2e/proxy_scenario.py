"""E2E scenarios of RocketMQ 5's proxy on a running 5.x cluster.

In the brokers (proxy: local, 5.x's default): proxyEndpoints lists the masters' proxies, and
RocketMQ 5's gRPC SDK sends and receives through them; with metrics, each proxy reports
through its broker's exporter.

On hosts of their own (proxy: cluster): the brokers drop the proxy in their JVM (a rolling
restart) and two proxy hosts come up, listed
in proxyEndpoints. RocketMQ 5's gRPC SDK sends and receives through them, carries on when one of
them stops a third of the way through, and uses it again once it is started again. With metrics,
each proxy's own exporter answers where metricsTargets says.
"""

from __future__ import annotations

import threading
from typing import Any

from components.config_rocketmq5 import DEFAULT_PROXY_GRPC_PORT
from tests.e2e.cluster_harness import PulumiStack, prometheus_samples, wait_until
from tests.e2e.suite_stacks import placed
from tests.e2e.testhosts import TestNetwork
from tests.e2e.traffic import sdk_round_trip

PROXY_UNIT = "rocketmq-proxy.service"


def proxies_in_the_brokers(
    net: TestNetwork, outputs: dict[str, Any], expected: set[tuple[str, int, str]], *, topic: str, messages: int
) -> None:
    """``topic`` exists on every group; ``expected`` is (brokerName, brokerId, address:10911)."""
    # The masters' proxies only: a slave's knows a new topic only after its copy from the master.
    masters = [address.split(":")[0] for _, broker_id, address in expected if broker_id == 0]
    assert sorted(outputs["proxyEndpoints"]) == sorted(f"{a}:{DEFAULT_PROXY_GRPC_PORT}" for a in masters)
    trip = sdk_round_trip(net, outputs["proxyEndpoints"], topic, group="e2e-sdk", count=messages)
    assert (trip.sent, trip.failed, trip.received) == (messages, 0, messages), trip.output
    for target in outputs["metricsTargets"]:
        # The proxy in a broker's JVM reports through the broker's exporter.
        assert prometheus_samples(net, target).get("rocketmq_proxy_up", 0) >= 1, f"no rocketmq_proxy_up at {target}"


def proxies_of_their_own(
    net: TestNetwork,
    stack: PulumiStack,
    *,
    hosts: list[dict[str, Any]],
    proxy_hosts: tuple[str, ...],
    broker_hosts: list[Any],
    topic: str,
    messages: int,
    metrics_port: int | None,
) -> None:
    stack.set_config(
        {"proxy": "cluster", "hosts": hosts + placed(net, [{"host": h, "proxy": True} for h in proxy_hosts])}
    )
    stack.up()
    outputs = stack.outputs()
    endpoints = outputs["proxyEndpoints"]
    assert sorted(endpoints) == sorted(f"{net.host(h).address}:{DEFAULT_PROXY_GRPC_PORT}" for h in proxy_hosts)
    for host in broker_hosts:
        env = net.ssh(host, "cat /etc/rocketmq/broker.env", check=True).stdout
        assert "PROXY_CONFIG" not in env, f"{host}: the broker still runs a proxy of its own"

    trip = sdk_round_trip(net, endpoints, topic, group="e2e-sdk-cluster", count=messages)
    assert (trip.sent, trip.failed, trip.received) == (messages, 0, messages), trip.output

    # -- one proxy stops a third of the way through: the client carries on through the other
    stopped = net.host(proxy_hosts[0])
    per_second = 100
    stop = threading.Timer(
        messages / per_second / 3, lambda: net.ssh(stopped, f"sudo -n systemctl stop {PROXY_UNIT}", check=True)
    )
    stop.start()
    try:
        trip = sdk_round_trip(net, endpoints, topic, group="e2e-sdk-cluster", count=messages, per_second=per_second)
    finally:
        stop.join()
    assert net.ssh(stopped, f"systemctl is-active {PROXY_UNIT}").stdout.strip() != "active"
    print(
        f"proxy {stopped} stopped during a round trip: sent {trip.sent}, failed {trip.failed}, "
        f"received {trip.received}, lost {trip.lost}, duplicates {trip.duplicates}, receive errors {trip.receive_errors}"
    )
    # Sends go on through the other proxy: the SDK's retries cover the switch.
    assert trip.sent >= messages * 0.95, trip.output

    # -- started again by hand (a no-change `up` runs nothing, as for every service), it serves again
    net.ssh(stopped, f"sudo -n systemctl start {PROXY_UNIT}", check=True)
    port = DEFAULT_PROXY_GRPC_PORT
    wait_until(lambda: net.ssh(stopped, f"ss -Htln sport = :{port}").stdout.strip() != "", 90, f"{stopped}:{port}")
    alone = [e for e in endpoints if e == f"{stopped.address}:{port}"]
    trip = sdk_round_trip(net, alone, topic, group="e2e-sdk-cluster", count=messages // 10)
    assert (trip.failed, trip.lost) == (0, 0), trip.output
    if metrics_port is not None:
        for host in proxy_hosts:
            target = f"{net.host(host).address}:{metrics_port}"
            assert target in outputs["metricsTargets"], outputs["metricsTargets"]
            assert prometheus_samples(net, target).get("rocketmq_proxy_up", 0) >= 1, f"no rocketmq_proxy_up at {target}"
