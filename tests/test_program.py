"""The whole program under Pulumi mocks: every mode on both targets."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from tests.program_commands import broker_commands, broker_conf, connection, namesrv_commands, rollouts
from tests.pulumi_harness import AMI_ID, PRIVATE_KEY, PUBLIC_KEY, ZONES, ProgramRun, Registered, run_main_program
from tests.stacks import HOST_KEY, HOSTS_BY_MODE, MODES, NAME_SERVERS_BY_MODE, aws_stack, hosts_stack

EXPECTED_MASTER_ROLE = {
    "single-master": "ASYNC_MASTER",
    "multi-master": "ASYNC_MASTER",
    "master-slave-async": "ASYNC_MASTER",
    "master-slave-sync": "SYNC_MASTER",
}


def check_brokers(run: ProgramRun, mode: str, groups: int, slaves: int, address_of: dict[str, str]) -> None:
    confs = [broker_conf(c) for c in broker_commands(run)]
    assert len(confs) == groups * (slaves + 1)
    if mode == "master-slave-auto":
        check_elected_brokers(run, confs, groups, slaves)
        return
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


def check_elected_brokers(run: ProgramRun, confs: list[dict[str, str]], groups: int, slaves: int) -> None:
    """master-slave-auto: every replica starts as a slave without an id; the controllers, one in
    each name server, elect the master and give the ids."""
    controllers = ";".join(a.replace(":9876", ":9878") for a in run.outputs["nameServers"])
    for conf in confs:
        assert (conf["brokerId"], conf["brokerRole"], conf["enableControllerMode"]) == ("-1", "SLAVE", "true")
        assert conf["controllerAddr"] == controllers
        assert conf["allAckInSyncStateSet"] == "true"
        assert conf["namesrvAddr"] == run.outputs["namesrvAddr"]
    brokers = run.outputs["brokers"]
    assert sorted(brokers) == [f"broker-{chr(97 + g)}" for g in range(groups)]
    for name, entry in brokers.items():
        replicas = sorted(f"{c['brokerIP1']}:10911" for c in confs if c["brokerName"] == name)
        assert sorted(entry["replicas"]) == replicas and len(replicas) == slaves + 1
        assert "slaves" not in entry and entry["master"] in ("", *replicas)  # "": no step has run (mocks)


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
    # The rollout too: 4.9.x has no proxy, so its health check no longer waits for one.
    assert changed == {
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


# ------------------------------------------------------------------- target: aws


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
    """What keeps a long-lived stack safe: nothing replaced by a newer AMI or a new key, one
    instance at a time per interface and volume, the store kept by destroy."""
    run = run_main_program(aws_stack("master-slave-async"), ["sshPrivateKey"])
    options_of = run.mocks.options_of
    for instance in run.mocks.of_type("aws:ec2/instance:Instance"):
        assert sorted(options_of(instance).ignore_changes or []) == ["ami", "keyName"], instance.name
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
        assert pinned.mocks.options_of(instance).ignore_changes == ["keyName"]

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
    from components.config import AwsSettings, parse_config
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


def test_largest_topology() -> None:
    run = run_main_program(aws_stack("master-slave-async", brokerGroups=10, slavesPerGroup=2), ["sshPrivateKey"])
    assert len(run.mocks.of_type("aws:ec2/instance:Instance")) == 3 + 30
    assert len(run.outputs["brokers"]) == 10
    assert all(len(entry["slaves"]) == 2 for entry in run.outputs["brokers"].values())
