"""The whole program under Pulumi mocks on target aws: instances, interfaces, volumes, the network
and its security group, for every mode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.program_checks import check_brokers, check_secrets
from tests.program_commands import broker_commands, connection
from tests.pulumi_harness import AMI_ID, PUBLIC_KEY, ZONES, ProgramRun, Registered, run_main_program
from tests.stacks import HOST_KEY, MODES, NAME_SERVERS_BY_MODE, aws_stack


def aws_hosts(run: ProgramRun) -> dict[str, dict[str, Registered]]:
    """Per planned host key: its instance, network interface, subnet and (with public IPs) Elastic IP."""
    subnets = {f"{r.name}-id": r for r in run.mocks.of_type("aws:ec2/subnet:Subnet")}
    hosts: dict[str, dict[str, Registered]] = {}
    for instance in run.mocks.of_type("aws:ec2/instance:Instance"):
        key = instance.name.removeprefix("rocketmq-")
        interface = run.mocks.named(f"{instance.name}-eth0")
        assert instance.inputs["primaryNetworkInterface"] == {
            "networkInterfaceId": f"{interface.name}-id",
            "deleteOnTermination": False,
        }
        hosts[key] = {"instance": instance, "interface": interface}
        if interface.inputs["subnetId"] in subnets:
            hosts[key]["subnet"] = subnets[interface.inputs["subnetId"]]
        ips = [
            r
            for r in run.mocks.of_type("aws:ec2/eip:Eip")
            if r.inputs.get("networkInterface") == f"{interface.name}-id"
        ]
        if ips:
            (hosts[key]["ip"],) = ips
    return hosts


@pytest.mark.parametrize("mode", MODES)
def test_aws_target(mode: str) -> None:
    run = run_main_program(aws_stack(mode), ["sshPrivateKey"])
    groups = 1 if mode == "single-master" else 2
    slaves = 1 if mode.startswith("master-slave") else 0
    name_servers = NAME_SERVERS_BY_MODE[mode]

    hosts = aws_hosts(run)
    proxies = 2 if mode == "master-slave-auto" else 0  # its proxy is `cluster` on two hosts of their own
    assert len(hosts) == name_servers + groups * (slaves + 1) + proxies
    assert len([k for k in hosts if k.startswith("proxy-")]) == proxies
    assert sorted(k for k in hosts if k.startswith("ns-")) == [f"ns-{i + 1}" for i in range(name_servers)]
    for key, host in hosts.items():
        instance = host["instance"]
        assert instance.inputs["ami"] == AMI_ID
        assert instance.inputs["instanceType"] == ("m5.large" if key.startswith("broker-") else "t3.medium")
        assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
        assert instance.inputs["rootBlockDevice"]["encrypted"] is True
        # SSH goes to the host's Elastic IP, which survives stop/start and instance replacement.
        assert connection(run.mocks.named(f"rocketmq-{key}-prepare"))["host"] == host["ip"].outputs["publicIp"]

    private = {k: h["interface"].outputs["privateIp"] for k, h in hosts.items()}
    ns_ips = [private[f"ns-{i + 1}"] for i in range(name_servers)]
    assert run.outputs["namesrvAddr"] == ";".join(f"{ip}:9876" for ip in ns_ips)
    check_brokers(run, mode, groups, slaves, private)

    # One encrypted gp3 store volume per broker, attached to that broker, in its zone.
    zone = {k: h["subnet"].inputs["availabilityZone"] for k, h in hosts.items()}
    volumes = {r.name: r for r in run.mocks.of_type("aws:ebs/volume:Volume")}
    attachments = {r.name: r for r in run.mocks.of_type("aws:ec2/volumeAttachment:VolumeAttachment")}
    # master-slave-auto: each name server's controller keeps its Raft log on a volume too.
    broker_keys = [k for k in hosts if k.startswith("broker-") or (k.startswith("ns-") and mode == "master-slave-auto")]
    assert sorted(volumes) == sorted(f"rocketmq-{k}-store" for k in broker_keys)
    for key in broker_keys:
        volume = volumes[f"rocketmq-{key}-store"]
        assert volume.inputs["encrypted"] is True and volume.inputs["type"] == "gp3" and volume.inputs["size"] == 100
        assert volume.inputs["availabilityZone"] == zone[key]
        assert attachments[f"rocketmq-{key}-store"].inputs["instanceId"] == f"rocketmq-{key}-id"
        prepare = run.mocks.named(f"rocketmq-{key}-prepare")
        assert f"DATA_VOLUME_ID=rocketmq-{key}-store-id" in prepare.inputs["stdin"]

    # Masters and their slaves in different zones.
    for g in range(groups):
        name = f"broker-{chr(97 + g)}"
        for i in range(1, slaves + 1):
            assert zone[f"{name}-{i}"] != zone[f"{name}-0"]
    assert set(zone.values()) <= set(ZONES)
    check_secrets(run)


def test_aws_resources_outlive_later_ups() -> None:
    """What keeps a long-lived stack safe: nothing replaced, stopped or started by a newer AMI, a
    new key or new user data (host keys), one instance at a time per interface and volume, the
    store kept by destroy."""
    run = run_main_program(aws_stack("master-slave-async"), ["sshPrivateKey"])
    options_of = run.mocks.options_of
    for instance in run.mocks.of_type("aws:ec2/instance:Instance"):
        assert sorted(options_of(instance).ignore_changes or []) == ["ami", "keyName", "userData"], instance.name
        assert options_of(instance).delete_before_replace is True, instance.name
    for volume in run.mocks.of_type("aws:ebs/volume:Volume"):
        assert options_of(volume).retain_on_delete is True, volume.name
    for attachment in run.mocks.of_type("aws:ec2/volumeAttachment:VolumeAttachment"):
        assert options_of(attachment).delete_before_replace is True, attachment.name
        assert attachment.inputs["stopInstanceBeforeDetaching"] is True
    (gateway,) = run.mocks.of_type("aws:ec2/internetGateway:InternetGateway")
    for ip in run.mocks.of_type("aws:ec2/eip:Eip"):
        assert gateway.name in run.mocks.depends_on(ip), ip.name

    # A replaced instance is a fresh disk: every script on that host reruns (the instance id is a
    # trigger), and the stack's public key is authorized there on every prepare.
    for instance in run.mocks.of_type("aws:ec2/instance:Instance"):
        key = instance.name.removeprefix("rocketmq-")
        on_host = [c for c in run.commands if c.name.startswith(f"rocketmq-{key}-") or c.name.endswith(f"-{key}")]
        on_host += [c for c in broker_commands(run) if f"HOST_LABEL={key}\n" in c.inputs["stdin"]]
        assert {c.name for c in on_host} >= {f"rocketmq-{key}-prepare", f"rocketmq-{key}-install"}
        for command in on_host:
            assert command.inputs.get("triggers", [])[:1] == [f"{instance.name}-id"], command.name
        prepare = run.mocks.named(f"rocketmq-{key}-prepare").inputs["stdin"]
        assert f"SSH_PUBLIC_KEY='{PUBLIC_KEY}'" in prepare and "SSH_USER=ec2-user" in prepare
    assert len([c for c in run.commands if c.inputs.get("triggers")]) == len(run.commands)

    # A pinned AMI is the user's request for a new image: then it is honoured.
    pinned = run_main_program(aws_stack("single-master", ami="ami-0fedcba9876543210"), ["sshPrivateKey"])
    for instance in pinned.mocks.of_type("aws:ec2/instance:Instance"):
        assert pinned.mocks.options_of(instance).ignore_changes == ["keyName", "userData"]

    dropped = run_main_program(aws_stack("single-master", retainStoreOnDestroy=False), ["sshPrivateKey"])
    (volume,) = dropped.mocks.of_type("aws:ebs/volume:Volume")
    assert dropped.mocks.options_of(volume).retain_on_delete is False


@pytest.mark.parametrize(
    ("vpc_cidr", "public", "private"),
    [
        ("10.42.0.0/16", "10.42.0.0/24", "10.42.128.0/24"),
        ("10.42.0.0/17", "10.42.0.0/24", "10.42.64.0/24"),
        ("10.42.0.0/20", "10.42.0.0/24", "10.42.8.0/24"),
    ],
)
def test_private_subnets_fit_every_accepted_vpc_size(vpc_cidr: str, public: str, private: str) -> None:
    from components.aws_fleet import subnet_cidrs

    assert subnet_cidrs(vpc_cidr, 3, private=False)[0] == public
    assert subnet_cidrs(vpc_cidr, 3, private=True)[0] == private
    assert len(set(subnet_cidrs(vpc_cidr, 3, private=False) + subnet_cidrs(vpc_cidr, 3, private=True))) == 6


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
    # HA port 10912 stays inside the cluster; 8080/8081: the proxy in each broker (5.x default)
    assert clients == [8080, 8081, 9876, 10909, 10911]
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
    stack = aws_stack(
        "multi-master",
        publicIp=False,
        bastionHost="bastion.example.com",
        bastionUser="jump",
        bastionHostKey=HOST_KEY,
        vpcId="vpc-0123456789abcdef0",
        subnetIds=json.dumps(["subnet-0000000000000000a", "subnet-0000000000000000b"]),
    )
    run = run_main_program(stack, ["sshPrivateKey"])
    assert run.mocks.of_type("aws:ec2/eip:Eip") == []
    hosts = aws_hosts(run)
    conn = connection(run.mocks.named("rocketmq-ns-1-prepare"))
    assert conn["host"] == hosts["ns-1"]["interface"].outputs["privateIp"]
    assert conn["proxy"]["host"] == "bastion.example.com" and conn["proxy"]["user"] == "jump"
    assert conn["proxy"]["hostKey"] == HOST_KEY  # the bastion's key, pinned
    check_secrets(run)


def test_aws_dedicated_vpc_nat_waits_for_the_internet_gateway() -> None:
    # Private hosts in a dedicated VPC are refused (nothing could reach them), so build the
    # private half directly to check how the NAT gateway is wired.

    from components.aws_fleet import AwsFleet, AwsFleetArgs
    from components.config import parse_config
    from components.config_model import AwsSettings
    from components.topology import plan_cluster
    from tests.pulumi_harness import run_under_mocks

    cfg = parse_config(aws_stack("single-master"))
    settings = AwsSettings(ssh_cidrs=("203.0.113.0/24",), ssh_public_key="ssh-ed25519 AAAA x", public_ip=False)

    def program() -> dict[str, Any]:
        AwsFleet("rocketmq", AwsFleetArgs(settings=settings, plan=plan_cluster(cfg), zones=ZONES))
        return {}

    run = run_under_mocks(program)
    (gateway,) = run.mocks.of_type("aws:ec2/internetGateway:InternetGateway")
    (nat,) = run.mocks.of_type("aws:ec2/natGateway:NatGateway")
    assert gateway.name in run.mocks.depends_on(nat)
    interfaces = run.mocks.of_type("aws:ec2/networkInterface:NetworkInterface")
    assert interfaces and all("private" in i.inputs["subnetId"] for i in interfaces)


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
    hosts = aws_hosts(run)
    assert {h["instance"].inputs["ami"] for h in hosts.values()} == {"ami-0fedcba9876543210"}
    subnet = {k: h["interface"].inputs["subnetId"] for k, h in hosts.items()}
    assert subnet["broker-a-0"] != subnet["broker-a-1"]
    # The store volume's zone is the subnet's, looked up once.
    lookups = [args["id"] for token, args in run.mocks.calls if token == "aws:ec2/getSubnet:getSubnet"]
    assert sorted(lookups) == ["subnet-0000000000000000a", "subnet-0000000000000000b"]
    (group,) = run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert connection(run.mocks.named("rocketmq-ns-1-prepare"))["user"] == "ec2-user"
