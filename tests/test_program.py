"""The whole program under Pulumi mocks: every mode on target hosts, and what every target shares
(rolling order, reruns, scripts). Target aws: tests/test_program_aws.py."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.program_checks import check_brokers, check_secrets
from tests.program_commands import broker_commands, broker_conf, connection, namesrv_commands, rollouts
from tests.pulumi_harness import run_main_program
from tests.stacks import HOSTS_BY_MODE, MODES, NAME_SERVERS_BY_MODE, aws_stack, hosts_stack

# ------------------------------------------------------------------- target: hosts


@pytest.mark.parametrize("mode", MODES)
def test_hosts_target(mode: str) -> None:
    run = run_main_program(hosts_stack(mode), ["sshPrivateKey"])
    hosts = HOSTS_BY_MODE[mode]
    private = {h["name"]: h.get("privateAddress", h["address"]) for h in hosts}
    ns_ips = [private[h["name"]] for h in hosts if h.get("nameServer")]

    assert run.outputs["namesrvAddr"] == ";".join(f"{ip}:9876" for ip in ns_ips)
    assert run.outputs["nameServers"] == [f"{ip}:9876" for ip in ns_ips]
    assert run.outputs["clusterName"] == "DefaultCluster"
    assert run.outputs["mode"] == mode
    assert not any(run.secret_outputs.values())
    assert run.mocks.of_type("aws:ec2/instance:Instance") == []

    prepares = [c for c in run.commands if c.name.endswith("-prepare")]
    installs = [c for c in run.commands if c.name.endswith("-install")]
    assert len(prepares) == len(installs) == len(hosts)
    assert len(namesrv_commands(run)) == NAME_SERVERS_BY_MODE[mode]
    groups = 1 if mode == "single-master" else 2
    slaves = 1 if mode.startswith("master-slave") else 0
    check_brokers(run, mode, groups, slaves, private)

    # Each host is reached at its own address, port and user; broker.conf advertises the private address.
    for host in hosts:
        conn = connection(run.mocks.named(f"rocketmq-{host['name']}-prepare"))
        assert conn["host"] == host["address"]
        assert conn["port"] == host.get("port", 22)
        assert conn["user"] == host.get("user", "root")
    check_secrets(run)


def test_hosts_target_broker_on_private_address() -> None:
    run = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    peer4 = next(c for c in broker_commands(run) if "HOST_LABEL=peer4" in c.inputs["stdin"])
    assert broker_conf(peer4)["brokerIP1"] == "10.0.0.14"
    assert connection(peer4)["host"] == "192.0.2.14"


def test_services_stop_on_destroy_and_commands_rerun_only_on_change() -> None:
    run = run_main_program(hosts_stack("master-slave-sync"), ["sshPrivateKey"])
    for command in broker_commands(run):
        assert "systemctl disable --now rocketmq-broker.service" in command.inputs["delete"]
        assert "triggers" not in command.inputs  # hosts: the machine never changes under the program
    for command in namesrv_commands(run):
        assert "systemctl disable --now rocketmq-namesrv.service" in command.inputs["delete"]
    for command in run.commands:
        if command.name == "rocketmq-drain-groups":  # runs only on a change: tests/test_group_drain.py
            continue
        assert (
            command.inputs["create"]
            == 'if [ "$(id -u)" -eq 0 ]; then exec /bin/bash -s; else exec sudo -n /bin/bash -s; fi'
        )
        assert "update" not in command.inputs


def test_same_config_renders_identical_scripts() -> None:
    first = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    second = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    assert {c.name: c.inputs["stdin"] for c in first.commands} == {c.name: c.inputs["stdin"] for c in second.commands}


def test_broker_setting_changes_only_broker_scripts() -> None:
    before = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    after = run_main_program(hosts_stack("master-slave-async", fileReservedTime=24), ["sshPrivateKey"])
    old = {c.name: c.inputs["stdin"] for c in before.commands}
    changed = {c.name for c in after.commands if old[c.name] != c.inputs["stdin"]}
    assert changed == {c.name for c in broker_commands(after)}
    # Only the brokers' rolling restarts are triggered again; the name servers' stay as they were.
    old_triggers = {c.name: c.inputs.get("triggers") for c in before.commands}
    retriggered = {c.name for c in after.commands if old_triggers[c.name] != c.inputs.get("triggers")}
    assert retriggered == {c.name for c in rollouts(after) if c.name.startswith("rocketmq-broker-")}


def test_version_change_reinstalls_and_restarts_everything() -> None:
    before = run_main_program(hosts_stack("single-master"), ["sshPrivateKey"])
    after = run_main_program(hosts_stack("single-master", version="4.9.8"), ["sshPrivateKey"])
    old = {c.name: c.inputs["stdin"] for c in before.commands}
    changed = {c.name for c in after.commands if old[c.name] != c.inputs["stdin"]}
    # The rollout too: 4.9.x has no proxy, so its health check no longer waits for one, and the
    # firewall closes the proxy's ports.
    assert changed == {
        "rocketmq-peer1-firewall",
        "rocketmq-peer1-install",
        "rocketmq-namesrv-peer1",
        "rocketmq-broker-a-0",
        "rocketmq-broker-a-0-rollout",
    }


@pytest.mark.parametrize("mode", MODES)
def test_restarts_roll_one_service_at_a_time(mode: str) -> None:
    """Configure steps run in parallel (a new cluster starts at once); the rolling-restart steps
    form one chain: name servers, then group by group, slaves before their master."""
    run = run_main_program(hosts_stack(mode), ["sshPrivateKey"])
    by_name = {c.name: c for c in run.commands}

    after = run.mocks.depends_on

    chain = [c.name for c in rollouts(run)]  # registration order
    ns = [n for n in chain if n.startswith("rocketmq-namesrv-")]
    brokers = [n for n in chain if not n.startswith("rocketmq-namesrv-")]
    assert chain == ns + brokers
    expected_brokers = []
    placed = [re.fullmatch(r"rocketmq-(broker-[a-z])-(\d)", c.name) for c in broker_commands(run)]
    for group in sorted({m.group(1) for m in placed if m}):
        ids = sorted(int(m.group(2)) for m in placed if m and m.group(1) == group)
        expected_brokers += [f"rocketmq-{group}-{i}-rollout" for i in [*ids[1:], ids[0]]]
    assert brokers == expected_brokers
    for previous, current in itertools.pairwise(chain):
        configure = current.removesuffix("-rollout")
        assert after(by_name[current]) == {previous, configure}, current
    assert after(by_name[chain[0]]) == {chain[0].removesuffix("-rollout")}

    # A slave's rolling restart waits for it to catch up with its master before the master's (in
    # master-slave-auto every replica's step finds the master as it runs, and a master hands over).
    for command in rollouts(run):
        if mode == "master-slave-auto" and command.name.startswith("rocketmq-broker-"):
            assert "MASTER_ENDPOINT=$(group_rows" in command.inputs["stdin"]
            assert "\n  hand_over_master\n" in command.inputs["stdin"]
        elif re.search(r"-broker-[a-z]-[1-9]-rollout$", command.name):
            assert "MASTER_ENDPOINT=" in command.inputs["stdin"]
        else:
            assert "MASTER_ENDPOINT" not in command.inputs["stdin"]
    # Configure steps never wait for another host's restart.
    for command in broker_commands(run) + namesrv_commands(run):
        assert not any(d.endswith("-rollout") for d in after(command)), command.name


def test_largest_topology() -> None:
    run = run_main_program(aws_stack("master-slave-async", brokerGroups=10, slavesPerGroup=2), ["sshPrivateKey"])
    assert len(run.mocks.of_type("aws:ec2/instance:Instance")) == 3 + 30
    assert len(run.outputs["brokers"]) == 10
    assert all(len(entry["slaves"]) == 2 for entry in run.outputs["brokers"].values())
