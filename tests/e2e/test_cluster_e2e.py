"""Real end-to-end: the real Pulumi engine runs `pulumi up` (target: hosts) onto systemd-nspawn
hosts and brings up real RocketMQ, in every mode; RocketMQ's own tools and client check it.

Each mode's lifecycle is one test because its steps build on each other; every step says what
failed. Hosts are fresh per mode and torn down on failure too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.tls_certificates import new_authority
from components.topology import BROKER_PORT
from tests.e2e import rocketmq_dist
from tests.e2e.acl_scenario import (
    Clients,
    acl_1_0_turned_on_under_traffic,
    acl_turned_on_under_traffic,
    admin_moved_under_traffic,
)
from tests.e2e.cluster_harness import (
    PulumiStack,
    broker_jvm_pid,
    broker_jvm_pids,
    commitlog_offset,
    copy_program,
    create_topic,
    mqadmin,
    places_holding,
    prometheus_samples,
    service_pid,
    start_mirror,
    wait_for_cluster,
    wait_until,
)
from tests.e2e.failure_scenario import a_broker_that_never_becomes_healthy_fails_up
from tests.e2e.proxy_scenario import PROXY_UNIT, proxies_in_the_brokers, proxies_of_their_own
from tests.e2e.scale_scenario import (
    RunningCluster,
    add_a_name_server,
    add_and_drain_a_group,
    add_and_remove_slaves,
    adding_a_name_server,
    change_release_and_back,
    name_server_added,
)
from tests.e2e.suite_stacks import (
    ADDED_NAME_SERVER,
    ADDED_SLAVES,
    LAYOUTS,
    METRICS_MODES,
    METRICS_PORT,
    PROXY_HOSTS,
    RELEASE_ROUND_TRIP,
    ROUTE_REFRESH_SECONDS,
    SCALE_OUT,
    TLS_MODES,
    TLS_TURNED_ON,
    VERSIONS_BY_MODE,
    broker_host,
    broker_properties,
    expected_brokers,
    hosts_with,
    placed,
    stack_config,
    stack_hosts,
)
from tests.e2e.testhosts import TestNetwork
from tests.e2e.tls_scenario import (
    SdkTarget,
    check_permissive_lets_both_in,
    check_tls_files,
    check_tls_refuses_strangers,
    host_key_material,
)
from tests.e2e.topics_scenario import topics_and_groups_as_code
from tests.e2e.traffic import ClientTls, client_for, consume, produce

pytestmark = pytest.mark.e2e

MESSAGES = 1000
# Which worker runs which: suite_stacks.LIFECYCLE_WORKERS (scheduled by tests/e2e/conftest.py).
LIFECYCLES = ["master-slave-async", "single-master", "master-slave-sync", "multi-master"]
# master-slave-auto's lifecycle is tests/e2e/test_controller_e2e.py.
assert sorted([*LIFECYCLES, "master-slave-auto"]) == sorted(LAYOUTS), "every mode's lifecycle runs, once"


@pytest.mark.parametrize("mode", LIFECYCLES)
def test_cluster_lifecycle(
    mode: str,
    net: TestNetwork,
    engine_env: dict[str, str],
    client_classpaths: dict[str, str],
    tmp_path: Path,
    *,
    speak_tls: Callable[[ClientTls], None],
) -> None:
    versions = VERSIONS_BY_MODE[mode]
    client_classpath = client_for(client_classpaths, versions[-1])
    upgrade = len(versions) > 1
    mirror = start_mirror(
        net, tmp_path / "mirror", [*versions, *([RELEASE_ROUND_TRIP[mode]] if mode in RELEASE_ROUND_TRIP else [])]
    )
    stack = PulumiStack(net, engine_env, copy_program(tmp_path / "program"), tmp_path / "state", f"e2e-{mode}")
    key = net.private_key_path.read_text()
    first_version = versions[0]
    config = stack_config(mode, net, mirror, first_version)
    if mode in METRICS_MODES:
        config["metrics"] = True
    if mode in TLS_MODES:
        config["tls"] = "enforcing"
    stack.init(config, key)
    probe = hosts_with(net, mode, "broker")[0]
    expected = expected_brokers(net, mode)

    # -- the engine is upstream's: the CLI, the Python language host and the command provider
    about = stack.run("about", "--stack", stack.name).stdout
    assert re.search(r"^language\s+python\s+3\.259\.0\b", about, re.MULTILINE), about
    assert re.search(r"^resource\s+command\s+1\.2\.1\b", about, re.MULTILINE), about

    # -- preview, then up from empty
    preview = stack.run("preview", "--stack", stack.name)
    assert "create" in preview.stdout, preview.stdout
    stack.up()
    outputs = stack.outputs()
    ns_hosts = hosts_with(net, mode, "nameServer")
    assert outputs["nameServers"] == [f"{h.address}:9876" for h in ns_hosts]
    namesrv = outputs["namesrvAddr"]
    assert namesrv == ";".join(outputs["nameServers"])
    assert outputs["mode"] == mode and outputs["clusterName"] == "DefaultCluster"
    for name, entry in outputs["brokers"].items():
        assert (name, 0, entry["master"]) in expected
        assert {(name, i, a) for i, a in enumerate(entry["slaves"], start=1)} <= expected
    rows = wait_for_cluster(net, probe, namesrv, expected, timeout=60)
    assert {r.version for r in rows} == {"V" + first_version.replace(".", "_")}, rows
    key_material = key.strip().splitlines()[1]
    assert places_holding(net, net.hosts, stack, key_material) == [], "the private key shows in plaintext"
    first_hosts = [net.host(h["name"]) for h in config["hosts"]]
    if mode in TLS_TURNED_ON:
        assert outputs["caCertificate"] == "", "a CA without rocketmq:tls"
    if mode in TLS_MODES:
        # -- tls enforcing (tests/e2e/tls_scenario.py): every client from here on speaks TLS
        check_tls_files(net, first_hosts)
        speak_tls(ClientTls.trusting(outputs["caCertificate"], tmp_path / "client-tls"))

    # -- the program found the JDK baked into the image (java.env points at it)
    jdk_note = net.ssh(probe, "sudo -n cat /etc/rocketmq/java.env", check=True).stdout
    assert "/usr/lib/jvm/java-17" in jdk_note

    topic = "E2E_" + mode.upper().replace("-", "_")
    create_topic(net, probe, namesrv, "DefaultCluster", topic)
    if mode in TLS_MODES:
        # Plaintext clients (the SDK's too), and one trusting another CA, are refused; the one trusting the output CA sends.
        stranger = ClientTls.trusting(new_authority("e2e stranger")[0], tmp_path / "stranger")
        clients = Clients(net, client_classpath, namesrv)
        endpoints = outputs["proxyEndpoints"]
        proxies = SdkTarget(endpoints, topic + "_SDK", "e2e-sdk") if endpoints else None
        check_tls_refuses_strangers(clients, topic, None, stranger=stranger, proxies=proxies)
    produce(net, client_classpath, namesrv, topic, MESSAGES)
    consume(net, client_classpath, namesrv, topic, group="e2e-first", count=MESSAGES)
    if mode in METRICS_MODES:
        # -- every broker's Prometheus exporter answers where metricsTargets says, and counts the messages
        assert sorted(outputs["metricsTargets"]) == sorted(f"{a.split(':')[0]}:{METRICS_PORT}" for _, _, a in expected)
        for target in outputs["metricsTargets"]:
            wait_until(
                lambda t=target: _messages_in(net, t) >= MESSAGES, 60, f"{MESSAGES} messages in the metrics of {target}"
            )
    else:
        assert outputs["metricsTargets"] == [], outputs["metricsTargets"]
    if rocketmq_dist.is_5x(first_version):
        # -- 5.x's default proxy in every broker (tests/e2e/proxy_scenario.py)
        create_topic(net, probe, namesrv, "DefaultCluster", topic + "_SDK")  # later steps count what topic holds
        proxies_in_the_brokers(net, outputs, expected, topic=topic + "_SDK", messages=MESSAGES)
    else:
        assert outputs["proxyEndpoints"] == [], outputs["proxyEndpoints"]

    if mode == "master-slave-async":
        # -- topics and consumer groups declared in the stack (tests/e2e/topics_scenario.py)
        topics_and_groups_as_code(
            net, stack, probe=probe, namesrv=namesrv, classpath=client_classpath, messages=MESSAGES
        )

    if upgrade:
        # -- a corrupted zip: up fails clearly, the host keeps its working install, a fixed mirror succeeds
        next_version = versions[-1]
        mirror.corrupt(next_version)
        stack.set_config({"version": next_version})
        failed = stack.up(check=False)
        assert failed.returncode != 0
        assert "SHA-512 mismatch" in failed.stdout + failed.stderr, failed.stdout + failed.stderr
        current = net.ssh(probe, "readlink /opt/rocketmq/current", check=True).stdout.strip()
        assert current == f"versions/{first_version}"
        rows = wait_for_cluster(net, probe, namesrv, expected, timeout=30)
        assert {r.version for r in rows} == {"V" + first_version.replace(".", "_")}
        mirror.repair(next_version)
        stack.up()
        rows = wait_for_cluster(net, probe, namesrv, expected, timeout=60)
        assert {r.version for r in rows} == {"V" + next_version.replace(".", "_")}, rows
        consume(net, client_classpath, namesrv, topic, group="e2e-after-upgrade", count=MESSAGES)

    # -- up again: nothing changes, nothing runs
    pids_before = {h.name: service_pid(net, h, "rocketmq-broker.service") for h in hosts_with(net, mode, "broker")}
    stack.run("preview", "--stack", stack.name, "--expect-no-changes")
    stack.up("--expect-no-changes")
    assert {
        h.name: service_pid(net, h, "rocketmq-broker.service") for h in hosts_with(net, mode, "broker")
    } == pids_before

    # -- a setting the running brokers read as they go: applied with updateBrokerConfig, nothing restarts
    broker_hosts = hosts_with(net, mode, "broker")
    stack.set_config({"fileReservedTime": 24})
    stack.up()
    for host in broker_hosts:
        assert service_pid(net, host, "rocketmq-broker.service") == pids_before[host.name], f"{host} restarted"
        assert "fileReservedTime=24" in net.ssh(host, "cat /etc/rocketmq/broker.conf", check=True).stdout
        shown = mqadmin(net, probe, namesrv, "getBrokerConfig", "-b", f"{host.address}:{BROKER_PORT}")
        assert re.search(r"^fileReservedTime\s*=\s*24\s*$", shown, re.MULTILINE), f"{host}: {shown}"

    # -- a setting read only at start, with a producer and a consumer running through the change:
    # only brokers restart, one at a time; every acknowledged message is consumed. Where the release
    # changes and back later (RELEASE_ROUND_TRIP), the setting rides the way out's rolling restart
    # instead: one up for both, as a user would make them, and four broker restarts fewer.
    steady_topic = "E2E_STEADY"
    create_topic(net, probe, namesrv, "DefaultCluster", steady_topic)
    cluster = RunningCluster(
        net,
        stack,
        probe,
        namesrv,
        client_classpath,
        steady_topic,
        expected,
        route_refresh_seconds=ROUTE_REFRESH_SECONDS,
    )
    read_at_start = {"brokerProperties": broker_properties(mode, maxMessageSize="4194304")}
    if mode not in RELEASE_ROUND_TRIP:
        every_broker = {address for _, _, address in expected}
        ns_pids = {h.name: service_pid(net, h, "rocketmq-namesrv.service") for h in ns_hosts}
        restarted = cluster.change("a setting read at start (maxMessageSize)", read_at_start)
        # single-master has nowhere else to send while its broker restarts: it reports how long sends failed.
        restarted.check(most_down=1, sends_may_fail=mode == "single-master")
        assert restarted.seen_stopped == every_broker, f"stopped during the change: {sorted(restarted.seen_stopped)}"
        for host in broker_hosts:
            assert service_pid(net, host, "rocketmq-broker.service") != pids_before[host.name], (
                f"{host} broker not restarted"
            )
        assert {h.name: service_pid(net, h, "rocketmq-namesrv.service") for h in ns_hosts} == ns_pids
        _check_read_at_start_applied(net, broker_hosts)
        wait_for_cluster(net, probe, namesrv, expected)
        consume(net, client_classpath, namesrv, topic, group="e2e-after-change", count=MESSAGES)
    if mode in PROXY_HOSTS:
        # -- proxies on hosts of their own (tests/e2e/proxy_scenario.py)
        proxies_of_their_own(
            net,
            stack,
            hosts=stack_hosts(mode, net),
            proxy_hosts=PROXY_HOSTS[mode],
            broker_hosts=broker_hosts,
            topic=topic + "_SDK",
            messages=MESSAGES,
            metrics_port=METRICS_PORT if mode in METRICS_MODES else None,
        )

    hosts = stack_hosts(mode, net)
    grown = [{**h, "nameServer": True} if h["name"] == ADDED_NAME_SERVER.get(mode) else h for h in hosts]
    if mode in RELEASE_ROUND_TRIP:
        other = RELEASE_ROUND_TRIP[mode]
        # Traffic through the round trip comes from the older release's client (see client_classpaths).
        older = min(first_version, other, key=lambda v: tuple(int(p) for p in v.split(".")))
        round_trip = dataclasses.replace(cluster, classpath=client_for(client_classpaths, older))
        # A name server is added on the way back: both need every broker restarted, once.
        adds_name_server = mode in ADDED_NAME_SERVER
        out_with: dict[str, Any] = dict(read_at_start)
        back_with: dict[str, Any] = adding_a_name_server(grown) if adds_name_server else {}
        between: Callable[[], None] | None = None
        if mode in TLS_TURNED_ON:
            # -- tls turned on for the running cluster as the README says, riding the round trip's
            # rolling restarts (tests/e2e/tls_scenario.py): permissive on the way out lets plaintext
            # and TLS clients in; the clients then move to TLS; enforcing on the way back.
            out_with["tls"], back_with["tls"] = "permissive", "enforcing"

            def clients_move_to_tls() -> None:
                check_tls_files(net, first_hosts)
                tls = ClientTls.trusting(stack.outputs()["caCertificate"], tmp_path / "client-tls")
                tls_topic = topic + "_TLS"  # later steps count what topic holds
                create_topic(net, probe, namesrv, "DefaultCluster", tls_topic)
                check_permissive_lets_both_in(Clients(net, client_classpath, namesrv), tls_topic, tls)
                speak_tls(tls)

            between = clients_move_to_tls

        change_release_and_back(
            round_trip, first_version, other, ns_hosts=ns_hosts, out_with=out_with, back_with=back_with, between=between
        )
        _check_read_at_start_applied(net, broker_hosts)
        consume(net, client_classpath, namesrv, topic, group="e2e-after-change", count=MESSAGES)
        if adds_name_server:
            cluster = dataclasses.replace(cluster, namesrv=name_server_added(cluster, grown))
        if mode in TLS_TURNED_ON:
            stranger = ClientTls.trusting(new_authority("e2e stranger")[0], tmp_path / "stranger")
            check_tls_refuses_strangers(Clients(net, client_classpath, cluster.namesrv), topic, None, stranger=stranger)
    elif mode in ADDED_NAME_SERVER:
        cluster = dataclasses.replace(cluster, namesrv=add_a_name_server(cluster, grown))
    if mode in ADDED_NAME_SERVER:
        hosts, namesrv = grown, cluster.namesrv
    if mode in ADDED_SLAVES:
        add_and_remove_slaves(cluster, lambda extra: hosts + placed(net, extra), ADDED_SLAVES[mode])
    if mode in SCALE_OUT:
        add_and_drain_a_group(cluster, lambda extra: hosts + placed(net, extra), SCALE_OUT[mode])

    # -- SIGKILL the broker JVM: systemd brings it back and it registers again
    victim = broker_host(net, mode, "broker-a/0")
    killed = broker_jvm_pid(net, victim)
    net.ssh(victim, f"sudo -n kill -9 {killed}", check=True)
    wait_until(lambda: _new_jvm(net, victim, killed), 90, f"a new broker JVM on {victim}")
    wait_for_cluster(net, probe, namesrv, expected)

    # -- reboot a host: its services come back by themselves
    rebooted = ns_hosts[-1] if len(ns_hosts) > 1 else victim
    net.reboot(rebooted)
    for unit in ("rocketmq-namesrv.service", "rocketmq-broker.service"):
        enabled = net.ssh(rebooted, f"systemctl is-enabled {unit}").stdout.strip()
        if enabled == "enabled":
            wait_until(
                lambda u=unit: net.ssh(rebooted, f"systemctl is-active {u}").stdout.strip() == "active",
                120,
                f"{unit} on {rebooted}",
            )
    # A client may ask any name server: each must know every broker and the topic again (a
    # rebooted one learns them at the brokers' next registration, within 30 s).
    for name_server in namesrv.split(";"):
        wait_for_cluster(net, probe, name_server, expected)
        wait_until(
            lambda ns=name_server: '"brokerName"' in mqadmin(net, probe, ns, "topicRoute", "-t", topic),
            60,
            f"the route of {topic} on {name_server}",
        )
    produce(net, client_classpath, namesrv, topic, MESSAGES)
    consume(net, client_classpath, namesrv, topic, group="e2e-after-reboot", count=2 * MESSAGES)

    if mode == "single-master":
        a_broker_that_never_becomes_healthy_fails_up(
            net, stack, victim, probe=probe, namesrv=namesrv, expected=expected
        )

    if mode == "master-slave-async":
        # -- stop a master: a group that read from it resumes on its slave, nothing re-read or skipped
        ha_topic, ha_group = "E2E_HA", "e2e-ha"
        master = broker_host(net, mode, "broker-a/0")
        slave = broker_host(net, mode, "broker-a/1")
        create_topic(net, probe, namesrv, "DefaultCluster", ha_topic)
        produce(net, client_classpath, namesrv, ha_topic, MESSAGES)
        consume(net, client_classpath, namesrv, ha_topic, group=ha_group, count=MESSAGES)
        on_master: dict[int, tuple[int, int]] = {}

        def master_has_all_offsets() -> bool:
            on_master.update(_consumer_offsets(net, probe, namesrv, master, topic=ha_topic, group=ha_group))
            return bool(on_master) and all(b == c for b, c in on_master.values())

        wait_until(master_has_all_offsets, 60, f"{ha_group}'s offsets on broker-a's master")
        new_keys = set(produce(net, client_classpath, namesrv, ha_topic, MESSAGES, verbose=True))
        committed = {q: c for q, (_, c) in on_master.items()}

        def slave_caught_up() -> bool:
            # The slave copies topic configs and consumer offsets from its master about once a minute.
            on_slave = _consumer_offsets(net, probe, namesrv, slave, topic=ha_topic, group=ha_group)
            if {q: c for q, (_, c) in on_slave.items()} != committed:
                return False
            return commitlog_offset(net, probe, namesrv, master) == commitlog_offset(net, probe, namesrv, slave)

        wait_until(slave_caught_up, 180, f"broker-a's slave to hold {ha_topic}, {ha_group}'s offsets and all messages")
        net.ssh(master, "sudo -n systemctl stop rocketmq-broker.service", check=True)
        # A consumer that starts while the name servers still list the master never reads its queues.
        wait_until(
            lambda: f"{master.address}:10911" not in mqadmin(net, probe, namesrv, "topicRoute", "-t", ha_topic),
            60,
            "the name servers to drop the stopped master",
        )
        got = consume(net, client_classpath, namesrv, ha_topic, group=ha_group, count=MESSAGES, verbose=True)
        assert set(got) == new_keys, f"{len(set(got) - new_keys)} re-read, {len(new_keys - set(got))} missing"
        net.ssh(master, "sudo -n systemctl start rocketmq-broker.service", check=True)

        # -- acl turned on for the running cluster, whose proxies run inside the brokers
        # (tests/e2e/acl_scenario.py): one broker restarts at a time, then every grant holds
        wait_for_cluster(net, probe, namesrv, expected)
        users = acl_turned_on_under_traffic(
            cluster,
            hosts=[net.host(h["name"]) for h in hosts],
            broker_hosts=broker_hosts,
            proxy_endpoints=stack.outputs()["proxyEndpoints"],
        )
        # -- the admin's password changed: moved to an admin of another name, one broker restarting at a time
        admin_moved_under_traffic(
            cluster,
            users,
            hosts=[net.host(h["name"]) for h in hosts],
            broker_hosts=broker_hosts,
            proxy_endpoints=stack.outputs()["proxyEndpoints"],
        )

    if mode in ("multi-master", "master-slave-sync"):
        # -- ACL 1.0 (4.9.x's plain_acl.yml) turned on for the running cluster in one up
        # (tests/e2e/acl_scenario.py): one broker restarts at a time, then every grant holds,
        # and the slaves still copy their masters' topics
        wait_for_cluster(net, probe, namesrv, expected)
        acl_1_0_turned_on_under_traffic(
            cluster,
            hosts=[net.host(h["name"]) for h in hosts],
            broker_hosts=broker_hosts,
            slave_hosts=[net.host(p["host"]) for p in LAYOUTS[mode] if p.get("broker", "/0").split("/")[1] != "0"],
        )

    if mode in TLS_MODES | TLS_TURNED_ON:
        tls_key = host_key_material(net, first_hosts[0])
        assert places_holding(net, net.hosts, stack, tls_key) == [], "a host's TLS key shows in plaintext"

    # -- destroy: services stopped and disabled on every host
    stack.run("destroy", "--yes", "--skip-preview", "--stack", stack.name)
    for name in [p["host"] for p in LAYOUTS[mode]] + list(PROXY_HOSTS.get(mode, ())):
        host = net.host(name)
        for unit in ("rocketmq-namesrv.service", "rocketmq-broker.service", PROXY_UNIT):
            assert net.ssh(host, f"systemctl is-active {unit}").stdout.strip() != "active", f"{unit} on {host}"
            assert net.ssh(host, f"systemctl is-enabled {unit}").stdout.strip() != "enabled", f"{unit} on {host}"
        assert "java" not in net.ssh(host, "ps -u rocketmq -o args= || true").stdout


def _check_read_at_start_applied(net: TestNetwork, broker_hosts: list[Any]) -> None:
    """maxMessageSize is in every broker's broker.conf, and no broker's stop broke its store."""
    for host in broker_hosts:
        conf = net.ssh(host, "cat /etc/rocketmq/broker.conf", check=True).stdout
        assert "maxMessageSize=4194304" in conf, f"{host}: {conf}"
        # Apache's 4.9.x launchers on JDK 17 without the program's module flags: the shutdown hook
        # throws this, and the next start refuses the store.
        journal = net.ssh(host, "sudo -n journalctl --no-pager -u rocketmq-broker.service", check=True).stdout
        assert "InaccessibleObjectException" not in journal, f"{host}: {journal[-3000:]}"


def _messages_in(net: TestNetwork, target: str) -> float:
    """What RocketMQ's rocketmq_messages_in_total counter says, whatever unit suffix the exporter adds."""
    samples = prometheus_samples(net, target)
    return sum(value for name, value in samples.items() if name.startswith("rocketmq_messages_in"))


def _new_jvm(net: TestNetwork, host: Any, old_pid: int) -> bool:
    pids = broker_jvm_pids(net, host)
    return len(pids) == 1 and pids[0] != old_pid


def _consumer_offsets(
    net: TestNetwork, probe: Any, namesrv: str, broker: Any, *, topic: str, group: str
) -> dict[int, tuple[int, int]]:
    stats = mqadmin(net, probe, namesrv, "brokerConsumeStats", "-b", f"{broker.address}:10911")
    return rocketmq_dist.consumer_offsets(stats, topic, group)
