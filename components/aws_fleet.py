"""AwsFleet: the EC2 side of target `aws`: network, security group, key pair, one instance per
planned host, and an encrypted gp3 data volume for every broker's store.

Built for a stack that runs `pulumi up` for years: what clients and SSH rely on outlives any one
instance. Each host's network interface (its private address) and Elastic IP are resources of
their own, a broker's store volume is re-attached to a replacement instance (detached first) and
kept by `destroy` unless told otherwise, and neither a newer AMI nor a new public key replaces a
running instance."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_aws as aws

from components.config_model import AwsSettings
from components.host_keys import SshHostKey, cloud_config
from components.remote import HostEndpoint
from components.topology import ALL_ROCKETMQ_PORTS, CLIENT_PORTS, ClusterPlan, PlannedHost

# Official AMI owners and name patterns (x86_64) per supported OS.
AMI_SOURCES = {
    "centos-stream-9": ("125523088429", "CentOS Stream 9 x86_64*"),
    "rocky-9": ("792107900819", "Rocky-9-EC2-Base-9.*x86_64*"),
    "alma-9": ("764336703387", "AlmaLinux OS 9*x86_64*"),
}
DATA_DEVICE_NAME = "/dev/sdf"
ROOT_VOLUME_GIB = 30
MAX_ZONES = 3


@dataclass(frozen=True)
class AwsFleetArgs:
    settings: AwsSettings
    plan: ClusterPlan
    zones: Sequence[str]  # availability zones for a dedicated VPC; ignored with given subnets


def resolve_ami(settings: AwsSettings) -> str:
    if settings.ami:
        return settings.ami
    owner, name_pattern = AMI_SOURCES[settings.os]
    image = aws.ec2.get_ami(
        most_recent=True,
        owners=[owner],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[name_pattern]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            aws.ec2.GetAmiFilterArgs(name="state", values=["available"]),
        ],
    )
    return image.id


def subnet_cidrs(vpc_cidr: str, count: int, *, private: bool) -> list[str]:
    """/24s carved from the VPC: public ones from the start of its first half, private ones from
    the start of its second half (the config parser refuses VPCs too small for both)."""
    network = ipaddress.IPv4Network(vpc_cidr)
    first = (2 ** (24 - network.prefixlen)) // 2 if private else 0
    base = int(network.network_address)
    return [str(ipaddress.IPv4Network((base + (first + i) * 256, 24))) for i in range(count)]


class AwsFleet(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:aws:Fleet", name, None, opts)
        self._name = name
        settings = args.settings
        # Every broker's exporter listens on the same port on aws (rocketmq:metricsPort).
        self._metrics_port = next((n.metrics_port for n in args.plan.broker_nodes), None)
        # master-slave-auto: the controllers' port, between the cluster's own hosts only.
        self._controller_port = next((h.controller_port for h in args.plan.controller_hosts), None)
        # The proxy's ports: in each broker (proxy local) or on hosts of its own (cluster).
        self._proxy_ports = next(
            (
                p
                for p in [*(n.proxy_ports for n in args.plan.broker_nodes), *(h.proxy_ports for h in args.plan.hosts)]
                if p
            ),
            None,
        )
        child = pulumi.ResourceOptions(parent=self)

        # Elastic IPs need the VPC's internet gateway first (AWS refuses them before it is attached).
        self._gateway: aws.ec2.InternetGateway | None = None
        if settings.vpc_id:
            self.vpc_id: pulumi.Input[str] = settings.vpc_id
            self.subnet_ids: list[pulumi.Input[str]] = list(settings.subnet_ids)
            self.subnet_zones: list[pulumi.Input[str]] = [
                aws.ec2.get_subnet_output(id=subnet_id).availability_zone for subnet_id in settings.subnet_ids
            ]
        else:
            zones = list(args.zones)[:MAX_ZONES]
            self.vpc_id, self.subnet_ids = self._network(settings, zones, child)
            self.subnet_zones = list(zones)

        self.security_group = self._security_group(settings, child)
        # A new public key makes a new key pair; instances keep theirs (ignore_changes below) and the
        # prepare step puts the new key on every host.
        self.key_pair = aws.ec2.KeyPair(f"{name}-key", public_key=settings.ssh_public_key, opts=child)
        ami = resolve_ami(settings)

        self.endpoints: dict[str, HostEndpoint] = {}
        self.instances: dict[str, aws.ec2.Instance] = {}
        for planned in args.plan.hosts:
            self.endpoints[planned.key] = self._host(planned, settings, ami, child)

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "securityGroupId": self.security_group.id,
                "instanceIds": {key: inst.id for key, inst in self.instances.items()},
            }
        )

    def _network(
        self, settings: AwsSettings, zones: list[str], child: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], list[pulumi.Input[str]]]:
        name = self._name
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        self._gateway = gateway
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )
        public_subnets = []
        for index, (zone, cidr) in enumerate(
            zip(zones, subnet_cidrs(settings.vpc_cidr, len(zones), private=False), strict=True)
        ):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )
            public_subnets.append(subnet)
        if settings.public_ip:
            return vpc.id, [s.id for s in public_subnets]

        # Hosts without public IPs still need egress for packages and the release mirror.
        after_gateway = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[gateway]))
        nat_ip = aws.ec2.Eip(f"{name}-nat", domain="vpc", opts=after_gateway)
        nat = aws.ec2.NatGateway(
            f"{name}-nat", allocation_id=nat_ip.id, subnet_id=public_subnets[0].id, opts=after_gateway
        )
        private_routes = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            opts=child,
        )
        private_subnets: list[pulumi.Input[str]] = []
        for index, (zone, cidr) in enumerate(
            zip(zones, subnet_cidrs(settings.vpc_cidr, len(zones), private=True), strict=True)
        ):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                tags={"Name": f"{name}-private-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}", subnet_id=subnet.id, route_table_id=private_routes.id, opts=child
            )
            private_subnets.append(subnet.id)
        return vpc.id, private_subnets

    def _security_group(self, settings: AwsSettings, child: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
        ingress = [
            aws.ec2.SecurityGroupIngressArgs(
                description="SSH for provisioning",
                protocol="tcp",
                from_port=22,
                to_port=22,
                cidr_blocks=list(settings.ssh_cidrs),
            )
        ]
        ingress += [
            aws.ec2.SecurityGroupIngressArgs(
                description=f"RocketMQ {port} inside the cluster",
                protocol="tcp",
                from_port=port,
                to_port=port,
                self=True,
            )
            for port in (*ALL_ROCKETMQ_PORTS, *([self._controller_port] if self._controller_port else []))
        ]
        client_ports = [(f"RocketMQ {port}", port) for port in CLIENT_PORTS]
        if self._proxy_ports is not None:
            client_ports += [
                (f"RocketMQ proxy {port}", port) for port in (self._proxy_ports.grpc, self._proxy_ports.remoting)
            ]
        if settings.client_cidrs:
            ingress += [
                aws.ec2.SecurityGroupIngressArgs(
                    description=f"{what} for clients",
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_blocks=list(settings.client_cidrs),
                )
                for what, port in client_ports
            ]
        if settings.metrics_cidrs and self._metrics_port is not None:
            ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="RocketMQ metrics for Prometheus",
                    protocol="tcp",
                    from_port=self._metrics_port,
                    to_port=self._metrics_port,
                    cidr_blocks=list(settings.metrics_cidrs),
                )
            )
        return aws.ec2.SecurityGroup(
            f"{self._name}-sg",
            description="RocketMQ cluster managed by Pulumi",
            vpc_id=self.vpc_id,
            ingress=ingress,
            # The provider drops AWS's default allow-all egress, so declare it: packages and the mirror.
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="packages, release mirror and time",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=["0.0.0.0/0"],
                )
            ],
            opts=child,
        )

    def _host(
        self, planned: PlannedHost, settings: AwsSettings, ami: str, child: pulumi.ResourceOptions
    ) -> HostEndpoint:
        name = f"{self._name}-{planned.key}"
        slot = planned.zone_slot % len(self.subnet_ids)
        instance_type = settings.name_server_instance_type
        if planned.broker is not None:
            instance_type = settings.broker_instance_type
        elif planned.proxy_ports is not None:
            instance_type = settings.proxy_instance_type
        # The host's address lives on its own interface: a replacement instance takes the same
        # interface, so name server addresses in every client's namesrvAddr stay true.
        interface = aws.ec2.NetworkInterface(
            f"{name}-eth0",
            subnet_id=self.subnet_ids[slot],
            security_groups=[self.security_group.id],
            description=f"{name}: keeps the host's address across instance replacements",
            tags={"Name": f"{name}-eth0"},
            opts=child,
        )
        # The host's SSH key, made by the program and handed to the instance at its first boot
        # (cloud-init): every connection pins it. userData is ignored afterwards, so an instance
        # made before these keys existed keeps running (AWS stops and starts an instance for new
        # user data) and stays unpinned until it is replaced.
        host_key = SshHostKey(f"{name}-host-key", opts=child)
        # Secret in the state and in every value made from it (the engine marks the key's
        # private half secret too: this says so where the program reads it).
        user_data: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(host_key.private_key, host_key.public_key).apply(
                lambda keys: cloud_config(keys[0], keys[1])
            )
        )
        # A newer official image never replaces a running host: only a pinned `ami` does.
        ignored = ["keyName", "userData"] if settings.ami else ["ami", "keyName", "userData"]
        instance = aws.ec2.Instance(
            name,
            ami=ami,
            instance_type=instance_type,
            user_data=user_data,
            primary_network_interface=aws.ec2.InstancePrimaryNetworkInterfaceArgs(
                network_interface_id=interface.id, delete_on_termination=False
            ),
            key_name=self.key_pair.key_name,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3", volume_size=ROOT_VOLUME_GIB, encrypted=True
            ),
            tags={"Name": name, "rocketmq:roles": ",".join(planned.roles)},
            # The interface (and the store volume) can belong to one instance at a time.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(ignore_changes=ignored, delete_before_replace=True)
            ),
        )
        self.instances[planned.key] = instance
        # Pinned where the instance booted with the key: its user data says so.
        pinned = cast(
            "pulumi.Output[str]",
            pulumi.Output.unsecret(
                pulumi.Output.all(instance.user_data, host_key.public_key).apply(
                    lambda values: values[1] if values[0] else None
                )
            ),
        )
        ssh_host: pulumi.Input[str] = interface.private_ip
        if settings.public_ip:
            # Auto-assigned public IPs change at every stop/start; an Elastic IP does not.
            public = aws.ec2.Eip(
                f"{name}-ip",
                domain="vpc",
                network_interface=interface.id,
                tags={"Name": name},
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[self._gateway] if self._gateway else [])
                ),
            )
            ssh_host = public.public_ip
        # A controller's Raft log is state, like a broker's store: both get a volume of their own.
        if planned.broker is None and planned.controller_port is None:
            return HostEndpoint(
                planned.key,
                ssh_host,
                interface.private_ip,
                settings.ssh_user,
                ready_after=[instance],
                machine_id=instance.id,
                authorized_key=settings.ssh_public_key,
                host_key=pinned,
                slow_first_dial=True,
            )

        volume = aws.ebs.Volume(
            f"{name}-store",
            availability_zone=self.subnet_zones[slot],
            size=settings.data_volume_size_gib,
            type="gp3",
            encrypted=True,
            tags={"Name": f"{name}-store"},
            # `pulumi destroy` keeps the store unless rocketmq:retainStoreOnDestroy is false.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(retain_on_delete=settings.retain_store_on_destroy)
            ),
        )
        attachment = aws.ec2.VolumeAttachment(
            f"{name}-store",
            device_name=DATA_DEVICE_NAME,
            instance_id=instance.id,
            volume_id=volume.id,
            stop_instance_before_detaching=True,
            # AWS attaches a volume to one instance at a time: detach from the old one first.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        return HostEndpoint(
            planned.key,
            ssh_host,
            interface.private_ip,
            settings.ssh_user,
            data_volume_id=volume.id,
            ready_after=[instance, attachment],
            machine_id=instance.id,
            authorized_key=settings.ssh_public_key,
            host_key=pinned,
            slow_first_dial=True,
        )
