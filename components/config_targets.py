"""Stack config per target: `hosts` (machines you have, each role placed) and the `aws` settings.

Part of the config parser (components/config.py), which calls these once the shape of the cluster
is known; it builds on components/config_checks.py.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from components import config_checks as check
from components.config import (
    _AMI,
    _INSTANCE_TYPE,
    _SSH_PUBLIC_KEY,
    _SUBNET,
    _VPC,
    OPERATING_SYSTEMS,
    TARGETS,
    _Reader,
    expected_brokers,
)
from components.config_checks import NAMESPACE, ConfigError
from components.config_model import AwsSettings, BrokerPlacement, HostFirewall, HostSpec, Mode
from components.config_ssh_keys import ec2_public_key, host_key, pin_host_keys

_UNIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def parse_target(
    r: _Reader, secret_keys: frozenset[str] | None, *, mode: Mode, groups: int, slaves: int, name_servers: int
) -> tuple[str, tuple[HostSpec, ...], AwsSettings | None, HostFirewall | None]:
    """`target`, with how the program reaches hosts and who they let in: (target, its hosts, its aws
    settings, its hosts' firewall)."""
    target = check.choice("target", r.get("target", "aws"), TARGETS)
    if target == "local" and r.has("sshPrivateKey"):
        raise ConfigError(
            "sshPrivateKey",
            "is not used for target local: the stack makes its own key pair; "
            "remove it with `pulumi config rm rocketmq:sshPrivateKey`",
        )
    if target != "local" and not r.has("sshPrivateKey"):
        raise ConfigError(
            "sshPrivateKey", "is required: set it with `pulumi config set --secret rocketmq:sshPrivateKey < key`"
        )
    if target != "local" and secret_keys is not None and f"{NAMESPACE}:sshPrivateKey" not in secret_keys:
        raise ConfigError(
            "sshPrivateKey", "must be stored as a secret: `pulumi config set --secret rocketmq:sshPrivateKey < key`"
        )
    ssh_user = r.get("sshUser")
    if ssh_user is not None:
        ssh_user = check.pattern("sshUser", ssh_user, _UNIX_USER, "a Unix user name")
    if target == "hosts":
        hosts = parse_hosts(
            r.get("hosts"), ssh_user or "root", mode=mode, groups=groups, slaves=slaves, name_servers=name_servers
        )
        client_cidrs, metrics_cidrs = _access_cidrs(r)
        return target, pin_host_keys(r, hosts), None, HostFirewall(client_cidrs, metrics_cidrs)
    if r.has("sshHostKeysFile"):
        raise ConfigError("sshHostKeysFile", f"is for target hosts; target is {target}")
    if target == "aws":
        return target, (), parse_aws(r, ssh_user), None
    return target, (), None, None


def _access_cidrs(r: _Reader) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(clientCidrs, metricsCidrs): who reaches the clients' ports and the metrics exporters, beyond
    the cluster's own hosts (aws: the security group; hosts: firewalld or ufw, when active)."""
    client_cidrs = check.string_list("clientCidrs", r.get("clientCidrs", []), check.cidr)
    metrics_cidrs = check.string_list("metricsCidrs", r.get("metricsCidrs", []), check.cidr)
    if "0.0.0.0/0" in metrics_cidrs:
        raise ConfigError(
            "metricsCidrs",
            "must not open the metrics exporters, which ask for no credentials, to the whole internet (0.0.0.0/0); "
            "list your Prometheus servers' CIDRs",
        )
    return client_cidrs, metrics_cidrs


def parse_hosts(
    raw: Any, default_user: str, *, mode: Mode, groups: int, slaves: int, name_servers: int
) -> tuple[HostSpec, ...]:
    key = "hosts"
    value = check.structured(key, raw)
    if value is None:
        raise ConfigError(
            key, "is required when target is hosts: a list of {name, address, nameServer, broker} entries"
        )
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"must be a non-empty list of hosts; got {raw!r}")

    allowed_fields = {
        "name",
        "address",
        "privateAddress",
        "user",
        "port",
        "nameServer",
        "broker",
        "proxy",
        "controller",
        "hostKey",
    }
    specs: list[HostSpec] = []
    for index, entry in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(where, f"must be an object with name and address; got {entry!r}")
        extra_fields = sorted(set(entry) - allowed_fields)
        if extra_fields:
            raise ConfigError(where, f"unknown field {extra_fields[0]!r}; allowed: {', '.join(sorted(allowed_fields))}")
        if "name" not in entry or "address" not in entry:
            raise ConfigError(where, "needs both name and address")
        name = check.pattern(
            f"{where}.name",
            entry["name"],
            re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"),
            "1-32 lowercase letters, digits or -",
        )
        address = check.address(f"{where}.address", entry["address"])
        private = check.ipv4(f"{where}.privateAddress", entry.get("privateAddress", address))
        user = check.pattern(
            f"{where}.user",
            entry.get("user", default_user),
            re.compile(r"^[a-z_][a-z0-9_-]{0,31}$"),
            "a Unix user name",
        )
        port = check.integer(f"{where}.port", entry.get("port", 22), 1, 65535)
        name_server = check.boolean(f"{where}.nameServer", entry.get("nameServer", False))
        broker = _placement(f"{where}.broker", entry.get("broker"))
        proxy = check.boolean(f"{where}.proxy", entry.get("proxy", False))
        controller = check.boolean(f"{where}.controller", entry.get("controller", False))
        if not name_server and broker is None and not proxy and not controller:
            raise ConfigError(
                where,
                f"host {name!r} carries nothing: set nameServer: true, broker: broker-a/0, proxy: true "
                "and/or controller: true",
            )
        if controller and (name_server or proxy):
            raise ConfigError(
                f"{where}.controller",
                f"host {name!r} runs a {'name server' if name_server else 'proxy'}: a controller of its own runs on "
                "a host with no name server or proxy (it may carry a broker); for controllers inside the name "
                "servers, mark no host controller: true",
            )
        if proxy and broker is not None:
            raise ConfigError(
                f"{where}.proxy",
                f"host {name!r} carries a broker: a proxy host may carry a name server but no broker "
                "(each would serve metrics on the same port, and the proxy forwards every client's traffic)",
            )
        pinned_key = None if entry.get("hostKey") is None else host_key(f"{where}.hostKey", entry["hostKey"])
        specs.append(HostSpec(name, address, private, user, port, name_server, broker, proxy, controller, pinned_key))

    for attr, label in (("name", "name"), ("address", "address"), ("private_address", "privateAddress")):
        seen: set[str] = set()
        for spec in specs:
            item = getattr(spec, attr)
            if item in seen:
                raise ConfigError(key, f"two hosts share the {label} {item!r}; each host must be distinct")
            seen.add(item)

    ns_count = sum(1 for s in specs if s.name_server)
    if ns_count != name_servers:
        raise ConfigError(
            key, f"{ns_count} hosts have nameServer: true but rocketmq:nameServers is {name_servers}; they must match"
        )

    expected = expected_brokers(groups, slaves)
    placed: dict[tuple[str, int], str] = {}
    for spec in specs:
        if spec.broker is None:
            continue
        ident = (spec.broker.broker_name, spec.broker.broker_id)
        if ident in placed:
            raise ConfigError(key, f"{ident[0]}/{ident[1]} is placed on both {placed[ident]!r} and {spec.name!r}")
        if spec.broker not in expected:
            allowed = ", ".join(f"{b.broker_name}/{b.broker_id}" for b in expected)
            raise ConfigError(
                key,
                f"host {spec.name!r} has broker {ident[0]}/{ident[1]}, which {mode.value} with rocketmq:brokerGroups={groups} and rocketmq:slavesPerGroup={slaves} does not have; allowed: {allowed}",
            )
        placed[ident] = spec.name
    missing = [f"{b.broker_name}/{b.broker_id}" for b in expected if (b.broker_name, b.broker_id) not in placed]
    if missing:
        raise ConfigError(
            key,
            f"too few broker hosts: {', '.join(missing)} not placed on any host ({mode.value} needs {len(expected)} brokers)",
        )
    return tuple(specs)


def _placement(key: str, raw: Any) -> BrokerPlacement | None:
    if raw is None or raw is False:
        return None
    match = re.fullmatch(r"(broker-[a-z])/(\d)", raw) if isinstance(raw, str) else None
    if not match:
        raise ConfigError(
            key, f"must be brokerName/brokerId such as broker-a/0 (master) or broker-a/1 (slave); got {raw!r}"
        )
    return BrokerPlacement(broker_name=match.group(1), broker_id=int(match.group(2)))


_OS_LOGIN = {"centos-stream-9": "ec2-user", "rocky-9": "rocky", "alma-9": "ec2-user"}


def parse_aws(r: _Reader, ssh_user: str | None) -> AwsSettings:
    os_name = check.choice("os", r.get("os", "centos-stream-9"), OPERATING_SYSTEMS)
    ami = r.get("ami")
    if ami is not None:
        ami = check.pattern("ami", ami, _AMI, "an AMI id such as ami-0123456789abcdef0")
    ns_type = check.pattern(
        "nameServerInstanceType",
        r.get("nameServerInstanceType", "t3.medium"),
        _INSTANCE_TYPE,
        "an EC2 instance type such as t3.medium",
    )
    broker_type = check.pattern(
        "brokerInstanceType",
        r.get("brokerInstanceType", "m5.large"),
        _INSTANCE_TYPE,
        "an EC2 instance type such as m5.large",
    )
    proxy_type = check.pattern(
        "proxyInstanceType",
        r.get("proxyInstanceType", "t3.medium"),
        _INSTANCE_TYPE,
        "an EC2 instance type such as t3.medium",
    )
    volume = check.integer("dataVolumeSize", r.get("dataVolumeSize", 100), 8, 16384)

    vpc_id = r.get("vpcId")
    if vpc_id is not None:
        vpc_id = check.pattern("vpcId", vpc_id, _VPC, "a VPC id such as vpc-0123456789abcdef0")
    subnet_ids = check.string_list(
        "subnetIds",
        r.get("subnetIds", []),
        lambda k, v: check.pattern(k, v, _SUBNET, "a subnet id such as subnet-0123456789abcdef0"),
    )
    if vpc_id and not subnet_ids:
        raise ConfigError(
            "subnetIds", "is required with rocketmq:vpcId: list the subnets (in different zones) to place hosts in"
        )
    if subnet_ids and not vpc_id:
        raise ConfigError("vpcId", "is required with rocketmq:subnetIds: the VPC the subnets belong to")
    vpc_cidr = check.cidr("vpcCidr", r.get("vpcCidr", "10.42.0.0/16"))
    if ipaddress.IPv4Network(vpc_cidr).prefixlen > 20:
        raise ConfigError("vpcCidr", f"must be /20 or larger to hold the subnets; got {vpc_cidr}")

    ssh_cidrs = check.string_list("sshCidrs", r.get("sshCidrs", []), check.cidr)
    client_cidrs, metrics_cidrs = _access_cidrs(r)
    public_ip = check.boolean("publicIp", r.get("publicIp", True))
    bastion_host = r.get("bastionHost")
    if bastion_host is not None:
        bastion_host = check.address("bastionHost", bastion_host)
    bastion_host_key = None
    if bastion_host is not None:
        if not r.has("bastionHostKey"):
            raise ConfigError(
                "bastionHostKey",
                "is required with rocketmq:bastionHost: the bastion's SSH host key, pinned on every connection "
                f"through it (`ssh-keyscan -t ed25519 {bastion_host}` prints it after the host), so a machine in "
                "the middle never gets the session",
            )
        bastion_host_key = host_key("bastionHostKey", r.get("bastionHostKey"))
    elif r.has("bastionHostKey"):
        raise ConfigError("bastionHostKey", "is the key of rocketmq:bastionHost, which is not set")
    bastion_user = r.get("bastionUser")
    if bastion_user is not None:
        bastion_user = check.pattern("bastionUser", bastion_user, _UNIX_USER, "a Unix user name")
    if not public_ip and not vpc_id:
        raise ConfigError(
            "publicIp",
            "false needs rocketmq:vpcId and rocketmq:subnetIds of an existing VPC that your bastion reaches; "
            "a dedicated VPC has no bastion, so its private hosts could not be reached",
        )
    if not public_ip and not bastion_host:
        raise ConfigError(
            "bastionHost",
            "is required when rocketmq:publicIp is false: without public IPs the hosts are reached through a bastion",
        )
    if "0.0.0.0/0" in ssh_cidrs:
        raise ConfigError(
            "sshCidrs", "must not open SSH to the whole internet (0.0.0.0/0); list your office, VPN or bastion CIDRs"
        )
    if not ssh_cidrs:
        raise ConfigError(
            "sshCidrs",
            "is required for target aws: the CIDRs allowed to reach port 22 (where `pulumi up` or the bastion runs)",
        )

    public_key = r.get("sshPublicKey")
    if public_key is None:
        raise ConfigError(
            "sshPublicKey", "is required for target aws: the OpenSSH public key matching rocketmq:sshPrivateKey"
        )
    public_key = ec2_public_key(
        check.pattern(
            "sshPublicKey",
            str(public_key).strip(),
            _SSH_PUBLIC_KEY,
            "one OpenSSH public key line (ssh-ed25519 or ssh-rsa)",
        )
    )

    return AwsSettings(
        os=os_name,
        ami=ami,
        name_server_instance_type=ns_type,
        broker_instance_type=broker_type,
        proxy_instance_type=proxy_type,
        data_volume_size_gib=volume,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        vpc_cidr=vpc_cidr,
        ssh_cidrs=ssh_cidrs,
        client_cidrs=client_cidrs,
        metrics_cidrs=metrics_cidrs,
        public_ip=public_ip,
        bastion_host=bastion_host,
        bastion_user=bastion_user,
        bastion_host_key=bastion_host_key,
        ssh_public_key=public_key,
        ssh_user=ssh_user or _OS_LOGIN[os_name],
        retain_store_on_destroy=check.boolean("retainStoreOnDestroy", r.get("retainStoreOnDestroy", True)),
    )
