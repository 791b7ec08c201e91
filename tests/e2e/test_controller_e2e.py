"""Real end-to-end, master-slave-auto (RocketMQ 5's controller mode): three name servers with a
controller each, two groups of two replicas. A master killed with SIGKILL and kept dead is replaced
by its slave while a producer and a consumer run; nothing acknowledged is lost. The old master comes
back as a slave and catches up. A rolling broker-config change then hands each master's role over
before it restarts, again without losing an acknowledged message.

A second, smaller lifecycle runs the controller on a host of its own (controller: true): it elects
the master at start and again when the master is killed. Its hosts run firewalld, which lets in
only SSH until the program opens each host's ports to whom they serve. Its brokers and its proxy
(on a host of its own) check every request against the users and grants (rocketmq:acl).

One lifecycle, one test: its steps build on each other. Hosts are fresh and torn down on failure too.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from components.acl_settings import TOOLS_YML
from components.tls_certificates import new_authority
from components.tls_settings import CERTIFICATE_FILE
from tests.e2e.acl_scenario import (
    SDK_GROUP,
    AclUsers,
    Clients,
    check_changed_password,
    check_credential_files,
    check_proxy_checks_clients,
    check_who_may_do_what,
    passwords_in_plaintext,
)
from tests.e2e.cluster_harness import (
    PulumiStack,
    broker_jvm_pid,
    commitlog_offset,
    connects,
    copy_program,
    create_topic,
    mqadmin_run,
    places_holding,
    registered_brokers,
    service_pid,
    start_mirror,
    wait_for_elected_masters,
    wait_until,
)
from tests.e2e.scale_scenario import BROKER_UNIT, NAMESRV_UNIT, RunningCluster
from tests.e2e.suite_stacks import (
    LAYOUTS,
    OWN_CONTROLLER_LAYOUT,
    ROUTE_REFRESH_SECONDS,
    VERSIONS_BY_MODE,
    broker_properties,
    hosts_with,
    replicas_by_group,
    stack_config,
)
from tests.e2e.testhosts import Host, TestNetwork
from tests.e2e.tls_scenario import SdkTarget, check_tls_files, check_tls_refuses_strangers, host_key_material
from tests.e2e.traffic import ClientTls, SteadyTraffic, client_for, clients_speaking, consume, produce

pytestmark = pytest.mark.e2e

MODE = "master-slave-auto"
MESSAGES = 1000
CONTROLLER_UNIT = "rocketmq-controller.service"
# Sends and reads go on this long after the new master is listed: long enough for every client to
# refresh its routes (every ROUTE_REFRESH_SECONDS) a few times.
AFTER_FAILOVER_SECONDS = 20


def test_controller_mode_lifecycle(
    net: TestNetwork, engine_env: dict[str, str], client_classpaths: dict[str, str], tmp_path: Path
) -> None:
    (version,) = VERSIONS_BY_MODE[MODE]
    classpath = client_for(client_classpaths, version)
    mirror = start_mirror(net, tmp_path / "mirror", [version])
    stack = PulumiStack(net, engine_env, copy_program(tmp_path / "program"), tmp_path / "state", f"e2e-{MODE}")
    stack.init(stack_config(MODE, net, mirror, version), net.private_key_path.read_text())
    replicas = replicas_by_group(net, MODE)
    brokers = {net.host(a.split(":")[0]) for addresses in replicas.values() for a in addresses}
    probe = hosts_with(net, MODE, "nameServer")[0]

    # -- up from empty: every replica registered, one master per group, as the outputs say
    stack.up()
    outputs = stack.outputs()
    namesrv = outputs["namesrvAddr"]
    masters = wait_for_elected_masters(net, probe, namesrv, replicas, timeout=120)
    assert outputs["mode"] == MODE and outputs["proxyEndpoints"] == []
    for name, entry in outputs["brokers"].items():
        assert set(entry["replicas"]) == replicas[name], entry
        assert entry["master"] in replicas[name], entry  # as the group's last step saw it
    for host in hosts_with(net, MODE, "nameServer"):
        conf = net.ssh(host, "cat /etc/rocketmq/namesrv.conf", check=True).stdout
        assert "enableControllerInNamesrv=true" in conf and "controllerDLegerSelfId=n" in conf

    topic = "E2E_AUTO"
    create_topic(net, probe, namesrv, "DefaultCluster", topic)
    produce(net, classpath, namesrv, topic, MESSAGES)
    consume(net, classpath, namesrv, topic, group="e2e-auto-first", count=MESSAGES)

    # -- SIGKILL broker-a's master and keep it dead, with a producer and a consumer running
    failover_topic = "E2E_FAILOVER"
    create_topic(net, probe, namesrv, "DefaultCluster", failover_topic)
    old_master = net.host(masters["broker-a"].split(":")[0])
    with SteadyTraffic(
        net, classpath, namesrv, failover_topic, "e2e-failover", route_refresh_seconds=ROUTE_REFRESH_SECONDS
    ) as traffic:
        time.sleep(ROUTE_REFRESH_SECONDS * 2)  # both groups take sends before the kill
        killed = broker_jvm_pid(net, old_master)
        # Stopping the unit at once keeps systemd from starting it again (it would in 5 s).
        net.ssh(old_master, f"sudo -n kill -9 {killed}; sudo -n systemctl stop {BROKER_UNIT}", check=True)
        started = time.monotonic()
        new_master = _wait_for_new_master(net, probe, namesrv, "broker-a", replaced=masters["broker-a"])
        elected_after = time.monotonic() - started
        written_before = commitlog_offset(net, probe, namesrv, net.host(new_master.split(":")[0]))
        time.sleep(AFTER_FAILOVER_SECONDS)
    result = traffic.result
    assert result is not None
    print(
        f"\nfailover: broker-a's slave {new_master} listed as master {elected_after:.1f}s after SIGKILL of "
        f"{masters['broker-a']}; sent {result.sent}, acked {result.acked} ({result.not_ok} not SEND_OK), "
        f"failed {result.failed} over {result.failing_seconds:.1f}s, received {result.received}, "
        f"lost {result.lost}, duplicates {result.duplicates}"
    )
    assert result.acked > 0 and result.lost == 0, result.output
    assert elected_after < 30, f"the slave took {elected_after:.1f}s to become master"
    # Sends to broker-a resumed on its new master.
    assert commitlog_offset(net, probe, namesrv, net.host(new_master.split(":")[0])) > written_before

    # -- the old master comes back as a slave and catches up with the new one
    net.ssh(old_master, f"sudo -n systemctl start {BROKER_UNIT}", check=True)
    masters = wait_for_elected_masters(net, probe, namesrv, replicas, timeout=120)
    assert masters["broker-a"] == new_master, masters
    wait_until(
        lambda: (
            commitlog_offset(net, probe, namesrv, old_master)
            == commitlog_offset(net, probe, namesrv, net.host(new_master.split(":")[0]))
        ),
        120,
        f"{old_master} to catch up with broker-a's new master {new_master}",
    )

    # -- a setting read only at start, under traffic: each master hands its role over, then restarts
    registered = registered_brokers(net, probe, namesrv)
    assert registered is not None
    pids_before = {h.name: service_pid(net, h, BROKER_UNIT) for h in brokers}
    ns_pids = {h.name: service_pid(net, h, NAMESRV_UNIT) for h in hosts_with(net, MODE, "nameServer")}
    steady_topic = "E2E_STEADY"
    create_topic(net, probe, namesrv, "DefaultCluster", steady_topic)
    cluster = RunningCluster(
        net, stack, probe, namesrv, classpath, steady_topic, registered, route_refresh_seconds=ROUTE_REFRESH_SECONDS
    )
    epochs = {name: _master_epoch(net, probe, namesrv, name) for name in replicas}
    changed = cluster.change("a setting read at start (maxMessageSize)", {"brokerProperties": _max_message_size()})
    changed.check(most_down=1)
    assert changed.seen_stopped == {a for addresses in replicas.values() for a in addresses}
    # Each group's master handed its role over before it restarted: the controllers elected again.
    for name, epoch in epochs.items():
        assert _master_epoch(net, probe, namesrv, name) > epoch, f"{name}: no election during the change"
    for host in brokers:
        assert service_pid(net, host, BROKER_UNIT) != pids_before[host.name], f"{host} broker not restarted"
        assert "maxMessageSize=4194304" in net.ssh(host, "cat /etc/rocketmq/broker.conf", check=True).stdout
    assert {h.name: service_pid(net, h, NAMESRV_UNIT) for h in hosts_with(net, MODE, "nameServer")} == ns_pids
    masters = wait_for_elected_masters(net, probe, namesrv, replicas)
    assert {name: entry["master"] for name, entry in stack.outputs()["brokers"].items()} == masters
    consume(net, classpath, namesrv, topic, group="e2e-auto-after-change", count=MESSAGES)

    # -- destroy: services stopped and disabled on every host
    stack.run("destroy", "--yes", "--skip-preview", "--stack", stack.name)
    for name in (p["host"] for p in LAYOUTS[MODE]):
        host = net.host(name)
        for unit in (NAMESRV_UNIT, BROKER_UNIT):
            assert net.ssh(host, f"systemctl is-active {unit}").stdout.strip() != "active", f"{unit} on {host}"
        assert "java" not in net.ssh(host, "ps -u rocketmq -o args= || true").stdout


def test_controllers_of_their_own(
    engine_env: dict[str, str], client_classpaths: dict[str, str], tmp_path: Path
) -> None:
    (version,) = VERSIONS_BY_MODE[MODE]
    classpath = client_for(client_classpaths, version)
    # firewalld needs CAP_NET_ADMIN, which nspawn keeps only when asked; each host has its own netns.
    names = ["n1", "n2", "n3", "n4"]
    with TestNetwork(len(names), host_names=names, extra_nspawn_args=["--capability=CAP_NET_ADMIN"]) as net:
        mirror = start_mirror(net, tmp_path / "mirror", [version])
        stack = PulumiStack(net, engine_env, copy_program(tmp_path / "program"), tmp_path / "state", "e2e-controllers")
        config = stack_config(MODE, net, mirror, version, layout=OWN_CONTROLLER_LAYOUT)
        # The tests' clients run in the control namespace: the stack lets them in as its clients.
        config["clientCidrs"] = [f"{net.control_address}/32"]
        config["tls"] = "enforcing"  # every connection encrypted, with certificates from the stack's CA
        stack.init({**config, "controllerHeap": "128m", "proxyHeap": "256m"}, net.private_key_path.read_text())
        # ACL on: every client below signs as one of these users; the program's own calls as its admin.
        topic = "E2E_OWN_CONTROLLER"
        users = AclUsers.make(topic, "e2e-own-controller")
        users.configure(stack)
        app = users.as_user("e2e-app")
        n1, n2, n3 = (net.host(name) for name in ("n1", "n2", "n3"))
        replicas = {"broker-a": {f"{n1.address}:10911", f"{n2.address}:10911"}}
        # -- firewalld on every host, as on stock EL servers: only SSH comes in
        for host in net.hosts:
            net.ssh(host, "sudo -n systemctl enable --now firewalld && sudo -n firewall-cmd --state", check=True)
        # A port no role needs: a listener on the controller host that only the host itself reaches.
        net.ssh(n3, "sudo -n systemd-run --unit=e2e-unneeded-port python3 -m http.server 9999", check=True)
        wait_until(lambda: connects(net, n3, n3.address, 9999), 30, "the listener on n3:9999")

        # -- up from empty: the controller of its own elects a master; the name server runs none
        stack.up()
        namesrv = stack.outputs()["namesrvAddr"]
        # rocketmq:tls enforcing: every client below speaks TLS and trusts the CA the stack made.
        tls = ClientTls.trusting(stack.outputs()["caCertificate"], tmp_path / "client-tls")
        with clients_speaking(tls):
            masters = wait_for_elected_masters(net, n1, namesrv, replicas, timeout=120)
            conf = net.ssh(n3, "cat /etc/rocketmq/controller.conf", check=True).stdout
            assert f"controllerDLegerPeers=n0-{n3.address}:9878" in conf, conf
            assert net.ssh(n3, f"systemctl is-active {CONTROLLER_UNIT}").stdout.strip() == "active"
            assert "enableControllerInNamesrv" not in net.ssh(n1, "cat /etc/rocketmq/namesrv.conf", check=True).stdout
            check_credential_files(net, net.hosts, [n1, n2])
            check_tls_files(net, net.hosts)
            certificates = {h.name: net.ssh(h, f"sha256sum {CERTIFICATE_FILE}", check=True).stdout for h in net.hosts}
            for name in (topic, users.check_topic, users.sdk_topic):
                create_topic(net, n1, namesrv, "DefaultCluster", name)  # mqadmin signs as the program's admin
            # -- TLS: plaintext clients (the SDK's too), and one that trusts another CA, are refused; then this one sends
            clients = Clients(net, classpath, namesrv)
            stranger = ClientTls.trusting(new_authority("e2e stranger")[0], tmp_path / "stranger")
            proxies = SdkTarget(stack.outputs()["proxyEndpoints"], users.sdk_topic, SDK_GROUP)
            check_tls_refuses_strangers(clients, topic, app, stranger=stranger, proxies=proxies)
            produce(net, classpath, namesrv, topic, MESSAGES // 2, credentials=app)
            # -- the firewall let that in (clientCidrs), and keeps out what no role offers to that source
            master = masters["broker-a"].split(":")[0]
            assert not connects(net, None, master, 10912), "a client reached the master's HA port"
            assert connects(
                net, net.host(replicas["broker-a"].difference({masters["broker-a"]}).pop().split(":")[0]), master, 10912
            )
            assert not connects(net, None, n3.address, 9878), "a client reached the controller"
            assert not connects(net, n1, n3.address, 9999) and not connects(net, None, n3.address, 9999)
            # -- ACL: no credentials, no access; a publisher only sends; the admin does everything
            check_who_may_do_what(clients, users)
            check_proxy_checks_clients(clients, stack.outputs()["proxyEndpoints"], users)

            # -- SIGKILL the master: the controller elects the other replica, and sends go on there
            old_master = net.host(masters["broker-a"].split(":")[0])
            net.ssh(
                old_master,
                f"sudo -n kill -9 {broker_jvm_pid(net, old_master)}; sudo -n systemctl stop {BROKER_UNIT}",
                check=True,
            )
            started = time.monotonic()
            new_master = _wait_for_new_master(net, n1, namesrv, "broker-a", replaced=masters["broker-a"])
            print(
                f"\ncontroller of its own: {new_master} listed as master {time.monotonic() - started:.1f}s after SIGKILL"
            )
            produce(net, classpath, namesrv, topic, MESSAGES // 2, credentials=app)
            consume(net, classpath, namesrv, topic, group=users.group, count=MESSAGES, credentials=app)

            # -- n3 shows another SSH host key than the one pinned for it: up refuses to talk to it
            other_key = _new_host_key(tmp_path)
            stack.set_config(
                {"hosts": [{**h, "hostKey": other_key} if h["name"] == "n3" else h for h in config["hosts"]]}
            )
            refused = stack.up(check=False)
            output = refused.stdout + refused.stderr
            assert refused.returncode != 0 and re.search(
                r"\(rocketmq-[\w-]*n3[\w-]*\):\s+error: .*host key mismatch", output
            ), output[-3000:]
            stack.set_config({"hosts": config["hosts"]})

            # -- another password for the same admin: refused at its check, before any step; every host keeps its admin
            tools_yml = {h.name: net.ssh(h, f"sudo -n sha256sum {TOOLS_YML}", check=True).stdout for h in net.hosts}
            other_admin = users.with_new_admin_password(stack)
            refused = stack.up(check=False)
            output = refused.stdout + refused.stderr
            assert refused.returncode != 0 and "move to an admin of another name" in output, output[-3000:]
            assert {
                h.name: net.ssh(h, f"sudo -n sha256sum {TOOLS_YML}", check=True).stdout for h in net.hosts
            } == tools_yml
            users.configure(stack)

            # -- the old master comes back: a replica again, with the users it kept in its store
            net.ssh(old_master, f"sudo -n systemctl start {BROKER_UNIT}", check=True)
            wait_for_elected_masters(net, n1, namesrv, replicas, timeout=120)

            # -- a controller setting, and a user's new password: the controller's rolling restart waits
            # for a leader again; the brokers keep running and take the new password as they run
            running = net.host(new_master.split(":")[0])
            broker_pid, controller_pid = service_pid(net, running, BROKER_UNIT), service_pid(net, n3, CONTROLLER_UNIT)
            returned_pid = service_pid(net, old_master, BROKER_UNIT)
            stack.set_config({"controllerHeap": "160m"})
            changed = users.with_new_password(stack, "e2e-pub")
            stack.up()
            assert service_pid(net, n3, CONTROLLER_UNIT) not in (0, controller_pid)
            assert 'HEAP="160m"' in net.ssh(n3, "cat /etc/rocketmq/controller.env", check=True).stdout
            assert service_pid(net, running, BROKER_UNIT) == broker_pid
            assert service_pid(net, old_master, BROKER_UNIT) == returned_pid
            check_changed_password(clients, users.check_topic, users, changed, "e2e-pub")
            key_material = net.private_key_path.read_text().strip().splitlines()[1]
            assert places_holding(net, net.hosts, stack, key_material) == [], "the private key shows in plaintext"
            # Every later up kept the certificates the first one made.
            assert {h.name: net.ssh(h, f"sha256sum {CERTIFICATE_FILE}", check=True).stdout for h in net.hosts} == (
                certificates
            )
            tls_key = host_key_material(net, n1)
            assert places_holding(net, net.hosts, stack, tls_key) == [], "a host's TLS key shows in plaintext"
            assert passwords_in_plaintext(net, stack, users, changed, other_admin) == [], (
                "an ACL password shows in plaintext"
            )

        # -- destroy: the controller stops with the rest, and the firewalls close what up opened
        stack.run("destroy", "--yes", "--skip-preview", "--stack", stack.name)
        assert net.ssh(n3, f"systemctl is-active {CONTROLLER_UNIT}").stdout.strip() != "active"
        for host in net.hosts:
            assert net.ssh(host, "sudo -n firewall-cmd --list-rich-rules", check=True).stdout.strip() == "", host
            assert net.ssh(host, "ls /etc/rocketmq").stdout.split().count("broker-auth.conf") == 0, host
        assert "java" not in net.ssh(n3, "ps -u rocketmq -o args= || true").stdout


def _new_host_key(workdir: Path) -> str:
    """A fresh ED25519 public key, as a host reinstalled (or a machine in the middle) would show."""
    key = workdir / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


def _max_message_size() -> dict[str, str]:
    return broker_properties(MODE, maxMessageSize="4194304")


def _master_epoch(net: TestNetwork, probe: Host, namesrv: str, group: str) -> int:
    """The controllers' master epoch of ``group`` (each election adds one), asked of a controller.
    Asked again for up to a minute: a controller that is electing its own leader answers nothing."""
    controller = namesrv.split(";", maxsplit=1)[0].replace(":9876", ":9878")
    deadline = time.monotonic() + 60
    while True:
        answer = mqadmin_run(net, probe, namesrv, "getSyncStateSet", "-a", controller, "-b", group)
        match = re.search(r"#MasterEpoch\s+(\d+)", answer.stdout)
        if match:
            return int(match.group(1))
        assert time.monotonic() < deadline, (
            f"no master epoch of {group} (exit {answer.returncode}):\n{answer.stdout[-1500:]}{answer.stderr[-1500:]}"
        )
        time.sleep(3)


def _wait_for_new_master(net: TestNetwork, probe: Host, namesrv: str, group: str, *, replaced: str) -> str:
    """Polls the name servers until another replica of ``group`` is listed as its master."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for name, broker_id, address in registered_brokers(net, probe, namesrv) or set():
            if name == group and broker_id == 0 and address != replaced:
                return address
        time.sleep(0.2)
    raise AssertionError(f"no replica of {group} became master after {replaced} was killed")
