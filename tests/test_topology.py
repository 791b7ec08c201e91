"""The pure plan: hosts, roles, ids and zones per mode, checked against the pairing rules."""

from __future__ import annotations

import itertools

import pytest

from components.config import parse_config
from components.topology import broker_ports, broker_role, namesrv_addr, plan_cluster, zone_slot
from tests.stacks import MODES, aws_stack, hosts_stack, local_stack

EXPECTED_MASTER_ROLE = {
    "single-master": "ASYNC_MASTER",
    "multi-master": "ASYNC_MASTER",
    "master-slave-async": "ASYNC_MASTER",
    "master-slave-sync": "SYNC_MASTER",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stack", [aws_stack, hosts_stack])
def test_pairing_rules(mode: str, stack) -> None:
    cfg = parse_config(stack(mode))
    plan = plan_cluster(cfg, zones=3)
    assert len(plan.name_server_hosts) == cfg.name_servers
    assert len(plan.groups) == cfg.broker_groups
    names = [g.broker_name for g in plan.groups]
    assert names == [f"broker-{c}" for c in "abcdefghijklmnopqrstuvwxyz"[: cfg.broker_groups]]
    for group in plan.groups:
        # Master and slaves share brokerName; master id 0, slaves distinct ids > 0.
        assert {n.broker_name for n in group.nodes} == {group.broker_name}
        assert group.master.broker_id == 0
        assert sorted(s.broker_id for s in group.slaves) == list(range(1, cfg.slaves_per_group + 1))
        if mode == "master-slave-auto":  # the controllers, one in each name server, elect the master
            assert all(n.role == "ELECTED" for n in group.nodes)
            assert all(h.controller_port == 9878 for h in plan.name_server_hosts)
            continue
        assert group.master.role == EXPECTED_MASTER_ROLE[mode]
        assert all(s.role == "SLAVE" for s in group.slaves)
    # One broker per host: a second broker would collide on ports and mqshutdown stops every broker.
    broker_hosts = [n.host for n in plan.broker_nodes]
    assert len(broker_hosts) == len(set(broker_hosts))


def test_aws_gives_every_role_its_own_instance() -> None:
    cfg = parse_config(aws_stack("master-slave-async", brokerGroups=3, slavesPerGroup=2, nameServers=3))
    plan = plan_cluster(cfg, zones=3)
    assert [h.key for h in plan.hosts if h.name_server] == ["ns-1", "ns-2", "ns-3"]
    assert all(not (h.name_server and h.broker) for h in plan.hosts)
    assert len(plan.hosts) == 3 + 3 * 3
    assert plan.host("broker-c-2").broker is not None
    assert plan.host("broker-c-2").roles == ("slave",)


def test_hosts_target_keeps_the_stack_files_placement() -> None:
    cfg = parse_config(hosts_stack("master-slave-async"))
    plan = plan_cluster(cfg)
    peer3 = plan.host("peer3")
    assert peer3.roles == ("nameserver", "slave")
    assert peer3.broker is not None and peer3.broker.label == "broker-a/1"
    assert plan.host("peer4").roles == ("slave",)


@pytest.mark.parametrize(("zones", "slaves"), list(itertools.product([2, 3, 4], [1, 2, 3])))
def test_slaves_never_share_their_masters_zone(zones: int, slaves: int) -> None:
    for group in range(6):
        master = zone_slot(group, 0, zones)
        for broker_id in range(1, slaves + 1):
            assert zone_slot(group, broker_id, zones) != master
            assert 0 <= zone_slot(group, broker_id, zones) < zones


def test_masters_spread_over_zones() -> None:
    assert [zone_slot(g, 0, 3) for g in range(4)] == [0, 1, 2, 0]


def test_single_zone_keeps_everyone_in_it() -> None:
    assert {zone_slot(g, i, 1) for g in range(3) for i in range(3)} == {0}


def test_roles_by_id() -> None:
    cfg_sync = parse_config(aws_stack("master-slave-sync"))
    assert broker_role(cfg_sync.mode, 0) == "SYNC_MASTER"
    assert broker_role(cfg_sync.mode, 2) == "SLAVE"


def test_namesrv_addr_format() -> None:
    assert namesrv_addr([("10.0.0.1", 9876), ("10.0.0.2", 9876), ("10.0.0.3", 19886)]) == (
        "10.0.0.1:9876;10.0.0.2:9876;10.0.0.3:19886"
    )


def test_zero_zones_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="zones"):
        plan_cluster(parse_config(aws_stack("single-master")), zones=0)


@pytest.mark.parametrize("stack", [aws_stack, hosts_stack])
def test_aws_and_hosts_keep_rocketmqs_default_ports(stack) -> None:
    plan = plan_cluster(parse_config(stack("master-slave-sync")), zones=3)
    assert {h.name_server_port for h in plan.hosts} == {9876}
    assert {n.listen_port for n in plan.broker_nodes} == {10911}
    assert {h.ssh_port for h in plan.hosts} == {22}  # hosts: the connection uses each host's own port
    # and the proxy's (5.x's default, proxy local): gRPC 8081, remoting 8080
    assert plan.host(plan.broker_nodes[0].host).listen_ports == (10909, 10911, 10912, 8081, 8080)


@pytest.mark.parametrize("mode", MODES)
def test_local_machines_each_get_their_own_ports(mode: str) -> None:
    cfg = parse_config(local_stack(mode, brokerGroups=2 if mode != "single-master" else 1))
    plan = plan_cluster(cfg)
    proxies = cfg.proxy.hosts if cfg.proxy else 0  # master-slave-auto: proxy machines of their own
    assert len(plan.hosts) == cfg.name_servers + cfg.broker_groups * (cfg.slaves_per_group + 1) + proxies
    for k, host in enumerate(plan.name_server_hosts):
        assert (host.name_server_port, host.ssh_port) == (19876 + 10 * k, 20022 + k)
        # master-slave-auto: its controller two ports up
        assert host.controller_port == (19878 + 10 * k if mode == "master-slave-auto" else None)
    for g, group in enumerate(plan.groups):
        for node in group.nodes:
            assert node.listen_port == 20911 + 100 * g + 10 * node.broker_id
            assert plan.host(node.host).ssh_port == 20100 + 10 * g + node.broker_id
    # Nothing two machines open on the shared loopback collides, sshd included.
    opened = [port for h in plan.hosts for port in (h.ssh_port, *h.listen_ports)]
    assert len(opened) == len(set(opened))
    assert not {9876, 10909, 10911, 10912, 22} & set(opened)
    assert all(1024 < port < 32768 for port in opened)  # below Linux's ephemeral range


def test_growing_a_local_cluster_keeps_every_machines_ports() -> None:
    def ports(**counts: int) -> dict[str, tuple[int, ...]]:
        plan = plan_cluster(parse_config(local_stack("master-slave-async", **counts)))
        return {h.key: (h.ssh_port, *h.listen_ports) for h in plan.hosts}

    small = ports(nameServers=1, brokerGroups=1, slavesPerGroup=1)
    grown = ports(nameServers=3, brokerGroups=2, slavesPerGroup=2)
    assert small == {key: grown[key] for key in small}


def test_the_largest_local_cluster_still_has_distinct_ports() -> None:
    cfg = parse_config(local_stack("master-slave-async", brokerGroups=26, slavesPerGroup=8, nameServers=9))
    plan = plan_cluster(cfg)
    opened = [port for h in plan.hosts for port in (h.ssh_port, *h.listen_ports)]
    assert len(plan.hosts) == 9 + 26 * 9
    assert len(opened) == len(set(opened)) and max(opened) < 32768


def test_broker_ports_follow_rocketmqs_derivation() -> None:
    assert broker_ports(20911) == (20909, 20911, 20912)
