"""Stack config -> validated, typed ClusterConfig (components/config_model.py).

Pure: no Pulumi import. Every bad input raises one ConfigError that names the
stack config key and says what is allowed, before any resource exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components import config_checks as check
from components.config_checks import NAMESPACE, ConfigError
from components.config_model import (
    DEFAULT_CLIENT_ROUTE_REFRESH_SECONDS,
    DEFAULT_VERSION,
    BrokerPlacement,
    ClusterConfig,
    HeapSettings,
    Mode,
    ModeDefaults,
)

# Releases whose slaves fail every consumer-offset sync ("not support unquoted
# name" from fastjson2 2.0.59); reproduced here on 5.5.0, fixed by 5.5.1's fastjson2.
SLAVE_OFFSET_SYNC_BROKEN = frozenset({"5.5.0"})


MODE_DEFAULTS: dict[Mode, ModeDefaults] = {
    Mode.SINGLE_MASTER: ModeDefaults(broker_groups=1, slaves_per_group=0, name_servers=1),
    Mode.MULTI_MASTER: ModeDefaults(broker_groups=2, slaves_per_group=0, name_servers=3),
    Mode.MASTER_SLAVE_ASYNC: ModeDefaults(broker_groups=2, slaves_per_group=1, name_servers=3),
    Mode.MASTER_SLAVE_SYNC: ModeDefaults(broker_groups=2, slaves_per_group=1, name_servers=3),
    # Three controllers (one in each name server) keep electing when one of them is down.
    Mode.MASTER_SLAVE_AUTO: ModeDefaults(broker_groups=2, slaves_per_group=1, name_servers=3),
}

MAX_BROKER_GROUPS = 26  # broker-a .. broker-z
MAX_SLAVES_PER_GROUP = 8
MAX_NAME_SERVERS = 9
MIN_DRAIN_TIMEOUT_SECONDS = 60
MAX_CLIENT_ROUTE_REFRESH_SECONDS = 120

FLUSH_DISK_TYPES = ("ASYNC_FLUSH", "SYNC_FLUSH")
OPERATING_SYSTEMS = ("centos-stream-9", "rocky-9", "alma-9")
TARGETS = ("aws", "hosts", "local")
# target local: the program boots its own machines here, with this user (see localhosts/).
LOCAL_SSH_USER = "deploy"

# Every stack config key the program reads (namespace rocketmq); Pulumi.yaml declares each of them.
CONFIG_KEYS = frozenset(
    {
        "mode", "brokerGroups", "slavesPerGroup", "nameServers", "clusterName", "flushDiskType", "deleteWhen",
        "fileReservedTime", "brokerProperties", "version", "mirror", "sha512", "nameServerHeap", "brokerHeap", "proxyHeap",
        "controllerHeap", "controllers",
        "storePath", "readyTimeoutSeconds", "drainTimeoutSeconds", "clientRouteRefreshSeconds", "target", "sshPrivateKey", "sshUser", "hosts", "sshHostKeysFile",
        "metrics", "metricsPort", "proxy", "proxyGrpcPort", "proxyRemotingPort", "proxyHosts",
        # topics and consumer groups as code (components/config_topics.py)
        "topics", "consumerGroups", "pruneTopics",
        # target aws
        "os", "ami", "nameServerInstanceType", "brokerInstanceType", "dataVolumeSize", "vpcId", "subnetIds",
        "vpcCidr", "sshCidrs", "clientCidrs", "publicIp", "bastionHost", "bastionUser", "bastionHostKey", "sshPublicKey",
        "retainStoreOnDestroy", "metricsCidrs", "proxyInstanceType",
        # authentication and authorization (components/config_acl.py)
        "acl", "aclAdminUser", "aclAdminPassword", "aclUsers",
        # TLS (components/config_tls.py)
        "tls", "tlsCaCertificate", "tlsCaKey", "tlsCertificates",
    }
)  # fmt: skip

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_ABS_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SSH_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [A-Za-z0-9_.@+-]*)?$"
)


# ---------------------------------------------------------------- parsing


def _count(r: _Reader, key: str, mode_default: int, minimum: int, maximum: int) -> int:
    """A count that follows the mode unless set; `auto` is what Pulumi.yaml declares as its default."""
    raw = r.get(key, "auto")
    if raw == "auto":
        return mode_default
    try:
        return check.integer(key, raw, minimum, maximum)
    except ConfigError:
        raise ConfigError(
            key, f"must be auto (the mode's default) or a whole number from {minimum} to {maximum}, got {raw!r}"
        ) from None


class _Reader:
    """Raw values by key, without the namespace; empty strings count as unset."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = {k.split(":", 1)[1] if k.startswith(f"{NAMESPACE}:") else k: v for k, v in raw.items()}

    def get(self, key: str, default: Any = None) -> Any:
        assert key in CONFIG_KEYS, f"{key} is missing from CONFIG_KEYS"
        value = self._raw.get(key)
        return default if value is None or value == "" else value

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def unknown_keys(self) -> list[str]:
        return sorted(k for k in self._raw if k not in CONFIG_KEYS and ":" not in k)


def parse_config(raw: Mapping[str, Any], secret_keys: frozenset[str] | None = None) -> ClusterConfig:
    """Validate raw stack config (keys with or without the `rocketmq:` prefix).

    `secret_keys` are the keys Pulumi holds encrypted; when given, the private key must be one."""
    r = _Reader(raw)
    unknown = r.unknown_keys()
    if unknown:
        raise ConfigError(
            unknown[0],
            f"is not a setting of this program ({len(unknown)} unknown: {', '.join(unknown)}); "
            "the settings are listed in README.md and Pulumi.yaml",
        )

    mode = Mode(check.choice("mode", r.get("mode", Mode.SINGLE_MASTER.value), tuple(m.value for m in Mode)))
    defaults = MODE_DEFAULTS[mode]
    broker_groups = _count(r, "brokerGroups", defaults.broker_groups, 1, MAX_BROKER_GROUPS)
    slaves = _count(r, "slavesPerGroup", defaults.slaves_per_group, 0, MAX_SLAVES_PER_GROUP)
    name_servers = _count(r, "nameServers", defaults.name_servers, 1, MAX_NAME_SERVERS)

    if mode is Mode.SINGLE_MASTER and broker_groups != 1:
        raise ConfigError(
            "brokerGroups", f"must be 1 in single-master mode (use multi-master for more); got {broker_groups}"
        )
    if mode.has_slaves and slaves < 1:
        raise ConfigError("slavesPerGroup", f"must be at least 1 in {mode.value} mode; got {slaves}")
    if not mode.has_slaves and slaves != 0:
        raise ConfigError(
            "slavesPerGroup",
            f"must be 0 in {mode.value} mode (use master-slave-async, master-slave-sync or master-slave-auto "
            f"for slaves); got {slaves}",
        )
    cluster_name = check.pattern(
        "clusterName", r.get("clusterName", "DefaultCluster"), _NAME, "1-63 letters, digits, _ or -"
    )
    flush = check.choice("flushDiskType", r.get("flushDiskType", "ASYNC_FLUSH"), FLUSH_DISK_TYPES)
    from components.config_broker import parse_broker_properties, parse_delete_when, parse_release

    delete_when = parse_delete_when(r.get("deleteWhen", "04"))
    reserved = check.integer("fileReservedTime", r.get("fileReservedTime", 48), 1, 24 * 365)
    properties = parse_broker_properties(r.get("brokerProperties", {}))

    release = parse_release(r)
    if mode.has_slaves and release.version in SLAVE_OFFSET_SYNC_BROKEN:
        raise ConfigError(
            "version",
            f"{release.version} cannot be used in {mode.value} mode: its slaves never copy consumer offsets "
            "from their master (apache/rocketmq#10284), so after a failover consumers re-read or skip messages; "
            f"use {DEFAULT_VERSION} (the default), or 5.5.1 or later",
        )
    from components.config_rocketmq5 import parse_metrics, parse_proxy

    if mode.elects_masters and release.version_tuple < (5, 0, 0):
        raise ConfigError(
            "version",
            f"{release.version} cannot run {mode.value} mode: controllers that elect masters came with "
            f"RocketMQ 5; use a 5.x version such as {DEFAULT_VERSION} (the default), or master-slave-async",
        )
    metrics_port = parse_metrics(r, release)
    heap = HeapSettings(
        name_server=check.heap("nameServerHeap", r.get("nameServerHeap")),
        broker=check.heap("brokerHeap", r.get("brokerHeap")),
        proxy=check.heap("proxyHeap", r.get("proxyHeap")),
        controller=check.heap("controllerHeap", r.get("controllerHeap")),
    )
    store_path = check.pattern(
        "storePath", r.get("storePath", "/data/rocketmq/store"), _ABS_PATH, "an absolute path of plain characters"
    )
    if store_path.rstrip("/") in ("", "/usr", "/etc", "/opt/rocketmq", "/var", "/home", "/root", "/boot"):
        raise ConfigError("storePath", f"must be a dedicated directory, not {store_path!r}")
    ready_timeout = check.integer("readyTimeoutSeconds", r.get("readyTimeoutSeconds", 300), 30, 3600)
    route_refresh = check.integer(
        "clientRouteRefreshSeconds",
        r.get("clientRouteRefreshSeconds", DEFAULT_CLIENT_ROUTE_REFRESH_SECONDS),
        1,
        MAX_CLIENT_ROUTE_REFRESH_SECONDS,
    )
    drain_timeout = check.integer("drainTimeoutSeconds", r.get("drainTimeoutSeconds", 600), 0, 86400)
    shortest_drain = max(MIN_DRAIN_TIMEOUT_SECONDS, 2 * route_refresh)
    if 0 < drain_timeout < shortest_drain:
        raise ConfigError(
            "drainTimeoutSeconds",
            f"must be 0 (no draining) or at least {shortest_drain}: producers learn that a group takes no "
            f"more writes only when they refresh routes, every {route_refresh} s; got {drain_timeout}",
        )

    from components.config_targets import parse_target  # it builds on this module's helpers

    target, hosts, aws, host_firewall = parse_target(
        r, secret_keys, mode=mode, groups=broker_groups, slaves=slaves, name_servers=name_servers
    )
    proxy = parse_proxy(r, release, metrics_port, mode=mode, brokers=broker_groups * (slaves + 1), hosts=hosts)
    from components.config_controllers import parse_controllers

    controllers = parse_controllers(r, mode=mode, target=target, hosts=hosts, name_servers=name_servers)
    if aws is not None and not (store_path + "/").startswith("/data/rocketmq/"):
        raise ConfigError(
            "storePath",
            f"must lie under /data/rocketmq/ for target aws, where the store's own volume is mounted; got {store_path!r}",
        )

    from components.config_topics import parse_topic_catalog  # it builds on this module's helpers

    catalog = parse_topic_catalog(
        r.get("topics"),
        r.get("consumerGroups"),
        r.get("pruneTopics"),
        release=release,
        broker_groups=broker_groups,
        cluster_name=cluster_name,
    )
    from components.config_acl import parse_acl

    acl = parse_acl(r, secret_keys, release, target)
    from components.config_tls import parse_tls

    tls = parse_tls(r, secret_keys, hosts)
    return ClusterConfig(
        mode=mode,
        broker_groups=broker_groups,
        slaves_per_group=slaves,
        name_servers=name_servers,
        cluster_name=cluster_name,
        flush_disk_type=flush,
        delete_when=delete_when,
        file_reserved_time=reserved,
        broker_properties=properties,
        release=release,
        heap=heap,
        store_path=store_path.rstrip("/"),
        ready_timeout_seconds=ready_timeout,
        drain_timeout_seconds=drain_timeout,
        client_route_refresh_seconds=route_refresh,
        target=target,
        hosts=hosts,
        host_firewall=host_firewall,
        aws=aws,
        topics=catalog.topics,
        consumer_groups=catalog.consumer_groups,
        prune_topics=catalog.prune,
        metrics_port=metrics_port,
        proxy=proxy,
        controllers=controllers,
        acl=acl,
        tls=tls,
    )


def expected_brokers(broker_groups: int, slaves: int) -> list[BrokerPlacement]:
    return [
        BrokerPlacement(broker_name=broker_group_name(g), broker_id=i)
        for g in range(broker_groups)
        for i in range(slaves + 1)
    ]


def broker_group_name(index: int) -> str:
    return f"broker-{chr(ord('a') + index)}"
