"""AwsFleet: the EC2 side of target `aws`: network, security group, key pair, one instance per
planned host, and an encrypted gp3 data volume for every broker's store."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import AwsSettings
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


def subnet_cidrs(vpc_cidr: str, count: int, offset: int) -> list[str]:
    """/24s carved from the VPC: public ones from offset 0, private ones from offset 128."""
    network = ipaddress.IPv4Network(vpc_cidr)
    subnets = list(network.subnets(new_prefix=24))
    return [str(subnets[offset + i]) for i in range(count)]


class AwsFleet(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:aws:Fleet", name, None, opts)
        self._name = name
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        if settings.vpc_id:
            self.vpc_id: pulumi.Input[str] = settings.vpc_id
            self.subnet_ids: list[pulumi.Input[str]] = list(settings.subnet_ids)
        else:
            self.vpc_id, self.subnet_ids = self._network(settings, list(args.zones)[:MAX_ZONES], child)

        self.security_group = self._security_group(settings, child)
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
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )
        public_subnets = []
        for index, (zone, cidr) in enumerate(zip(zones, subnet_cidrs(settings.vpc_cidr, len(zones), 0), strict=True)):
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
        nat_ip = aws.ec2.Eip(f"{name}-nat", domain="vpc", opts=child)
        nat = aws.ec2.NatGateway(f"{name}-nat", allocation_id=nat_ip.id, subnet_id=public_subnets[0].id, opts=child)
        private_routes = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            opts=child,
        )
        private_subnets: list[pulumi.Input[str]] = []
        for index, (zone, cidr) in enumerate(zip(zones, subnet_cidrs(settings.vpc_cidr, len(zones), 128), strict=True)):
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
            for port in ALL_ROCKETMQ_PORTS
        ]
        if settings.client_cidrs:
            ingress += [
                aws.ec2.SecurityGroupIngressArgs(
                    description=f"RocketMQ {port} for clients",
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_blocks=list(settings.client_cidrs),
                )
                for port in CLIENT_PORTS
            ]
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
        instance_type = settings.name_server_instance_type if planned.broker is None else settings.broker_instance_type
        instance = aws.ec2.Instance(
            name,
            ami=ami,
            instance_type=instance_type,
            subnet_id=self.subnet_ids[planned.zone_slot % len(self.subnet_ids)],
            vpc_security_group_ids=[self.security_group.id],
            key_name=self.key_pair.key_name,
            associate_public_ip_address=settings.public_ip,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3", volume_size=ROOT_VOLUME_GIB, encrypted=True
            ),
            tags={"Name": name, "rocketmq:roles": ",".join(planned.roles)},
            opts=child,
        )
        self.instances[planned.key] = instance
        ssh_host = instance.public_ip if settings.public_ip else instance.private_ip
        if planned.broker is None:
            return HostEndpoint(planned.key, ssh_host, instance.private_ip, settings.ssh_user, ready_after=[instance])

        volume = aws.ebs.Volume(
            f"{name}-store",
            availability_zone=instance.availability_zone,
            size=settings.data_volume_size_gib,
            type="gp3",
            encrypted=True,
            tags={"Name": f"{name}-store"},
            opts=child,
        )
        attachment = aws.ec2.VolumeAttachment(
            f"{name}-store",
            device_name=DATA_DEVICE_NAME,
            instance_id=instance.id,
            volume_id=volume.id,
            stop_instance_before_detaching=True,
            opts=child,
        )
        return HostEndpoint(
            planned.key,
            ssh_host,
            instance.private_ip,
            settings.ssh_user,
            data_volume_id=volume.id,
            ready_after=[instance, attachment],
        )
