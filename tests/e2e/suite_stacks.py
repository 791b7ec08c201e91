"""The e2e suite's clusters: releases, host layouts per mode, the hosts day-2 changes add, and the
stack config that deploys them. Shared by the lifecycle test and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.config_model import DEFAULT_VERSION
from tests.e2e.cluster_harness import Mirror
from tests.e2e.testhosts import TestNetwork

# Lifecycles run on two test workers side by side (scripts/test.sh: -n 2); each worker takes one of
# these groups whole (tests/e2e/conftest.py schedules them), the other e2e tests fill in where a
# worker is free. In the fresh-clone run of 36dddab (2026-12-03; e2e 57:23): async 2,832 s, single
# 574, local 222; controllers of their own 424, sync 1,324, multi 927, master-slave-auto about
# 630-930. Multi has since gained 4.9.x's ACL 1.0 turned on under traffic (alone: 940 s in all,
# about 300 more), so the local target moved to async's group: about 3,630 s and 3,700 s. The
# fresh-clone run of 8bf6f78 (2026-12-04): 3,429 s and 3,424 s. Since then async moves its admin
# under traffic (235 s alone) and sync turns ACL 1.0 on (about 300 s): about 3,700 s each. The
# longer group is the e2e run's length.
LIFECYCLE_WORKERS = {
    "master-slave-async": "lifecycles-1",
    "single-master": "lifecycles-1",
    "controllers-of-their-own": "lifecycles-2",
    "master-slave-sync": "lifecycles-2",
    "multi-master": "lifecycles-2",
    "master-slave-auto": "lifecycles-2",
    "local": "lifecycles-1",
}


# The test ids of the lifecycles, by the LIFECYCLE_WORKERS key each stands for.
_LIFECYCLE_TESTS = {
    "local": "test_local_stack_lifecycle",
    "master-slave-auto": "test_controller_mode_lifecycle",
    "controllers-of-their-own": "test_controllers_of_their_own",
}


def lifecycle_group(nodeid: str) -> str | None:
    """The LIFECYCLE_WORKERS group of the test ``nodeid``, or None for the other e2e tests."""
    for lifecycle, group in LIFECYCLE_WORKERS.items():
        if nodeid.endswith(f"::test_cluster_lifecycle[{lifecycle}]") or nodeid.endswith(
            f"::{_LIFECYCLE_TESTS.get(lifecycle, '-')}"
        ):
            return group
    return None


UPGRADE_VERSION = "5.5.0"  # single-master upgrades to it from the default, through a corrupted download
# 4.9.x must work too: multi-master and master-slave-sync start on it (4.9.8's server jars are not on
# Maven Central), and their clients are 4.9.7's: a 5.x client finds no topic route on 4.9.x name servers.
VERSIONS_BY_MODE = {
    "single-master": [DEFAULT_VERSION, UPGRADE_VERSION],
    "multi-master": ["4.9.7"],
    "master-slave-async": [DEFAULT_VERSION],
    "master-slave-sync": ["4.9.7"],
    "master-slave-auto": [DEFAULT_VERSION],
}
# A release change and back under traffic, rolling. 5.5.0 refuses slaves, so the master-slave modes
# go between 4.9.7 and 5.4.0: sync up from 4.9.7 and back, async (on 5.4.0 for its 5.x topic
# attributes) down to 4.9.7 and back up.
RELEASE_ROUND_TRIP = {
    "multi-master": DEFAULT_VERSION,
    "master-slave-sync": DEFAULT_VERSION,
    "master-slave-async": "4.9.7",
}
HOST_NAMES = [f"n{i}" for i in range(1, 11)]
# The suite's clients refresh topic routes every 5 s and say so (clientRouteRefreshSeconds), and
# brokers register every 10 s (RocketMQ's shortest): rolling waits are 15 s instead of 40 s.
ROUTE_REFRESH_SECONDS = 5
BROKER_PROPERTIES = {
    "registerNameServerPeriod": "10000",
    # Two lifecycles' JVMs share 2 cores: a send can wait in a busy broker's queue longer than
    # RocketMQ's 200 ms, which the broker answers with TIMEOUT_CLEAN_QUEUE (SYSTEM_BUSY), a code
    # RocketMQ's 4.9.x producer does not retry (CI saw 1 of 7,152 sends fail so).
    "waitTimeMillsInSendQueue": "1000",
}
# From the first up: brokers that create no topic themselves, as README advises once topics are declared.
EXTRA_BROKER_PROPERTIES: dict[str, dict[str, str]] = {"master-slave-async": {"autoCreateTopicEnable": "false"}}

# RocketMQ's Prometheus exporter (`metrics: true`, 5.x only) from the first up, in the lifecycle that
# stays on 5.x; the exporter's port on hosts (RocketMQ's default).
METRICS_MODES = frozenset({"single-master"})
# rocketmq:tls (tests/e2e/tls_scenario.py), one lifecycle per release line, each also going to the
# other line and back: enforcing from the first up (the controllers of their own run so too,
# tests/e2e/test_controller_e2e.py) ...
TLS_MODES = frozenset({"master-slave-async"})
# ... or turned on for the running cluster as the README says, riding the release round trip's
# rolling restarts: permissive on the way out, enforcing on the way back.
TLS_TURNED_ON = frozenset({"multi-master"})
# Proxies on hosts of their own (proxy: cluster, tests/e2e/proxy_scenario.py), on hosts the layout leaves free.
PROXY_HOSTS = {"single-master": ("n2", "n3")}
METRICS_PORT = 5557

# Day-2 changes under traffic (tests/e2e/scale_scenario.py) on hosts a mode's layout leaves free:
# a name server added on a broker host ...
ADDED_NAME_SERVER = {"multi-master": "n4", "master-slave-async": "n4", "master-slave-sync": "n4"}
# ... a second slave for each group, added and removed again ...
ADDED_SLAVES: dict[str, list[dict[str, Any]]] = {
    "master-slave-async": [{"host": "n7", "broker": "broker-a/2"}, {"host": "n8", "broker": "broker-b/2"}],
    "master-slave-sync": [{"host": "n7", "broker": "broker-a/2"}, {"host": "n8", "broker": "broker-b/2"}],
}
# ... and a group added and drained again.
SCALE_OUT: dict[str, list[dict[str, Any]]] = {
    "multi-master": [{"host": "n6", "broker": "broker-c/0"}],
    "master-slave-async": [{"host": "n5", "broker": "broker-c/0"}, {"host": "n6", "broker": "broker-c/1"}],
    "master-slave-sync": [{"host": "n9", "broker": "broker-c/0"}, {"host": "n10", "broker": "broker-c/1"}],
}
# Placement per mode on the first six hosts: name servers and brokers colocated in single-master and
# master-slave-async, apart in multi-master and (mostly) master-slave-sync.
LAYOUTS: dict[str, list[dict[str, Any]]] = {
    "single-master": [{"host": "n1", "nameServer": True, "broker": "broker-a/0"}],
    "multi-master": [
        {"host": "n1", "nameServer": True},
        {"host": "n2", "nameServer": True},
        {"host": "n3", "nameServer": True},
        {"host": "n4", "broker": "broker-a/0"},
        {"host": "n5", "broker": "broker-b/0"},
    ],
    "master-slave-async": [
        {"host": "n1", "nameServer": True, "broker": "broker-a/0"},
        {"host": "n2", "nameServer": True, "broker": "broker-b/0"},
        {"host": "n3", "nameServer": True, "broker": "broker-a/1"},
        {"host": "n4", "broker": "broker-b/1"},
    ],
    # Three name servers, each with a controller; two groups of two replicas.
    "master-slave-auto": [
        {"host": "n1", "nameServer": True, "broker": "broker-a/0"},
        {"host": "n2", "nameServer": True, "broker": "broker-b/0"},
        {"host": "n3", "nameServer": True, "broker": "broker-a/1"},
        {"host": "n4", "broker": "broker-b/1"},
    ],
    "master-slave-sync": [
        {"host": "n1", "nameServer": True},
        {"host": "n2", "nameServer": True},
        {"host": "n3", "nameServer": True, "broker": "broker-b/1"},
        {"host": "n4", "broker": "broker-a/0"},
        {"host": "n5", "broker": "broker-a/1"},
        {"host": "n6", "broker": "broker-b/0"},
    ],
}


# master-slave-auto with a controller on a host of its own (controller: true): one group of two.
OWN_CONTROLLER_LAYOUT: list[dict[str, Any]] = [
    {"host": "n1", "nameServer": True, "broker": "broker-a/0"},
    {"host": "n2", "broker": "broker-a/1"},
    {"host": "n3", "controller": True},
    {"host": "n4", "proxy": True},
]


def placed(net: TestNetwork, placements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stack `hosts` entries for placements ({"host", "broker"/"nameServer"}) on the test hosts."""
    hosts = []
    for placement in placements:
        entry: dict[str, Any] = {"name": placement["host"], "address": net.host(placement["host"]).address}
        entry.update({k: v for k, v in placement.items() if k != "host"})
        hosts.append(entry)
    return hosts


def stack_hosts(mode: str, net: TestNetwork) -> list[dict[str, Any]]:
    return placed(net, LAYOUTS[mode])


def stack_config(
    mode: str,
    net: TestNetwork,
    mirror: Mirror,
    version: str,
    *,
    fast_route_refresh: bool = True,
    layout: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The lifecycle's stack config, on the mode's layout unless another is given; without
    ``fast_route_refresh``, RocketMQ's default route refresh and registration period (benchmarks:
    figures for what users get)."""
    hosts = placed(net, LAYOUTS[mode] if layout is None else layout)
    waits: dict[str, Any] = {"clientRouteRefreshSeconds": ROUTE_REFRESH_SECONDS} if fast_route_refresh else {}
    return {
        "target": "hosts",
        "mode": mode,
        "nameServers": sum(1 for h in hosts if h.get("nameServer")),
        "brokerGroups": len({h["broker"].split("/")[0] for h in hosts if h.get("broker")}),
        "sshUser": "deploy",
        "hosts": hosts,
        # The test hosts' keys, as the harness made them: every connection pins them.
        "sshHostKeysFile": str(net.known_hosts_path),
        "version": version,
        "mirror": mirror.url,
        "nameServerHeap": "128m",
        "brokerHeap": "256m",
        "readyTimeoutSeconds": 180,
        "brokerProperties": broker_properties(mode, fast_route_refresh=fast_route_refresh),
        # Access control is on by default; the lifecycles that check it turn it on themselves
        # (tests/e2e/acl_scenario.py), the others check what works the same either way.
        "acl": False,
        **waits,
    }


def broker_properties(mode: str, *, fast_route_refresh: bool = True, **changed: str) -> dict[str, str]:
    return {**(BROKER_PROPERTIES if fast_route_refresh else {}), **EXTRA_BROKER_PROPERTIES.get(mode, {}), **changed}


def replicas_by_group(net: TestNetwork, mode: str) -> dict[str, set[str]]:
    """Each group's broker addresses (master-slave-auto: the controllers decide which is master)."""
    groups: dict[str, set[str]] = {}
    for name, _, address in expected_brokers(net, mode):
        groups.setdefault(name, set()).add(address)
    return groups


def expected_brokers(net: TestNetwork, mode: str) -> set[tuple[str, int, str]]:
    expected = set()
    for placement in LAYOUTS[mode]:
        if "broker" in placement:
            name, broker_id = placement["broker"].split("/")
            expected.add((name, int(broker_id), f"{net.host(placement['host']).address}:10911"))
    return expected


def hosts_with(net: TestNetwork, mode: str, role: str) -> list[Any]:
    return [net.host(p["host"]) for p in LAYOUTS[mode] if p.get(role)]


def broker_host(net: TestNetwork, mode: str, label: str) -> Any:
    return next(net.host(p["host"]) for p in LAYOUTS[mode] if p.get("broker") == label)
