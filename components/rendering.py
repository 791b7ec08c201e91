"""Render the files and scripts that go onto hosts, from templates/ (pure, no Pulumi)."""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from components.acl_settings import (
    ACL1_CHATTY_LOGGER,
    BROKER_AUTH_CONF,
    MQADMIN_HOME,
    PLAIN_ACL_FILE,
    PROXY_AUTH_CONF,
    TOOLS_YML,
    broker_auth_properties,
    proxy_auth_settings,
)
from components.config_model import ClusterConfig, ReleaseSettings, TlsSettings
from components.tls_settings import (
    CLUSTER_INFO_CA_VARIABLE,
    client_jvm_options,
    cluster_info_ca,
    proxy_tls_settings,
    server_jvm_options,
)
from components.topology import BrokerNode, ProxyPorts

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
ROCKETMQ_HOME = "/opt/rocketmq/current"
# 4.9.x reads its users file from ROCKETMQ_HOME + this property (normalized), or else from the
# release's own conf/plain_acl.yml, which ships a sample admin (rocketmq2/12345678) never to load.
PLAIN_ACL_FILE_OPTION = f"-Drocketmq.acl.plain.file={posixpath.relpath(PLAIN_ACL_FILE, ROCKETMQ_HOME)}"
SERVICE_USER_HOME = "/var/lib/rocketmq"
DATA_MOUNT = "/data/rocketmq"
HEREDOC = "ROCKETMQ_PULUMI_FILE_EOF"
STOP_TIMEOUT_SECONDS = 120
# HEAP=auto bounds in MiB: name server 1/8 of memory, broker and proxy 1/4.
# A controller of its own (master-slave-auto): as a name server, 1/8.
AUTO_HEAP_MIN_MB = {"namesrv": 128, "broker": 256, "proxy": 256, "controller": 128}
AUTO_HEAP_MAX_MB = {"namesrv": 4096, "broker": 8192, "proxy": 4096, "controller": 4096}

UNITS = {
    "namesrv": "rocketmq-namesrv.service",
    "broker": "rocketmq-broker.service",
    "proxy": "rocketmq-proxy.service",
    "controller": "rocketmq-controller.service",
}
DESCRIPTIONS = {
    "namesrv": "RocketMQ name server",
    "broker": "RocketMQ broker",
    "proxy": "RocketMQ proxy",
    "controller": "RocketMQ controller",
}
# RocketMQ logs to ~/logs/rocketmqlogs of the service user; the first file is the role's main log.
LOG_DIR = f"{SERVICE_USER_HOME}/logs/rocketmqlogs"
LOG_FILES = {
    "namesrv": ("namesrv.log",),
    "broker": ("broker.log", "store.log"),
    "proxy": ("proxy.log",),
    "controller": ("controller_default.log", "dledger.log"),
}
MQADMIN = "/usr/local/libexec/rocketmq/mqadmin"
# The brokers the name servers know, without a JVM (templates/cluster-info.py.j2): health checks poll it.
CLUSTER_INFO = "/usr/local/libexec/rocketmq/cluster-info"
# The cluster's own mqadmin work on the admin host (topics, groups, drains) takes turns on this lock:
# each mqadmin is a JVM.
ADMIN_LOCK = "/run/rocketmq-catalog.lock"
# Clients refresh topic routes every `clientRouteRefreshSeconds`: a draining group may still get
# sends that long, and a restarted master gets none before it. Waits add this margin to it.
ROUTE_REFRESH_MARGIN_SECONDS = 10
BROKER_CONF = "/etc/rocketmq/broker.conf"
PROXY_CONF = "/etc/rocketmq/proxy.json"
# broker.conf properties that a running broker reads again at each use (RocketMQ's clean-up service
# reads the first three, the pull and send paths the others): the configure step applies a change
# of only these with `mqadmin updateBrokerConfig` instead of a restart.
RUNTIME_BROKER_PROPERTIES = (
    "fileReservedTime",
    "deleteWhen",
    "diskMaxUsedSpaceRatio",
    "slaveReadEnable",
    "brokerPermission",
)
# A restarted slave counts as caught up when its commit log is at most this far behind its master's.
SLAVE_CATCH_UP_BYTES = 1024 * 1024
# mqadmin's JVM: Apache's tools.sh would start it with a 1 GiB heap. It lives for a second or two,
# so the quick JIT alone and the single-threaded collector: half the CPU seconds per call (on a
# 5.4.0 test host, 2.9 -> 1.5), which rollouts spend on hosts whose brokers are starting.
TOOLS_JVM_OPTIONS = "-Xms64m -Xmx128m -Xmn32m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# 4.9.x launchers pass no JDK 9+ module flags: on JDK 17 the broker's shutdown hook then fails to
# unmap the store (InaccessibleObjectException), and the next start refuses the dirty store.
JDK_MODULE_OPTIONS_4X = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
)

# Runs the script given on stdin as root, through sudo when the SSH user is not root.
RUN_STDIN_AS_ROOT = 'if [ "$(id -u)" -eq 0 ]; then exec /bin/bash -s; else exec sudo -n /bin/bash -s; fi'
# A Command's delete: the same script, with the argument `delete`.
DELETE_FROM_STDIN = 'if [ "$(id -u)" -eq 0 ]; then exec /bin/bash -s delete; else exec sudo -n /bin/bash -s delete; fi'

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    # bash's ${#array[@]} would open a Jinja comment.
    comment_start_string="<#--",
    comment_end_string="--#>",
)
_env.filters["q"] = lambda value: shlex.quote(str(value))


def restart_pending(role: str) -> str:
    """The mark that a running service runs older files than it has: its rolling restart step
    restarts it and removes the mark (templates/_service_vars.sh.j2)."""
    return f"{SERVICE_USER_HOME}/restart-pending-{role}"


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


@dataclass(frozen=True)
class HostFile:
    path: str
    mode: str
    content: str


def render_cluster_info() -> str:
    """templates/cluster-info.py.j2, the health checks' probe (every host gets it at prepare)."""
    return render("cluster-info.py.j2", ca_variable=CLUSTER_INFO_CA_VARIABLE)


def render_prepare_script(
    host_label: str,
    release: ReleaseSettings,
    store_path: str,
    data_volume_id: str | None,
    *,
    authorized_key: tuple[str, str] | None = None,
) -> str:
    """`authorized_key` is (SSH user, OpenSSH public key line) to authorize on the host."""
    cluster_info = render_cluster_info()
    if HEREDOC in cluster_info:
        raise ValueError(f"cluster-info contains the heredoc marker {HEREDOC}")
    return render(
        "prepare-host.sh.j2",
        host_label=host_label,
        cluster_info_path=CLUSTER_INFO,
        cluster_info=cluster_info,
        heredoc=HEREDOC,
        java_major=release.java_major,
        store_path=store_path,
        data_volume_id=data_volume_id,
        data_mount=DATA_MOUNT,
        ssh_user=authorized_key[0] if authorized_key else "",
        ssh_public_key=authorized_key[1] if authorized_key else "",
    )


def jdk_module_options(release: ReleaseSettings) -> str:
    """JVM flags the release's own launchers lack on the JDK the program installs for it."""
    needs_flags = release.version_tuple < (5, 0, 0) and release.java_major >= 9
    return " ".join(JDK_MODULE_OPTIONS_4X) if needs_flags else ""


def render_mqadmin(release: ReleaseSettings, tls: TlsSettings | None = None) -> str:
    options = [TOOLS_JVM_OPTIONS, jdk_module_options(release), client_jvm_options(tls) if tls else ""]
    if release.version_tuple >= (5, 0, 0):  # as Apache's 5.x mqadmin does
        options.append(f"-Drmq.logback.configurationFile={ROCKETMQ_HOME}/conf/rmq.tools.logback.xml")
    return render(
        "mqadmin.sh.j2",
        rocketmq_home=ROCKETMQ_HOME,
        tools_jvm_options=" ".join(o for o in options if o),
        mqadmin_home=MQADMIN_HOME,
        tools_yml=TOOLS_YML,
    )


def render_install_script(
    host_label: str, release: ReleaseSettings, *, plain_acl: bool = False, tls: TlsSettings | None = None
) -> str:
    """`plain_acl`: rocketmq:acl on 4.9.x, whose brokers would log the users' secret keys; `tls`:
    mqadmin speaks TLS (rocketmq:tls permissive or enforcing)."""
    mqadmin = render_mqadmin(release, tls)
    if HEREDOC in mqadmin:
        raise ValueError("the mqadmin wrapper would end its here-document early")
    return render(
        "install-release.sh.j2",
        host_label=host_label,
        version=release.version,
        zip_url=release.zip_url,
        sha512=release.sha512 or "",
        mqadmin=mqadmin,
        heredoc=HEREDOC,
        quiet_logger=ACL1_CHATTY_LOGGER if plain_acl else "",
    )


def render_broker_conf(
    cfg: ClusterConfig, node: BrokerNode, address: str, namesrv_addr: str, controller_addr: str = ""
) -> str:
    """`controller_addr`: the controllers' address:port list (master-slave-auto)."""
    if node.elected and not controller_addr:
        raise ValueError(f"broker {node.label} is elected by controllers, but none was given")
    return render(
        "broker.conf.j2",
        controller_addr=controller_addr,
        cluster_name=cfg.cluster_name,
        mode=cfg.mode.value,
        node=node,
        flush_disk_type=cfg.flush_disk_type,
        delete_when=cfg.delete_when,
        file_reserved_time=cfg.file_reserved_time,
        namesrv_addr=namesrv_addr,
        address=address,
        listen_port=node.listen_port,
        store_path=cfg.store_path,
        properties=cfg.broker_properties,
        auth_properties=broker_auth_properties(cfg.acl) if cfg.acl is not None else {},
        serve_reads_from_slaves=cfg.mode.has_slaves and "slaveReadEnable" not in cfg.broker_properties,
    )


def render_proxy_conf(cfg: ClusterConfig, ports: ProxyPorts, *, metrics: bool, exporter_port: int | None = None) -> str:
    """rmq-proxy.json. With `metrics`, a proxy inside a broker (rocketmq:proxy local) adds its series
    to the broker's exporter (RocketMQ gives it none of its own); a proxy of its own (cluster)
    serves them on `exporter_port`."""
    exporter = ""
    if metrics:
        # Before 5.5.0 ProxyConfig also has setMetricsExporterType(int), which fastjson2 picks for
        # this key and which refuses "PROM"; 5.5.0 has only the String setter. PROM's number is 2.
        exporter = "2" if cfg.release.version_tuple < (5, 5, 0) else '"PROM"'
    settings = {**(proxy_auth_settings(cfg.acl.enforced) if cfg.acl else {}), **proxy_tls_settings(cfg.tls)}
    return render(
        "proxy.json.j2",
        cluster_name=cfg.cluster_name,
        auth_settings={key: json.dumps(v) for key, v in settings.items()},
        ports=ports,
        metrics_exporter_type=exporter,
        exporter_port=exporter_port if metrics else None,
    )


def render_unit(role: str, store_path: str, *, keeps_state: bool = False, acl: bool = False) -> str:
    """`keeps_state`: a name server whose controller keeps its log under `store_path`; `acl`: a
    broker or proxy gets a private runtime directory, where its start merges in its credentials."""
    description = f"Apache {DESCRIPTIONS[role]}"
    return render(
        "rocketmq.service.j2",
        role=role,
        needs_store=role in ("broker", "controller") or keeps_state,
        description=description,
        rocketmq_home=ROCKETMQ_HOME,
        stop_timeout_seconds=STOP_TIMEOUT_SECONDS,
        store_path=store_path,
        private_runtime_dir=acl and role in ("broker", "proxy"),
    )


def render_start_script(
    release: ReleaseSettings, *, acl: bool = False, plain_acl: bool = False, tls: TlsSettings | None = None
) -> str:
    """`acl`: a broker's (and a proxy's) start merges its credentials file into the config it reads
    (ACL 2.0); `plain_acl`: a broker reads the program's plain_acl.yml (ACL 1.0, 4.9.x); `tls`: every
    JVM starts in that TLS mode (None: as RocketMQ starts by default, and the script as it was)."""
    return render(
        "rocketmq-start.sh.j2",
        rocketmq_home=ROCKETMQ_HOME,
        tls_options=server_jvm_options(tls) if tls is not None else "",
        plain_acl_option=PLAIN_ACL_FILE_OPTION if plain_acl else "",
        broker_auth_conf=BROKER_AUTH_CONF if acl else "",
        proxy_auth_conf=PROXY_AUTH_CONF if acl else "",
        # Without acl the lines stay as they were, so clusters without it do not restart for this.
        broker_conf='"$conf"' if acl else BROKER_CONF,
        proxy_conf='"$proxy_conf"' if acl else '"$PROXY_CONFIG"',
        own_proxy_conf='"$proxy_conf"' if acl else PROXY_CONF,
        jdk_module_options=jdk_module_options(release),
        auto_min_mb=AUTO_HEAP_MIN_MB,
        auto_max_mb=AUTO_HEAP_MAX_MB,
    )


def _common_files(
    role: str, cfg: ClusterConfig, env_content: str, *, keeps_state: bool = False, trusted_ca: str = ""
) -> list[HostFile]:
    """The start script, unit and environment of a service. ``trusted_ca``: the fingerprint of the
    CA its own TLS connections trust (brokers, proxies and controllers connect to others: a
    controller tells brokers their new roles. Name servers only serve, reload a new certificate by
    themselves, and stay up so that the brokers not yet restarted keep their connections to them)."""
    acl = cfg.acl is not None and cfg.acl.model == 2
    plain_acl = cfg.acl is not None and cfg.acl.model == 1
    if trusted_ca:
        # RocketMQ reads the CA its clients trust once, at start: a new CA changes this file, so
        # the service restarts, one at a time with the others.
        env_content = (
            env_content.rstrip("\n")
            + f"\n# rocketmq:tls: the CA this service trusts since it started\nTLS_CA_SHA256={trusted_ca}\n"
        )
    return [
        HostFile(
            "/usr/local/libexec/rocketmq/start",
            "0755",
            render_start_script(cfg.release, acl=acl, plain_acl=plain_acl, tls=cfg.tls),
        ),
        HostFile(
            f"/etc/systemd/system/{UNITS[role]}",
            "0644",
            render_unit(role, cfg.store_path, keeps_state=keeps_state, acl=acl),
        ),
        HostFile(f"/etc/rocketmq/{role}.env", "0644", env_content),
    ]


def _service_context(role: str, cfg: ClusterConfig, host_label: str, address: str, **extra: Any) -> dict[str, Any]:
    """What the configure and rolling-restart scripts of one service share (the health checks'
    probe follows the cluster's rocketmq:tls)."""
    description = f"the {DESCRIPTIONS[role]}"
    if "node" in extra:
        description = f"RocketMQ broker {extra['node'].label}"
    return {
        "role": role,
        "description": description,
        "host_label": host_label,
        "unit": UNITS[role],
        "restart_pending": restart_pending(role),
        "address": address,
        "ready_timeout_seconds": cfg.ready_timeout_seconds,
        "rocketmq_home": ROCKETMQ_HOME,
        "log_dir": LOG_DIR,
        "log_files": LOG_FILES[role],
        "mqadmin": MQADMIN,
        "cluster_info": CLUSTER_INFO,
        "cluster_info_ca_variable": CLUSTER_INFO_CA_VARIABLE,
        "cluster_info_ca": cluster_info_ca(cfg.tls),
        **extra,
    }


def _service_script(
    role: str, cfg: ClusterConfig, host_label: str, address: str, files: list[HostFile], **extra: Any
) -> str:
    for file in files:
        if HEREDOC in file.content:
            raise ValueError(f"{file.path} would end its here-document early")
    return render(
        "service.sh.j2",
        runtime_properties=RUNTIME_BROKER_PROPERTIES,
        files=[HostFile(f.path, f.mode, f.content if f.content.endswith("\n") else f.content + "\n") for f in files],
        heredoc=HEREDOC,
        **_service_context(role, cfg, host_label, address, **extra),
    )


def render_broker_script(
    cfg: ClusterConfig,
    node: BrokerNode,
    host_label: str,
    address: str,
    namesrv_addr: str,
    *,
    controller_addr: str = "",
    trusted_ca: str = "",
) -> str:
    env = render(
        "broker.env.j2",
        node=node,
        version=cfg.release.version,
        heap=cfg.heap.broker or "auto",
        namesrv_addr=namesrv_addr,
        proxy_config=PROXY_CONF,
    )
    files = [
        *_common_files("broker", cfg, env, trusted_ca=trusted_ca),
        HostFile(BROKER_CONF, "0644", render_broker_conf(cfg, node, address, namesrv_addr, controller_addr)),
    ]
    if node.proxy_ports is not None:
        files.append(
            HostFile(
                PROXY_CONF, "0644", render_proxy_conf(cfg, node.proxy_ports, metrics=node.metrics_port is not None)
            )
        )
    return _service_script(
        "broker",
        cfg,
        host_label,
        address,
        files,
        node=node,
        node_cluster=cfg.cluster_name,
        namesrv_addr=namesrv_addr,
        runtime_conf=BROKER_CONF,
    )


def route_refresh_wait(cfg: ClusterConfig) -> int:
    """Seconds to wait for every client to have refreshed its topic routes once."""
    return cfg.client_route_refresh_seconds + ROUTE_REFRESH_MARGIN_SECONDS


def render_broker_rollout(
    cfg: ClusterConfig,
    node: BrokerNode,
    host_label: str,
    address: str,
    namesrv_addr: str,
    *,
    master_endpoint: str | None,
    controller_addr: str = "",
) -> str:
    """A broker's rolling-restart step; a slave also waits to catch up with `master_endpoint`.
    In master-slave-auto (`controller_addr` given) the step finds the group's master when it runs,
    and a master first hands its role to another replica."""
    context = _service_context(
        "broker",
        cfg,
        host_label,
        address,
        node=node,
        node_cluster=cfg.cluster_name,
        namesrv_addr=namesrv_addr,
        controller_addr=controller_addr,
    )
    # With other groups to restart after it, a master waits until clients route to it again (in
    # master-slave-auto any replica may be the master when the step runs).
    settle = route_refresh_wait(cfg) if (node.is_master or node.elected) and cfg.broker_groups > 1 else 0
    return render(
        "rollout.sh.j2",
        master_endpoint=master_endpoint or "",
        catch_up_bytes=SLAVE_CATCH_UP_BYTES,
        settle_seconds=settle,
        **context,
    )


def render_stop_command(role: str) -> str:
    return render("stop-service.sh.j2", unit=UNITS[role])


def render_drain_script(
    cfg: ClusterConfig,
    *,
    host_label: str,
    namesrv_addr: str,
    broker_names: Sequence[str],
) -> str:
    """Drains the broker groups registered in the cluster but not in `broker_names` (see
    templates/drain-groups.sh.j2)."""
    return render(
        "drain-groups.sh.j2",
        host_label=host_label,
        namesrv_addr=namesrv_addr,
        cluster_name=cfg.cluster_name,
        broker_names=broker_names,
        drain_timeout_seconds=cfg.drain_timeout_seconds,
        route_refresh_seconds=route_refresh_wait(cfg),
        mqadmin=MQADMIN,
        lock_path=ADMIN_LOCK,
    )
