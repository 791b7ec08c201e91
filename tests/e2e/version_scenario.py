"""E2E scenario: a running cluster moves to another RocketMQ release and back, with a producer
and a consumer running through both changes.

Each is one rolling change: the new release is unpacked next to the old one, then name servers
and brokers restart one at a time on the same store. The old release stays on disk, so going
back is the same change with the old version. No change loses an acknowledged message or fails
a send, and no two brokers are down at once.
"""

from __future__ import annotations

from tests.e2e.cluster_harness import cluster_list, wait_for_cluster
from tests.e2e.scale_scenario import RunningCluster


def release_tag(version: str) -> str:
    """The version clusterList shows for a release: V5_4_0 for 5.4.0."""
    return "V" + version.replace(".", "_")


def to_a_release_and_back(cluster: RunningCluster, *, running: str, other: str) -> None:
    """Rolls the cluster from release ``running`` to ``other`` and back, under traffic. The
    stack's mirror serves both; the clients' classpath must speak to both."""
    net, probe, namesrv, expected = cluster.net, cluster.probe, cluster.namesrv, cluster.expected
    every_broker = {address for _, _, address in expected}
    broker_hosts = {net.host(address.split(":")[0]) for address in every_broker}
    for version in (other, running):
        changed = cluster.change(f"version {version}", {"version": version})
        changed.check(most_down=1)
        assert changed.seen_stopped == every_broker, f"stopped during the change: {sorted(changed.seen_stopped)}"
        rows = wait_for_cluster(net, probe, namesrv, expected, timeout=60)
        assert {r.version for r in rows} == {release_tag(version)}, rows
        for host in broker_hosts:
            kept = net.ssh(host, "ls /opt/rocketmq/versions", check=True).stdout.split()
            assert {running, other} <= set(kept), f"{host}: releases on disk {kept}"
    assert {r.version for r in cluster_list(net, probe, namesrv)} == {release_tag(running)}
