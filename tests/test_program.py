"""The whole program under Pulumi mocks: every mode on both targets."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.rendering import HEREDOC
from tests.pulumi_harness import AMI_ID, PRIVATE_KEY, ZONES, ProgramRun, Registered, run_main_program
from tests.stacks import HOSTS_BY_MODE, MODES, NAME_SERVERS_BY_MODE, aws_stack, hosts_stack

SECRET_SIG = "4dabf18193072939515e22adb298388d"
EXPECTED_MASTER_ROLE = {
    "single-master": "ASYNC_MASTER",
    "multi-master": "ASYNC_MASTER",
    "master-slave-async": "ASYNC_MASTER",
    "master-slave-sync": "SYNC_MASTER",
}


def broker_conf(command: Registered) -> dict[str, str]:
    match = re.search(
        rf"install_file /etc/rocketmq/broker.conf 0644 <<'{HEREDOC}'\n(.*?){HEREDOC}\n", command.inputs["stdin"], re.S
    )
    assert match, f"{command.name} writes no broker.conf"
    return dict(line.split("=", 1) for line in match.group(1).splitlines() if line and not line.startswith("#"))


def broker_commands(run: ProgramRun) -> list[Registered]:
    return [c for c in run.commands if "UNIT=rocketmq-broker.service" in c.inputs.get("stdin", "")]


def namesrv_commands(run: ProgramRun) -> list[Registered]:
    return [c for c in run.commands if "UNIT=rocketmq-namesrv.service" in c.inputs.get("stdin", "")]


def connection(command: Registered) -> dict[str, Any]:
    wrapped = command.inputs["connection"]
    assert wrapped.get(SECRET_SIG), f"{command.name}: the connection (with the private key) is not a secret"
    return wrapped["value"]  # type: ignore[no-any-return]


def check_brokers(run: ProgramRun, mode: str, groups: int, slaves: int, address_of: dict[str, str]) -> None:
    confs = [broker_conf(c) for c in broker_commands(run)]
    assert len(confs) == groups * (slaves + 1)
    seen = set()
    for conf in confs:
        broker_id = int(conf["brokerId"])
        seen.add((conf["brokerName"], broker_id))
        assert conf["brokerRole"] == ("SLAVE" if broker_id else EXPECTED_MASTER_ROLE[mode])
        assert conf["namesrvAddr"] == run.outputs["namesrvAddr"]
        assert conf["brokerIP1"] in address_of.values()
    assert seen == {(f"broker-{chr(97 + g)}", i) for g in range(groups) for i in range(slaves + 1)}
    brokers = run.outputs["brokers"]
    assert sorted(brokers) == [f"broker-{chr(97 + g)}" for g in range(groups)]
    for name, entry in brokers.items():
        master_conf = next(c for c in confs if c["brokerName"] == name and c["brokerId"] == "0")
        assert entry["master"] == f"{master_conf['brokerIP1']}:10911"
        slave_ips = sorted(f"{c['brokerIP1']}:10911" for c in confs if c["brokerName"] == name and c["brokerId"] != "0")
        assert sorted(entry["slaves"]) == slave_ips


def check_secrets(run: ProgramRun) -> None:
    key_material = PRIVATE_KEY.strip().splitlines()[1]
    for command in run.commands:
        assert connection(command)["privateKey"] == PRIVATE_KEY
        for field in ("stdin", "create", "delete"):
            assert key_material not in str(command.inputs.get(field, ""))
    assert key_material not in json.dumps(run.outputs)
    for resource in run.mocks.resources:
        if resource.typ != "command:remote:Command":
            assert key_material not in json.dumps(resource.inputs, default=str), resource.name


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
        assert "triggers" not in command.inputs  # a replace would run the old delete after the new create
    for command in namesrv_commands(run):
        assert "systemctl disable --now rocketmq-namesrv.service" in command.inputs["delete"]
    for command in run.commands:
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


def test_version_change_reinstalls_and_restarts_everything() -> None:
    before = run_main_program(hosts_stack("single-master"), ["sshPrivateKey"])
    after = run_main_program(hosts_stack("single-master", version="4.9.8"), ["sshPrivateKey"])
    old = {c.name: c.inputs["stdin"] for c in before.commands}
    changed = {c.name for c in after.commands if old[c.name] != c.inputs["stdin"]}
    assert changed == {"rocketmq-peer1-install", "rocketmq-namesrv-peer1", "rocketmq-broker-a-0"}


# ------------------------------------------------------------------- target: aws


@pytest.mark.parametrize("mode", MODES)
def test_aws_target(mode: str) -> None:
    run = run_main_program(aws_stack(mode), ["sshPrivateKey"])
    groups = 1 if mode == "single-master" else 2
    slaves = 1 if mode.startswith("master-slave") else 0
    name_servers = NAME_SERVERS_BY_MODE[mode]

    instances = {r.name.removeprefix("rocketmq-"): r for r in run.mocks.of_type("aws:ec2/instance:Instance")}
    assert len(instances) == name_servers + groups * (slaves + 1)
    assert sorted(k for k in instances if k.startswith("ns-")) == [f"ns-{i + 1}" for i in range(name_servers)]
    for key, instance in instances.items():
        assert instance.inputs["ami"] == AMI_ID
        assert instance.inputs["instanceType"] == ("t3.medium" if key.startswith("ns-") else "m5.large")
        assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
        assert instance.inputs["rootBlockDevice"]["encrypted"] is True
        assert instance.inputs["associatePublicIpAddress"] is True

    private = {k: r.outputs["privateIp"] for k, r in instances.items()}
    ns_ips = [private[f"ns-{i + 1}"] for i in range(name_servers)]
    assert run.outputs["namesrvAddr"] == ";".join(f"{ip}:9876" for ip in ns_ips)
    check_brokers(run, mode, groups, slaves, private)

    # One encrypted gp3 store volume per broker, attached to that broker, in its zone.
    volumes = {r.name: r for r in run.mocks.of_type("aws:ebs/volume:Volume")}
    attachments = {r.name: r for r in run.mocks.of_type("aws:ec2/volumeAttachment:VolumeAttachment")}
    broker_keys = [k for k in instances if not k.startswith("ns-")]
    assert sorted(volumes) == sorted(f"rocketmq-{k}-store" for k in broker_keys)
    for key in broker_keys:
        volume = volumes[f"rocketmq-{key}-store"]
        assert volume.inputs["encrypted"] is True and volume.inputs["type"] == "gp3" and volume.inputs["size"] == 100
        assert volume.inputs["availabilityZone"] == instances[key].outputs["availabilityZone"]
        assert attachments[f"rocketmq-{key}-store"].inputs["instanceId"] == f"rocketmq-{key}-id"
        prepare = run.mocks.named(f"rocketmq-{key}-prepare")
        assert f"DATA_VOLUME_ID=rocketmq-{key}-store-id" in prepare.inputs["stdin"]

    # Masters and their slaves in different zones.
    zone = {k: r.outputs["availabilityZone"] for k, r in instances.items()}
    for g in range(groups):
        name = f"broker-{chr(97 + g)}"
        for i in range(1, slaves + 1):
            assert zone[f"{name}-{i}"] != zone[f"{name}-0"]
    assert set(zone.values()) <= set(ZONES)
    check_secrets(run)


def test_aws_network_and_security_group() -> None:
    run = run_main_program(aws_stack("master-slave-async"), ["sshPrivateKey"])
    subnets = run.mocks.of_type("aws:ec2/subnet:Subnet")
    assert len({s.inputs["availabilityZone"] for s in subnets}) >= 2
    assert len(run.mocks.of_type("aws:ec2/vpc:Vpc")) == 1
    assert run.mocks.of_type("aws:ec2/natGateway:NatGateway") == []

    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    ingress = group.inputs["ingress"]
    ssh = [r for r in ingress if r["fromPort"] == 22]
    assert ssh == [
        {
            "description": "SSH for provisioning",
            "protocol": "tcp",
            "fromPort": 22,
            "toPort": 22,
            "cidrBlocks": ["203.0.113.0/24"],
        }
    ]
    inside = sorted(r["fromPort"] for r in ingress if r.get("self"))
    assert inside == [9876, 10909, 10911, 10912]
    clients = sorted(r["fromPort"] for r in ingress if r.get("cidrBlocks") == ["198.18.0.0/15"])
    assert clients == [9876, 10909, 10911]  # HA port 10912 stays inside the cluster
    for rule in ingress:
        assert "0.0.0.0/0" not in rule.get("cidrBlocks", [])
    assert group.inputs["egress"] == [
        {
            "description": "packages, release mirror and time",
            "protocol": "-1",
            "fromPort": 0,
            "toPort": 0,
            "cidrBlocks": ["0.0.0.0/0"],
        }
    ]
    (key_pair,) = run.mocks.of_type("aws:ec2/keyPair:KeyPair")
    assert key_pair.inputs["publicKey"].startswith("ssh-ed25519 ")


def test_aws_without_client_cidrs_opens_nothing_to_clients() -> None:
    stack = aws_stack("single-master")
    del stack["clientCidrs"]
    run = run_main_program(stack, ["sshPrivateKey"])
    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert all(r.get("self") or r["fromPort"] == 22 for r in group.inputs["ingress"])


def test_aws_private_hosts_through_bastion() -> None:
    stack = aws_stack("multi-master", publicIp=False, bastionHost="bastion.example.com", bastionUser="jump")
    run = run_main_program(stack, ["sshPrivateKey"])
    assert len(run.mocks.of_type("aws:ec2/natGateway:NatGateway")) == 1
    instances = {r.name: r for r in run.mocks.of_type("aws:ec2/instance:Instance")}
    for instance in instances.values():
        assert instance.inputs["associatePublicIpAddress"] is False
        assert "private" in instance.inputs["subnetId"]
    conn = connection(run.mocks.named("rocketmq-ns-1-prepare"))
    assert conn["host"] == instances["rocketmq-ns-1"].outputs["privateIp"]
    assert conn["proxy"]["host"] == "bastion.example.com" and conn["proxy"]["user"] == "jump"
    check_secrets(run)


def test_aws_existing_vpc_and_pinned_ami() -> None:
    stack = aws_stack(
        "master-slave-sync",
        vpcId="vpc-0123456789abcdef0",
        subnetIds=json.dumps(["subnet-0000000000000000a", "subnet-0000000000000000b"]),
        ami="ami-0fedcba9876543210",
        os="alma-9",
    )
    run = run_main_program(stack, ["sshPrivateKey"])
    assert run.mocks.of_type("aws:ec2/vpc:Vpc") == [] and run.mocks.of_type("aws:ec2/subnet:Subnet") == []
    assert not any(token == "aws:ec2/getAmi:getAmi" for token, _ in run.mocks.calls)
    instances = {r.name: r for r in run.mocks.of_type("aws:ec2/instance:Instance")}
    assert {i.inputs["ami"] for i in instances.values()} == {"ami-0fedcba9876543210"}
    assert instances["rocketmq-broker-a-0"].inputs["subnetId"] != instances["rocketmq-broker-a-1"].inputs["subnetId"]
    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert connection(run.mocks.named("rocketmq-ns-1-prepare"))["user"] == "ec2-user"


def test_largest_topology() -> None:
    run = run_main_program(aws_stack("master-slave-async", brokerGroups=10, slavesPerGroup=2), ["sshPrivateKey"])
    assert len(run.mocks.of_type("aws:ec2/instance:Instance")) == 3 + 30
    assert len(run.outputs["brokers"]) == 10
    assert all(len(entry["slaves"]) == 2 for entry in run.outputs["brokers"].values())
