"""E2E scenarios: a running cluster changes release, grows and shrinks with a producer and a
consumer running through each change.

A release change and back: every name server, then every broker restarts once on the new release,
one at a time, on the same store; both releases stay on disk.

A name server added: it starts first, then every broker restarts with the new list, one at a time.
A slave added to each group starts only on its new host and copies its master's commit log; removed
again, only it stops.
A broker group added starts only its new hosts; the running brokers keep their processes. Removing
it drains it first: its write permission goes, producers move to the other groups, the consumers
read what it holds, and only then do its brokers stop. No change loses an acknowledged message or
fails a send.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.e2e.cluster_harness import (
    PulumiStack,
    cluster_list,
    commitlog_offset,
    create_topic,
    mqadmin,
    service_pid,
    wait_for_cluster,
    wait_until,
)
from tests.e2e.testhosts import Host, TestNetwork
from tests.e2e.traffic import ChangeUnderTraffic, Credentials, change_under_traffic

BROKER_UNIT = "rocketmq-broker.service"
NAMESRV_UNIT = "rocketmq-namesrv.service"
GROUP = "e2e-scale"


@dataclass(frozen=True)
class RunningCluster:
    """A running cluster under test: its stack, where to ask, and the clients' topic."""

    net: TestNetwork
    stack: PulumiStack
    probe: Host
    namesrv: str
    classpath: str
    topic: str
    expected: set[tuple[str, int, str]]
    # The clients' route refresh: the stack's clientRouteRefreshSeconds (None: RocketMQ's 30 s).
    route_refresh_seconds: int | None = None
    # rocketmq:acl: the user the steady traffic of a change signs as.
    credentials: Credentials | None = None

    def change(self, name: str, config: dict[str, Any], then: Callable[[], None] = lambda: None) -> ChangeUnderTraffic:
        return change_under_traffic(
            self.net,
            self.stack,
            name,
            config,
            namesrv_addr=self.namesrv,
            classpath=self.classpath,
            topic=self.topic,
            group=GROUP,
            expected=self.expected,
            then=then,
            route_refresh_seconds=self.route_refresh_seconds,
            credentials=self.credentials,
        )

    def broker_pids(self) -> dict[str, int]:
        return {a: service_pid(self.net, self.net.host(a.split(":")[0]), BROKER_UNIT) for _, _, a in self.expected}


def change_release_and_back(
    cluster: RunningCluster,
    current: str,
    other: str,
    *,
    ns_hosts: Sequence[Host],
    out_with: dict[str, Any] | None = None,
    back_with: dict[str, Any] | None = None,
    between: Callable[[], None] | None = None,
) -> None:
    """`version` to ``other`` and back to ``current``, each a rolling change under traffic; the way
    out also applies ``out_with`` and the way back ``back_with`` (other changes that restart every
    broker: one rolling restart for both, as a user would make them); ``between`` runs after the
    way out (the way back's clients are made after it)."""
    net, probe = cluster.net, cluster.probe
    every_broker = {address for _, _, address in cluster.expected}
    for version in (other, current):
        ns_pids = {host.name: service_pid(net, host, NAMESRV_UNIT) for host in ns_hosts}
        also = (back_with if version == current else out_with) or {}
        name = f"version {version}" + (f" and {', '.join(sorted(also))}" if also else "")
        changed = cluster.change(name, {"version": version, **also})
        changed.check(most_down=1)
        assert changed.seen_stopped == every_broker, f"stopped during the change: {sorted(changed.seen_stopped)}"
        rows = wait_for_cluster(net, probe, cluster.namesrv, cluster.expected)
        assert {r.version for r in rows} == {"V" + version.replace(".", "_")}, rows
        for host in ns_hosts:
            assert service_pid(net, host, NAMESRV_UNIT) != ns_pids[host.name], f"{host}: name server not restarted"
        if version == other and between is not None:
            between()
    for address in every_broker:
        host = net.host(address.split(":")[0])
        kept = net.ssh(host, "ls /opt/rocketmq/versions", check=True).stdout.split()
        assert {current, other} <= set(kept), f"{host} keeps {kept}"


def adding_a_name_server(hosts: list[dict[str, Any]]) -> dict[str, Any]:
    """The stack config that adds one: `hosts` is the stack's `hosts` with one more `nameServer: true`."""
    return {"nameServers": sum(1 for h in hosts if h.get("nameServer")), "hosts": hosts}


def add_a_name_server(cluster: RunningCluster, hosts: list[dict[str, Any]]) -> str:
    """`hosts`: the stack's `hosts` with one more `nameServer: true`. Returns the new namesrvAddr."""
    added = cluster.change("adding a name server", adding_a_name_server(hosts))
    added.check(most_down=1)
    # A new namesrvAddr is read only at start: every broker restarts, one at a time.
    every_broker = {address for _, _, address in cluster.expected}
    assert added.seen_stopped == every_broker, f"stopped during the change: {sorted(added.seen_stopped)}"
    return name_server_added(cluster, hosts)


def name_server_added(cluster: RunningCluster, hosts: list[dict[str, Any]]) -> str:
    """Checks that the name server added with `hosts` serves: every broker registered with it and has
    it in its broker.conf. Returns the new namesrvAddr."""
    net, probe, expected = cluster.net, cluster.probe, cluster.expected
    count = sum(1 for h in hosts if h.get("nameServer"))
    grown: str = cluster.stack.outputs()["namesrvAddr"]
    assert len(grown.split(";")) == count and grown.startswith(cluster.namesrv), grown
    # Every broker registers with the new name server too, and has it in its broker.conf.
    wait_for_cluster(net, probe, grown.rsplit(";", maxsplit=1)[-1], expected, timeout=60)
    for host in {net.host(address.split(":")[0]) for _, _, address in expected}:
        conf = net.ssh(host, "cat /etc/rocketmq/broker.conf", check=True).stdout
        assert f"namesrvAddr={grown}" in conf, f"{host}: {conf}"
    return grown


def add_and_drain_a_group(
    cluster: RunningCluster,
    hosts_config: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    new_group: list[dict[str, Any]],
) -> None:
    """`hosts_config(extra)`: the stack's `hosts` with the placements in `extra` added;
    `new_group`: the placements of a new group's master and slaves ({"host", "broker"})."""
    net, probe, namesrv = cluster.net, cluster.probe, cluster.namesrv
    name = new_group[0]["broker"].split("/")[0]
    grown = cluster.expected | {
        (name, int(p["broker"].split("/")[1]), f"{net.host(p['host']).address}:10911") for p in new_group
    }
    running = cluster.broker_pids()
    groups = len({broker_name for broker_name, _, _ in cluster.expected})

    def new_group_takes_messages() -> None:
        wait_for_cluster(net, probe, namesrv, grown)
        create_topic(net, probe, namesrv, "DefaultCluster", cluster.topic)  # its queues on the new group too
        wait_until(lambda: _holds_messages(cluster, name), 120, f"messages of {cluster.topic} on {name}")

    # -- add the group: only its hosts run anything
    config = {"brokerGroups": groups + 1, "hosts": hosts_config(new_group)}
    cluster.change(f"adding {name}", config, then=new_group_takes_messages).check(most_down=0)
    assert cluster.broker_pids() == running, "a running broker restarted"

    # -- remove it: drained first, then stopped; the other groups keep serving throughout
    removed = cluster.change(f"removing {name}", {"brokerGroups": groups, "hosts": hosts_config([])})
    removed.check(most_down=0)
    assert f"broker group {name} is drained" in removed.up.stdout, removed.up.stdout[-3000:]
    assert {(r.broker_name, r.broker_id, r.address) for r in cluster_list(net, probe, namesrv)} == cluster.expected
    for placement in new_group:
        host = net.host(placement["host"])
        assert net.ssh(host, f"systemctl is-active {BROKER_UNIT}").stdout.strip() != "active", f"{host} still runs"
    assert cluster.broker_pids() == running, "a running broker restarted"


def add_and_remove_slaves(
    cluster: RunningCluster,
    hosts_config: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    new_slaves: list[dict[str, Any]],
) -> None:
    """`new_slaves`: one more slave per group ({"host", "broker": "<group>/<id>"}), on free hosts."""
    net, probe, namesrv = cluster.net, cluster.probe, cluster.namesrv
    added = {(p["broker"].split("/")[0], int(p["broker"].split("/")[1]), net.host(p["host"])) for p in new_slaves}
    grown = cluster.expected | {(name, broker_id, f"{host.address}:10911") for name, broker_id, host in added}
    masters = {name: net.host(a.split(":")[0]) for name, broker_id, a in cluster.expected if broker_id == 0}
    slaves_per_group = max(broker_id for _, broker_id, _ in cluster.expected)
    running = cluster.broker_pids()

    def new_slaves_copy_their_masters() -> None:
        wait_for_cluster(net, probe, namesrv, grown)

        def caught_up() -> bool:
            for name, _, host in added:  # the master first: under traffic its log only grows
                master = commitlog_offset(net, probe, namesrv, masters[name])
                if not 0 < master <= commitlog_offset(net, probe, namesrv, host):
                    return False
            return True

        wait_until(caught_up, 120, "the new slaves to copy their masters' commit logs")

    config = {"slavesPerGroup": slaves_per_group + 1, "hosts": hosts_config(new_slaves)}
    cluster.change("adding a slave to each group", config, then=new_slaves_copy_their_masters).check(most_down=0)
    assert cluster.broker_pids() == running, "a running broker restarted"

    removed = cluster.change("removing them", {"slavesPerGroup": slaves_per_group, "hosts": hosts_config([])})
    removed.check(most_down=0)
    assert {(r.broker_name, r.broker_id, r.address) for r in cluster_list(net, probe, namesrv)} == cluster.expected
    for _, _, host in added:
        assert net.ssh(host, f"systemctl is-active {BROKER_UNIT}").stdout.strip() != "active", f"{host} still runs"
    assert cluster.broker_pids() == running, "a running broker restarted"


def _holds_messages(cluster: RunningCluster, broker_name: str) -> bool:
    """Whether the group's master has stored messages of the topic (its queues' max offsets)."""
    status = mqadmin(cluster.net, cluster.probe, cluster.namesrv, "topicStatus", "-t", cluster.topic)
    rows = [line.split() for line in status.splitlines()]
    return any(len(f) >= 4 and f[0] == broker_name and f[3].isdigit() and int(f[3]) > 0 for f in rows)
