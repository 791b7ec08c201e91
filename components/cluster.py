"""Wires the pieces: config -> plan -> hosts (aws or existing) -> name servers (and controllers of their own)
-> broker pairs -> topics and consumer groups -> outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_command import remote

from components.acl_admin_identity import AclAdminIdentity
from components.acl_admin_rotation import AclAdminRotation, AclAdminRotationArgs, BrokerAccess
from components.broker_pair import BrokerPair, BrokerPairArgs
from components.config_model import AclSettings, ClusterConfig
from components.controller_tier import ControllerTier, ControllerTierArgs
from components.firewall_rules import FirewallSources, cluster_sources, firewall_rules
from components.group_drain import GroupDrain, GroupDrainArgs
from components.local_fleet import LocalFleet, LocalFleetArgs
from components.name_server_tier import NameServerTier, NameServerTierArgs
from components.proxy_tier import ProxyTier, ProxyTierArgs
from components.remote import Bastion, HostEndpoint, connection_for
from components.rocketmq_host import RocketMqHost, RocketMqHostArgs
from components.tls_certificates import StackCa, TlsAuthority
from components.topic_catalog import TopicCatalog, TopicCatalogArgs, TopicLayout
from components.topology import ClusterPlan, namesrv_addr, plan_cluster

MIN_ZONES = 2


@dataclass(frozen=True)
class ClusterOutputs:
    namesrv_addr: pulumi.Output[str]
    name_servers: pulumi.Output[list[str]]
    brokers: pulumi.Output[dict[str, Any]]
    cluster_name: str
    mode: str
    topics: TopicLayout
    metrics_targets: pulumi.Output[list[str]]
    proxy_endpoints: pulumi.Output[list[str]]
    # rocketmq:tls permissive or enforcing: the CA clients verify the cluster with; "" otherwise.
    ca_certificate: pulumi.Input[str]

    def as_exports(self) -> dict[str, Any]:
        return {
            "namesrvAddr": self.namesrv_addr,
            "nameServers": self.name_servers,
            "brokers": self.brokers,
            "clusterName": self.cluster_name,
            "mode": self.mode,
            "topics": self.topics,
            "metricsTargets": self.metrics_targets,
            "proxyEndpoints": self.proxy_endpoints,
            "caCertificate": self.ca_certificate,
        }


def _aws_endpoints(cfg: ClusterConfig) -> tuple[ClusterPlan, dict[str, HostEndpoint]]:
    import pulumi_aws as aws

    from components.aws_fleet import MAX_ZONES, AwsFleet, AwsFleetArgs

    assert cfg.aws is not None
    if cfg.aws.subnet_ids:
        zones: list[str] = []
        zone_count = len(cfg.aws.subnet_ids)
    else:
        zones = list(aws.get_availability_zones(state="available").names)[:MAX_ZONES]
        if len(zones) < MIN_ZONES:
            raise pulumi.RunError(
                f"aws:region offers {len(zones)} availability zone(s); the cluster needs at least {MIN_ZONES}"
            )
        zone_count = len(zones)
    plan = plan_cluster(cfg, zones=zone_count)
    fleet = AwsFleet("rocketmq", AwsFleetArgs(settings=cfg.aws, plan=plan, zones=zones))
    return plan, fleet.endpoints


def _existing_endpoints(cfg: ClusterConfig) -> tuple[ClusterPlan, dict[str, HostEndpoint]]:
    plan = plan_cluster(cfg)
    endpoints = {
        spec.name: HostEndpoint(
            spec.name, spec.address, spec.private_address, spec.user, spec.port, host_key=spec.host_key
        )
        for spec in cfg.hosts
    }
    return plan, endpoints


def _local_fleet(cfg: ClusterConfig) -> tuple[ClusterPlan, LocalFleet]:
    plan = plan_cluster(cfg)
    stack = f"{pulumi.get_project()}-{pulumi.get_stack()}"
    return plan, LocalFleet("rocketmq-local", LocalFleetArgs(plan=plan, release=cfg.release, stack=stack))


def _stack_ca(cfg: ClusterConfig) -> StackCa | None:
    """rocketmq:tls permissive or enforcing: the user's CA, or one the program makes for the stack."""
    if cfg.tls is None or not cfg.tls.encrypts:
        return None
    if cfg.tls.ca_certificate is not None:
        key = None if cfg.tls.ca_key is None else pulumi.Output.secret(cfg.tls.ca_key)
        return StackCa(cfg.tls.ca_certificate, key)
    authority = TlsAuthority("rocketmq-tls-ca", common_name=f"RocketMQ {pulumi.get_project()}/{pulumi.get_stack()} CA")
    return StackCa(authority.certificate, authority.private_key)


def deploy(cfg: ClusterConfig, private_key: pulumi.Input[str] | None) -> ClusterOutputs:
    """`private_key` is the stack's sshPrivateKey; target local makes its own (None here)."""
    # Registered first: a changed admin stops the preview (and an update) at its check.
    acl_admin = None if cfg.acl is None else AclAdminIdentity("rocketmq-acl-admin", cfg.acl)
    mirror: pulumi.Input[str] | None = None
    if cfg.target == "local":
        plan, fleet = _local_fleet(cfg)
        endpoints, private_key, mirror = fleet.endpoints, fleet.private_key, fleet.mirror_url
    else:
        plan, endpoints = _aws_endpoints(cfg) if cfg.target == "aws" else _existing_endpoints(cfg)
    if private_key is None:
        raise pulumi.RunError("rocketmq:sshPrivateKey: is required for target " + cfg.target)
    bastion = None
    if cfg.aws is not None and cfg.aws.bastion_host:
        bastion = Bastion(cfg.aws.bastion_host, cfg.aws.bastion_user or cfg.aws.ssh_user, cfg.aws.bastion_host_key)

    tls_ca = _stack_ca(cfg)
    sources = None
    if cfg.host_firewall is not None:
        sources = FirewallSources(
            cluster_sources(cfg.hosts), cfg.host_firewall.client_cidrs, cfg.host_firewall.metrics_cidrs
        )
    # ACL 1.0 (4.9.x): every broker host's users file lets the brokers' own addresses in.
    trusted: pulumi.Output[list[str]] | None = None
    if cfg.acl is not None and cfg.acl.model == 1:
        trusted = pulumi.Output.all(*[endpoints[h.key].private_address for h in plan.hosts if h.broker is not None])
    connections = {h.key: connection_for(endpoints[h.key], private_key, bastion) for h in plan.hosts}
    rotation = None
    if cfg.acl is not None and cfg.acl.model == 2 and acl_admin is not None:
        rotation = _admin_rotation(cfg.acl, plan, endpoints, connections, acl_admin)
    hosts = {
        planned.key: RocketMqHost(
            f"rocketmq-{planned.key}",
            RocketMqHostArgs(
                endpoint=endpoints[planned.key],
                connection=connections[planned.key],
                release=cfg.release,
                store_path=cfg.store_path,
                planned=planned,
                mirror=mirror,
                firewall_rules=None if sources is None else firewall_rules(planned, sources),
                acl=cfg.acl,
                # A new admin is on every broker before any host's credentials change.
                acl_after=[*([acl_admin] if acl_admin is not None else []), *(rotation.handovers if rotation else [])],
                acl_trusted_addresses=trusted if planned.broker is not None else None,
                tls=cfg.tls,
                tls_ca=tls_ca,
                tls_own_certificate=cfg.tls.host_certificates.get(planned.key) if cfg.tls is not None else None,
            ),
        )
        for planned in plan.hosts
    }

    tier = NameServerTier(
        "rocketmq-namesrv",
        NameServerTierArgs(cfg=cfg, hosts=[hosts[h.key] for h in plan.name_server_hosts]),
    )
    # One chain of rolling restarts through the whole cluster: name servers, controllers of their
    # own, then group by group.
    rollout_after: Sequence[pulumi.Resource] = tier.rollouts[-1:]
    controller_addr, brokers_wait_for = tier.controller_addr, list(tier.services)
    own_controllers = [hosts[h.key] for h in plan.controller_hosts if h.own_controller]
    if own_controllers:
        controllers = ControllerTier(
            "rocketmq-controller", ControllerTierArgs(cfg=cfg, hosts=own_controllers, rollout_after=rollout_after)
        )
        controller_addr, rollout_after = controllers.controller_addr, controllers.rollouts[-1:]
        brokers_wait_for += controllers.services
    pairs: list[BrokerPair] = []
    for group in plan.groups:
        pair = BrokerPair(
            f"rocketmq-{group.broker_name}",
            BrokerPairArgs(
                cfg=cfg,
                group=group,
                hosts=hosts,
                namesrv_addr=tier.namesrv_addr,
                name_servers=brokers_wait_for,
                rollout_after=rollout_after,
                controller_addr=controller_addr,
            ),
        )
        pairs.append(pair)
        rollout_after = pair.rollouts[-1:]

    # master-slave-auto: the replicas, and the master the latest rolling restart found (it may change).
    elected = cfg.mode.elects_masters
    brokers = pulumi.Output.all(*[pulumi.Output.all(p.master, p.slaves, p.replicas) for p in pairs]).apply(
        lambda resolved: {
            group.broker_name: {"master": master, "replicas": list(replicas)}
            if elected
            else {"master": master, "slaves": list(slaves)}
            for group, (master, slaves, replicas) in zip(plan.groups, resolved, strict=True)
        }
    )
    admin_host = hosts[plan.groups[0].master.host]
    GroupDrain(
        "rocketmq-drain",
        GroupDrainArgs(
            cfg=cfg,
            broker_names=[group.broker_name for group in plan.groups],
            admin_host=admin_host,
            namesrv_addr=tier.namesrv_addr,
            brokers=pairs,
        ),
    )
    catalog = TopicCatalog(
        "rocketmq-catalog",
        TopicCatalogArgs(
            cfg=cfg,
            broker_names=[group.broker_name for group in plan.groups],
            admin_host=admin_host,
            namesrv_addr=tier.namesrv_addr,
            # master-slave-auto: "", each topic step asks the name servers for the master when it runs.
            masters={
                group.broker_name: "" if elected else pair.master
                for group, pair in zip(plan.groups, pairs, strict=True)
            },
            brokers=pairs,
        ),
    )
    # Proxies of their own (proxy cluster) restart last: clients move between them meanwhile.
    proxies = None
    if plan.proxy_hosts:
        proxies = ProxyTier(
            "rocketmq-proxy",
            ProxyTierArgs(
                cfg=cfg,
                hosts=[hosts[h.key] for h in plan.proxy_hosts],
                namesrv_addr=tier.namesrv_addr,
                name_servers=tier.services,
                rollout_after=rollout_after,
            ),
        )
    if rotation is not None:
        rotation.retire_former_admins(
            after=[
                *(step for pair in pairs for step in pair.services),
                *(proxies.services + proxies.rollouts if proxies else []),
            ]
        )
    return ClusterOutputs(
        namesrv_addr=tier.namesrv_addr,
        name_servers=tier.endpoints,
        brokers=brokers,
        cluster_name=cfg.cluster_name,
        mode=cfg.mode.value,
        topics=catalog.topics,
        metrics_targets=_flattened(
            [*(p.metrics_targets for p in pairs), *([proxies.metrics_targets] if proxies else [])]
        ),
        proxy_endpoints=proxies.endpoints if proxies else _flattened([p.proxy_endpoints for p in pairs]),
        ca_certificate=tls_ca.certificate if tls_ca is not None else "",
    )


def _admin_rotation(
    acl: AclSettings,
    plan: ClusterPlan,
    endpoints: Mapping[str, HostEndpoint],
    connections: Mapping[str, remote.ConnectionArgs],
    pinned_admin: pulumi.Resource,
) -> AclAdminRotation:
    """ACL 2.0: the steps that move the brokers to another admin, when rocketmq:aclAdminUser changes."""
    name_servers = plan.name_server_hosts
    namesrv = pulumi.Output.all(*[endpoints[h.key].private_address for h in name_servers]).apply(
        lambda addresses: namesrv_addr([(a, h.name_server_port) for a, h in zip(addresses, name_servers, strict=True)])
    )
    brokers = [
        BrokerAccess(
            host_key=h.key,
            node=h.broker,
            connection=connections[h.key],
            private_address=endpoints[h.key].private_address,
            ready_after=endpoints[h.key].ready_after,
        )
        for h in plan.hosts
        if h.broker is not None
    ]
    return AclAdminRotation(
        "rocketmq-acl-admin-rotation",
        AclAdminRotationArgs(acl=acl, brokers=brokers, namesrv_addr=namesrv, pinned_admin=pinned_admin),
    )


def _flattened(per_group: list[pulumi.Output[list[str]]]) -> pulumi.Output[list[str]]:
    return pulumi.Output.all(*per_group).apply(lambda lists: [item for items in lists for item in items])
