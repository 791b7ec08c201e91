"""The typed cluster config that components/config.py builds from the stack config: what every
later stage (the plan, the components) reads. Plain frozen dataclasses, no parsing, no Pulumi."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from components.config_topics import ConsumerGroupSpec, TopicSpec

# Newest 5.x verified end to end in every mode. 5.5.0 is refused with slaves
# (see config.SLAVE_OFFSET_SYNC_BROKEN); 5.5.1 cannot be assembled from Maven Central.
DEFAULT_VERSION = "5.4.0"
DEFAULT_MIRROR = "https://archive.apache.org/dist"


class Mode(StrEnum):
    SINGLE_MASTER = "single-master"
    MULTI_MASTER = "multi-master"
    MASTER_SLAVE_ASYNC = "master-slave-async"
    MASTER_SLAVE_SYNC = "master-slave-sync"
    # RocketMQ 5's controller mode: controllers (in the name servers) elect each group's master.
    MASTER_SLAVE_AUTO = "master-slave-auto"

    @property
    def has_slaves(self) -> bool:
        return self in (Mode.MASTER_SLAVE_ASYNC, Mode.MASTER_SLAVE_SYNC, Mode.MASTER_SLAVE_AUTO)

    @property
    def elects_masters(self) -> bool:
        """Whether controllers, not the plan, decide which replica of a group is its master."""
        return self is Mode.MASTER_SLAVE_AUTO

    @property
    def master_role(self) -> str:
        return "SYNC_MASTER" if self is Mode.MASTER_SLAVE_SYNC else "ASYNC_MASTER"


@dataclass(frozen=True)
class ModeDefaults:
    broker_groups: int
    slaves_per_group: int
    name_servers: int


# RocketMQ clients' default pollNameServerInterval, in seconds.
DEFAULT_CLIENT_ROUTE_REFRESH_SECONDS = 30


@dataclass(frozen=True)
class HeapSettings:
    """JVM heap per role: None means sized from the host's memory at start."""

    name_server: str | None = None
    broker: str | None = None
    proxy: str | None = None  # proxies of their own (proxy: cluster)
    controller: str | None = None  # controllers of their own (master-slave-auto, rocketmq:controllers)


@dataclass(frozen=True)
class ProxySettings:
    """RocketMQ 5's gRPC proxy (rocketmq:proxy): `local` inside each broker's JVM, `cluster` on
    hosts of its own."""

    mode: str
    grpc_port: int  # what the 5.x SDKs connect to
    remoting_port: int  # the proxy's port for remoting (4.x-protocol) clients
    hosts: int = 0  # cluster on aws and local: how many proxy hosts (hosts: those with proxy: true)


@dataclass(frozen=True)
class BrokerPlacement:
    broker_name: str
    broker_id: int


@dataclass(frozen=True)
class HostSpec:
    """One existing machine (target: hosts)."""

    name: str
    address: str
    private_address: str
    user: str
    port: int
    name_server: bool
    broker: BrokerPlacement | None
    proxy: bool = False  # runs a proxy (rocketmq:proxy cluster)
    controller: bool = False  # runs a controller of its own (master-slave-auto)
    host_key: str | None = None  # "type base64": the SSH host key every connection pins


@dataclass(frozen=True)
class AwsSettings:
    os: str = "centos-stream-9"
    ami: str | None = None
    name_server_instance_type: str = "t3.medium"
    broker_instance_type: str = "m5.large"
    proxy_instance_type: str = "t3.medium"
    data_volume_size_gib: int = 100
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    vpc_cidr: str = "10.42.0.0/16"
    ssh_cidrs: tuple[str, ...] = ()
    client_cidrs: tuple[str, ...] = ()
    metrics_cidrs: tuple[str, ...] = ()
    public_ip: bool = True
    bastion_host: str | None = None
    bastion_user: str | None = None
    bastion_host_key: str | None = None  # "type base64": pinned on every connection through the bastion
    ssh_public_key: str = ""
    retain_store_on_destroy: bool = True
    ssh_user: str = "ec2-user"


@dataclass(frozen=True)
class HostFirewall:
    """target hosts: who the hosts' firewalls (firewalld or ufw, when active) let in, besides the
    cluster's own hosts (components/firewall_rules.py)."""

    client_cidrs: tuple[str, ...] = ()
    metrics_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseSettings:
    version: str = DEFAULT_VERSION
    mirror: str = DEFAULT_MIRROR
    sha512: str | None = None

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        major, minor, patch = (int(p) for p in self.version.split("."))
        return major, minor, patch

    @property
    def java_major(self) -> int:
        # RocketMQ before 4.9.3 only runs on JDK 8.
        return 8 if self.version_tuple < (4, 9, 3) else 17

    @property
    def zip_name(self) -> str:
        return f"rocketmq-all-{self.version}-bin-release.zip"

    @property
    def zip_url(self) -> str:
        return f"{self.mirror.rstrip('/')}/rocketmq/{self.version}/{self.zip_name}"


@dataclass(frozen=True)
class AclGrant:
    """One entry of a user's ACL (RocketMQ ACL 2.0): `resource` as RocketMQ writes it
    (`Topic:orders`, `Group:billing`, `Topic:audit-*` for a prefix, `Topic:*` for all)."""

    resource: str
    actions: tuple[str, ...]  # Pub, Sub
    decision: str  # Allow or Deny


@dataclass(frozen=True)
class AclUser:
    name: str
    password: str = field(repr=False)  # a secret: never in a repr, a message or a log
    admin: bool = False  # RocketMQ's Super user type: every action on every resource
    grants: tuple[AclGrant, ...] = ()


@dataclass(frozen=True)
class AclSettings:
    """rocketmq:acl true: brokers authenticate every request and authorize it against the users'
    grants. The admin user is the program's own (its mqadmin calls, and brokers talking to brokers).
    `enforced` False (acl: prepare): the users and grants are kept, but nothing is checked yet."""

    admin_user: str
    admin_password: str = field(repr=False)
    users: tuple[AclUser, ...] = ()
    enforced: bool = True
    # RocketMQ's ACL model: 2 (5.3.0 and later: users and grants in each broker's store, kept with
    # mqadmin) or 1 (4.9.x: one plain_acl.yml per broker host, which the brokers reload by themselves).
    model: int = 2

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.admin_password, *(user.password for user in self.users))


@dataclass(frozen=True)
class TlsSettings:
    """rocketmq:tls: RocketMQ's tls.server.mode on every JVM of the cluster. With permissive or
    enforcing, every host gets a certificate signed by the CA (the user's, or one the program makes
    for the stack), and the cluster's own clients (brokers, proxies, mqadmin, the health checks)
    speak TLS and verify the servers against the CA."""

    mode: str  # disabled, permissive or enforcing
    ca_certificate: str | None = None  # PEM: the user's CA; None: the program makes one
    ca_key: str | None = field(default=None, repr=False)  # a secret: never in a repr, a message or a log
    # target hosts: each host's own certificate and key (PEM) from the user, signed by ca_certificate;
    # empty: the program signs one for each host.
    host_certificates: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    @property
    def encrypts(self) -> bool:
        return self.mode != "disabled"


@dataclass(frozen=True)
class ClusterConfig:
    mode: Mode
    broker_groups: int
    slaves_per_group: int
    name_servers: int
    cluster_name: str
    flush_disk_type: str
    delete_when: str
    file_reserved_time: int
    broker_properties: Mapping[str, str]
    release: ReleaseSettings
    heap: HeapSettings
    store_path: str
    ready_timeout_seconds: int
    target: str
    # How long a broker group that leaves the cluster may take to drain; 0: leave without draining.
    drain_timeout_seconds: int = 600
    # How often the cluster's clients refresh topic routes (their pollNameServerInterval): rolling
    # changes and drains wait this long, plus a margin, for clients to move.
    client_route_refresh_seconds: int = DEFAULT_CLIENT_ROUTE_REFRESH_SECONDS
    hosts: tuple[HostSpec, ...] = ()
    host_firewall: HostFirewall | None = None  # target hosts
    aws: AwsSettings | None = None
    topics: tuple[TopicSpec, ...] = ()
    consumer_groups: tuple[ConsumerGroupSpec, ...] = ()
    prune_topics: bool = False
    # RocketMQ's Prometheus exporter on each broker (5.x): its port on hosts and aws; None when off.
    metrics_port: int | None = None
    proxy: ProxySettings | None = None  # None: rocketmq:proxy none
    # master-slave-auto: how many controllers run on hosts of their own; 0: one in each name server.
    controllers: int = 0
    acl: AclSettings | None = None  # None: rocketmq:acl false
    tls: TlsSettings | None = None  # None: rocketmq:tls unset, RocketMQ's launch as it was
