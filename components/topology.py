"""ClusterConfig -> pure topology plan: which hosts, which roles, which ids.

No Pulumi here, so the plan is tested in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from components.config import broker_group_name
from components.config_model import ClusterConfig, Mode

NAME_SERVER_PORT = 9876
BROKER_PORT = 10911  # listenPort; fast channel is -2 (10909), HA replication +1 (10912)
FAST_CHANNEL_PORT = BROKER_PORT - 2
HA_PORT = BROKER_PORT + 1
ALL_ROCKETMQ_PORTS = (NAME_SERVER_PORT, FAST_CHANNEL_PORT, BROKER_PORT, HA_PORT)
CLIENT_PORTS = (NAME_SERVER_PORT, FAST_CHANNEL_PORT, BROKER_PORT)
SSH_PORT = 22
# master-slave-auto: the controller in each name server (Raft among controllers, and brokers' requests).
# RocketMQ's own examples' port; on target local, name server k's port + 2.
CONTROLLER_PORT = 9878
LOCAL_CONTROLLER_PORT_OFFSET = 2
# A broker's role in master-slave-auto: it starts as RocketMQ's SLAVE and the controllers elect the master.
ELECTED_ROLE = "ELECTED"

# target local: every machine shares this machine's loopback, so each gets its own ports, clear
# of RocketMQ's defaults (a RocketMQ already running here keeps 9876/10911) and below Linux's
# ephemeral range (32768-60999). They follow the role, not the machine's place in the plan, so
# adding a name server, a group or a slave leaves every existing machine's ports as they are.
# RocketMQ derives the broker's fast channel (listen - 2) and HA port (listen + 1) itself.
LOCAL_NAME_SERVER_PORT_BASE = 19876  # name server k (0-8): 19876 + 10 k
LOCAL_BROKER_PORT_BASE = 20911  # broker g/b (group g 0-25, brokerId b 0-8): 20911 + 100 g + 10 b
LOCAL_NAME_SERVER_SSH_PORT_BASE = 20022  # sshd of name server k: 20022 + k
LOCAL_BROKER_SSH_PORT_BASE = 20100  # sshd of broker g/b: 20100 + 10 g + b
# Broker g/b's ports are listenPort - 2 .. listenPort + 7; its metrics exporter takes listenPort + 5
# and its proxy + 6 (gRPC) and + 7 (remoting). None of them is among the ports a machine is created
# with, so turning metrics or the proxy on keeps the machines.
LOCAL_METRICS_PORT_OFFSET = 5
LOCAL_PROXY_GRPC_PORT_OFFSET = 6
LOCAL_PROXY_REMOTING_PORT_OFFSET = 7
# Proxy machine k (proxy: cluster, 0-8): remoting 18080 + 10 k, gRPC + 1, metrics + 2; sshd 20400 + k
# (clear of the mirror's 19800, the name servers' and the brokers' sshd, up to 20358).
LOCAL_PROXY_PORT_BASE = 18080
LOCAL_PROXY_SSH_PORT_BASE = 20400
# Controller machine k (master-slave-auto with rocketmq:controllers, 0-8): 19879 + 10 k, between
# the name servers' ports and their controllers'; sshd 20420 + k.
LOCAL_CONTROLLER_PORT_BASE = 19879
LOCAL_CONTROLLER_SSH_PORT_BASE = 20420
LOCAL_ADDRESS = "127.0.0.1"


def broker_ports(listen_port: int) -> tuple[int, int, int]:
    """(fast channel, listenPort, HA): the ports a broker with this listenPort opens."""
    return listen_port - 2, listen_port, listen_port + 1


@dataclass(frozen=True)
class ProxyPorts:
    grpc: int  # the 5.x SDKs' endpoint
    remoting: int


@dataclass(frozen=True)
class BrokerNode:
    broker_name: str
    broker_id: int
    role: str  # ASYNC_MASTER | SYNC_MASTER | SLAVE | ELECTED (master-slave-auto: the controllers decide)
    host: str  # key of the PlannedHost carrying it
    listen_port: int = BROKER_PORT
    metrics_port: int | None = None  # RocketMQ's Prometheus exporter (rocketmq:metrics); None when off
    proxy_ports: ProxyPorts | None = None  # the proxy inside this broker (rocketmq:proxy local)

    @property
    def is_master(self) -> bool:
        """The plan's master (replica 0 in master-slave-auto, where controllers elect the master)."""
        return self.broker_id == 0

    @property
    def elected(self) -> bool:
        return self.role == ELECTED_ROLE

    @property
    def label(self) -> str:
        return f"{self.broker_name}/{self.broker_id}"


@dataclass(frozen=True)
class PlannedHost:
    key: str  # stable resource name part, e.g. "ns-1", "broker-a-0" or the host's own name
    name_server: bool
    broker: BrokerNode | None
    zone_slot: int  # index into the available zones/subnets (aws)
    name_server_port: int = NAME_SERVER_PORT
    ssh_port: int = SSH_PORT  # target local: sshd of the machine (hosts: the host's own port)
    proxy_ports: ProxyPorts | None = None  # a proxy of its own (rocketmq:proxy cluster)
    metrics_port: int | None = None  # the proxy's Prometheus exporter (rocketmq:metrics)
    # master-slave-auto: the controller in this name server, or of its own (rocketmq:controllers)
    controller_port: int | None = None

    @property
    def own_controller(self) -> bool:
        """Runs a controller as a service of its own (mqcontroller), not inside a name server."""
        return self.controller_port is not None and not self.name_server

    @property
    def listen_ports(self) -> tuple[int, ...]:
        """Every TCP port RocketMQ opens on this host."""
        ports = [self.name_server_port] if self.name_server else []
        if self.controller_port is not None:
            ports.append(self.controller_port)
        if self.broker:
            ports.extend(broker_ports(self.broker.listen_port))
            if self.broker.metrics_port is not None:
                ports.append(self.broker.metrics_port)
            if self.broker.proxy_ports is not None:
                ports.extend((self.broker.proxy_ports.grpc, self.broker.proxy_ports.remoting))
        if self.proxy_ports is not None:
            ports.extend((self.proxy_ports.grpc, self.proxy_ports.remoting))
            if self.metrics_port is not None:
                ports.append(self.metrics_port)
        return tuple(ports)

    @property
    def roles(self) -> tuple[str, ...]:
        roles = []
        if self.name_server:
            roles.append("nameserver")
        if self.controller_port is not None:
            roles.append("controller")
        if self.broker:
            roles.append("replica" if self.broker.elected else "master" if self.broker.is_master else "slave")
        if self.proxy_ports is not None:
            roles.append("proxy")
        return tuple(roles)


@dataclass(frozen=True)
class BrokerGroup:
    broker_name: str
    master: BrokerNode
    slaves: tuple[BrokerNode, ...]

    @property
    def nodes(self) -> tuple[BrokerNode, ...]:
        return (self.master, *self.slaves)


@dataclass(frozen=True)
class ClusterPlan:
    mode: Mode
    cluster_name: str
    hosts: tuple[PlannedHost, ...]
    groups: tuple[BrokerGroup, ...]

    @property
    def name_server_hosts(self) -> tuple[PlannedHost, ...]:
        return tuple(h for h in self.hosts if h.name_server)

    @property
    def controller_hosts(self) -> tuple[PlannedHost, ...]:
        """Hosts running a controller (master-slave-auto), in the order of their Raft ids."""
        return tuple(h for h in self.hosts if h.controller_port is not None)

    @property
    def proxy_hosts(self) -> tuple[PlannedHost, ...]:
        """Hosts of their own running a proxy (rocketmq:proxy cluster)."""
        return tuple(h for h in self.hosts if h.proxy_ports is not None)

    @property
    def broker_nodes(self) -> tuple[BrokerNode, ...]:
        return tuple(n for g in self.groups for n in g.nodes)

    def host(self, key: str) -> PlannedHost:
        for planned in self.hosts:
            if planned.key == key:
                return planned
        raise KeyError(key)


def broker_role(mode: Mode, broker_id: int) -> str:
    if mode.elects_masters:
        return ELECTED_ROLE
    if broker_id > 0:
        return "SLAVE"
    return mode.master_role


def zone_slot(group_index: int, broker_id: int, zones: int) -> int:
    """Spread masters across zones and keep every slave out of its master's zone."""
    master_slot = group_index % zones
    if broker_id == 0 or zones == 1:
        return master_slot
    return (master_slot + 1 + (broker_id - 1) % (zones - 1)) % zones


def plan_cluster(cfg: ClusterConfig, zones: int = 2) -> ClusterPlan:
    if zones < 1:
        raise ValueError("zones must be at least 1")
    if cfg.target == "hosts":
        plan = _plan_existing_hosts(cfg)
    elif cfg.target == "local":
        plan = _plan_local_machines(cfg)
    else:
        plan = _plan_dedicated_hosts(cfg, zones)
    if cfg.mode.elects_masters and cfg.controllers == 0:
        return _with_controllers_in_name_servers(plan)
    return plan


def _with_controllers_in_name_servers(plan: ClusterPlan) -> ClusterPlan:
    """master-slave-auto: a controller in every name server (target local: at its own port)."""
    hosts = tuple(
        replace(
            h,
            controller_port=CONTROLLER_PORT
            if h.name_server_port == NAME_SERVER_PORT
            else h.name_server_port + LOCAL_CONTROLLER_PORT_OFFSET,
        )
        if h.name_server
        else h
        for h in plan.hosts
    )
    return replace(plan, hosts=hosts)


def _proxy_ports(cfg: ClusterConfig, mode: str) -> ProxyPorts | None:
    """The proxy's ports on hosts and aws (the same on every host) where `mode` runs it: `local` in
    each broker, `cluster` on hosts of its own."""
    if cfg.proxy is None or cfg.proxy.mode != mode:
        return None
    return ProxyPorts(grpc=cfg.proxy.grpc_port, remoting=cfg.proxy.remoting_port)


def _proxy_host(cfg: ClusterConfig, key: str, zone: int, *, name_server: bool = False) -> PlannedHost:
    proxy = _proxy_ports(cfg, "cluster")
    return PlannedHost(
        key=key, name_server=name_server, broker=None, zone_slot=zone, proxy_ports=proxy, metrics_port=cfg.metrics_port
    )


def _groups_from(nodes: list[BrokerNode]) -> tuple[BrokerGroup, ...]:
    groups: list[BrokerGroup] = []
    for name in sorted({n.broker_name for n in nodes}):
        members = sorted((n for n in nodes if n.broker_name == name), key=lambda n: n.broker_id)
        groups.append(BrokerGroup(broker_name=name, master=members[0], slaves=tuple(members[1:])))
    return tuple(groups)


def _plan_dedicated_hosts(cfg: ClusterConfig, zones: int) -> ClusterPlan:
    """target aws: one instance per name server and per broker."""
    hosts: list[PlannedHost] = [
        PlannedHost(key=f"ns-{i + 1}", name_server=True, broker=None, zone_slot=i % zones)
        for i in range(cfg.name_servers)
    ]
    nodes: list[BrokerNode] = []
    for g in range(cfg.broker_groups):
        name = broker_group_name(g)
        for broker_id in range(cfg.slaves_per_group + 1):
            key = f"{name}-{broker_id}"
            node = BrokerNode(
                name,
                broker_id,
                broker_role(cfg.mode, broker_id),
                key,
                metrics_port=cfg.metrics_port,
                proxy_ports=_proxy_ports(cfg, "local"),
            )
            nodes.append(node)
            hosts.append(PlannedHost(key=key, name_server=False, broker=node, zone_slot=zone_slot(g, broker_id, zones)))
    hosts += [
        PlannedHost(
            key=f"controller-{i + 1}",
            name_server=False,
            broker=None,
            zone_slot=i % zones,
            controller_port=CONTROLLER_PORT,
        )
        for i in range(cfg.controllers)
    ]
    if cfg.proxy is not None and cfg.proxy.mode == "cluster":
        hosts += [_proxy_host(cfg, f"proxy-{i + 1}", i % zones) for i in range(cfg.proxy.hosts)]
    return ClusterPlan(cfg.mode, cfg.cluster_name, tuple(hosts), _groups_from(nodes))


def _plan_existing_hosts(cfg: ClusterConfig) -> ClusterPlan:
    """target hosts: placement comes from the stack file, already checked by parse_config."""
    hosts: list[PlannedHost] = []
    nodes: list[BrokerNode] = []
    for spec in cfg.hosts:
        node = None
        if spec.broker is not None:
            node = BrokerNode(
                spec.broker.broker_name,
                spec.broker.broker_id,
                broker_role(cfg.mode, spec.broker.broker_id),
                spec.name,
                metrics_port=cfg.metrics_port,
                proxy_ports=_proxy_ports(cfg, "local"),
            )
            nodes.append(node)
        if spec.proxy:
            hosts.append(_proxy_host(cfg, spec.name, 0, name_server=spec.name_server))
            continue
        controller_port = CONTROLLER_PORT if spec.controller else None
        hosts.append(
            PlannedHost(
                key=spec.name, name_server=spec.name_server, broker=node, zone_slot=0, controller_port=controller_port
            )
        )
    return ClusterPlan(cfg.mode, cfg.cluster_name, tuple(hosts), _groups_from(nodes))


def _plan_local_machines(cfg: ClusterConfig) -> ClusterPlan:
    """target local: one machine per name server and per broker, as for aws, on this machine's
    loopback, each with its own ports (see LOCAL_*_PORT_BASE)."""
    dedicated = _plan_dedicated_hosts(cfg, zones=1)
    group_index = {group.broker_name: g for g, group in enumerate(dedicated.groups)}
    hosts: list[PlannedHost] = []
    nodes: list[BrokerNode] = []
    name_servers = proxies = controllers = 0
    for planned in dedicated.hosts:
        if planned.own_controller:
            k = controllers
            controllers += 1
            hosts.append(
                replace(
                    planned,
                    controller_port=LOCAL_CONTROLLER_PORT_BASE + 10 * k,
                    ssh_port=LOCAL_CONTROLLER_SSH_PORT_BASE + k,
                )
            )
            continue
        if planned.proxy_ports is not None:
            k = proxies
            proxies += 1
            base = LOCAL_PROXY_PORT_BASE + 10 * k
            hosts.append(
                replace(
                    planned,
                    proxy_ports=ProxyPorts(grpc=base + 1, remoting=base),
                    metrics_port=None if cfg.metrics_port is None else base + 2,
                    ssh_port=LOCAL_PROXY_SSH_PORT_BASE + k,
                )
            )
            continue
        if planned.broker is None:
            k = name_servers
            name_servers += 1
            hosts.append(
                replace(
                    planned,
                    name_server_port=LOCAL_NAME_SERVER_PORT_BASE + 10 * k,
                    ssh_port=LOCAL_NAME_SERVER_SSH_PORT_BASE + k,
                )
            )
            continue
        g, b = group_index[planned.broker.broker_name], planned.broker.broker_id
        listen_port = LOCAL_BROKER_PORT_BASE + 100 * g + 10 * b
        metrics_port = None if cfg.metrics_port is None else listen_port + LOCAL_METRICS_PORT_OFFSET
        proxy_ports = None
        if cfg.proxy is not None and cfg.proxy.mode == "local":
            proxy_ports = ProxyPorts(
                grpc=listen_port + LOCAL_PROXY_GRPC_PORT_OFFSET, remoting=listen_port + LOCAL_PROXY_REMOTING_PORT_OFFSET
            )
        broker = replace(planned.broker, listen_port=listen_port, metrics_port=metrics_port, proxy_ports=proxy_ports)
        nodes.append(broker)
        hosts.append(replace(planned, broker=broker, ssh_port=LOCAL_BROKER_SSH_PORT_BASE + 10 * g + b))
    return ClusterPlan(cfg.mode, cfg.cluster_name, tuple(hosts), _groups_from(nodes))


def endpoint(address: str, port: int) -> str:
    return f"{address}:{port}"


def namesrv_addr(endpoints: list[tuple[str, int]]) -> str:
    """The `-n` / namesrvAddr value: address:port of each name server, joined by ';'."""
    return ";".join(endpoint(address, port) for address, port in endpoints)
