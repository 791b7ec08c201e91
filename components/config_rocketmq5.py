"""Stack config of what RocketMQ 5 adds to a broker: the Prometheus exporter (`metrics`,
`metricsPort`) and the gRPC proxy its client SDKs need (`proxy`, `proxyGrpcPort`,
`proxyRemotingPort`).

Part of the config parser (components/config.py), which calls these; it builds on
components/config_checks.py.
"""

from __future__ import annotations

from components import config_checks as check
from components.config import _Reader
from components.config_checks import ConfigError
from components.config_model import HostSpec, Mode, ProxySettings, ReleaseSettings

DEFAULT_METRICS_PORT = 5557  # RocketMQ's own default for metricsPromExporterPort
# RocketMQ's own defaults for the proxy's grpcServerPort and remotingListenPort.
DEFAULT_PROXY_GRPC_PORT = 8081
DEFAULT_PROXY_REMOTING_PORT = 8080
PROXY_MODES = ("none", "local", "cluster")
DEFAULT_PROXY_HOSTS = 2  # proxy: cluster on aws and local; two ride out the loss of one
MAX_PROXY_HOSTS = 9


def _extra_port(r: _Reader, key: str, default: int, taken: dict[int, str], *, on_local: str) -> int:
    """A port the program opens besides RocketMQ's own: clear of those, SSH and the ones in `taken`;
    on target local it is `on_local` instead, which only the default may stand for."""
    from components.topology import ALL_ROCKETMQ_PORTS, CONTROLLER_PORT, SSH_PORT

    port = check.integer(key, r.get(key, default), 1024, 65535)
    reserved = {*ALL_ROCKETMQ_PORTS, CONTROLLER_PORT, SSH_PORT}
    if port in reserved:
        raise ConfigError(
            key,
            f"must differ from the ports RocketMQ and SSH use ({', '.join(map(str, sorted(reserved)))}); got {port}",
        )
    if port in taken:
        raise ConfigError(key, f"must differ from {taken[port]} ({port})")
    if r.get("target", "aws") == "local" and port != default:
        raise ConfigError(key, f"is not used for target local: there each broker uses its {on_local}")
    return port


def parse_metrics(r: _Reader, release: ReleaseSettings) -> int | None:
    """The brokers' Prometheus exporter port (`metricsPort`), or None without `metrics: true`."""
    enabled = check.boolean("metrics", r.get("metrics", False))
    port = _extra_port(r, "metricsPort", DEFAULT_METRICS_PORT, {}, on_local="listenPort + 5")
    if not enabled:
        if check.string_list("metricsCidrs", r.get("metricsCidrs", []), check.cidr):
            raise ConfigError(
                "metricsCidrs", "opens the brokers' metrics port, which is served only with metrics: true"
            )
        return None
    if release.version_tuple < (5, 0, 0):
        raise ConfigError(
            "metrics",
            f"true needs RocketMQ 5.x: {release.version} has no built-in Prometheus exporter; "
            "set metrics: false or a 5.x version",
        )
    return port


def parse_proxy(
    r: _Reader,
    release: ReleaseSettings,
    metrics_port: int | None,
    *,
    mode: Mode,
    brokers: int,
    hosts: tuple[HostSpec, ...],
) -> ProxySettings | None:
    """The proxy's settings, or None for `proxy: none`.

    `auto` (the default): `local` for 5.x, whose SDKs reach a cluster only through a proxy; `none`
    for 4.9.x, which has no proxy, and for target local (see below). In master-slave-auto, where
    a local proxy would follow its broker's changing role, `cluster` instead (on hosts: when some
    host has `proxy: true`, else `none`)."""
    is_5x = release.version_tuple >= (5, 0, 0)
    target = r.get("target", "aws")
    default = "local" if is_5x and target != "local" else "none"
    if mode.elects_masters:
        default = "cluster" if target != "hosts" or any(spec.proxy for spec in hosts) else "none"
    chosen = check.choice("proxy", r.get("proxy", "auto"), ("auto", *PROXY_MODES))
    chosen = default if chosen == "auto" else chosen
    if chosen == "local" and mode.elects_masters:
        raise ConfigError(
            "proxy",
            f"local cannot serve {mode.value} mode: a local proxy serves only its own broker, and the "
            "controllers move the master role between brokers; set proxy: cluster (proxies of their own) or none",
        )
    return _proxy_settings(r, release, metrics_port, chosen, target=target, brokers=brokers, hosts=hosts)


def _proxy_settings(
    r: _Reader,
    release: ReleaseSettings,
    metrics_port: int | None,
    mode: str,
    *,
    target: str,
    brokers: int,
    hosts: tuple[HostSpec, ...],
) -> ProxySettings | None:
    is_5x = release.version_tuple >= (5, 0, 0)
    taken = {} if metrics_port is None else {metrics_port: "metricsPort"}
    grpc_port = _extra_port(r, "proxyGrpcPort", DEFAULT_PROXY_GRPC_PORT, taken, on_local="listenPort + 6")
    remoting_port = _extra_port(
        r,
        "proxyRemotingPort",
        DEFAULT_PROXY_REMOTING_PORT,
        {**taken, grpc_port: "proxyGrpcPort"},
        on_local="listenPort + 7",
    )
    proxy_hosts = _proxy_hosts(r, mode, target, hosts)
    if mode == "none":
        return None
    if not is_5x:
        raise ConfigError(
            "proxy", f"{mode} needs RocketMQ 5.x: {release.version} has no proxy; set proxy: none or a 5.x version"
        )
    # A local proxy tells clients every broker's address with its own gRPC port; on one shared
    # loopback the brokers' proxies need ports of their own, so routes to the others would be wrong.
    if mode == "local" and target == "local" and brokers > 1:
        raise ConfigError(
            "proxy",
            f"local works on target local only with a single broker (this cluster has {brokers}): every local "
            "machine shares 127.0.0.1, and a local proxy routes clients to each broker's address at its own port; "
            "set proxy: cluster (proxy machines of their own) or none",
        )
    return ProxySettings(mode=mode, grpc_port=grpc_port, remoting_port=remoting_port, hosts=proxy_hosts)


def _proxy_hosts(r: _Reader, mode: str, target: str, hosts: tuple[HostSpec, ...]) -> int:
    """How many proxy hosts `proxy: cluster` gets: `proxyHosts` on aws and local, the hosts with
    `proxy: true` on hosts; 0 in the other modes, which refuse both."""
    raw = r.get("proxyHosts", "auto")
    placed = [i for i, spec in enumerate(hosts) if spec.proxy]
    if mode != "cluster":
        if r.get("proxyHeap", "auto") != "auto":
            raise ConfigError(
                "proxyHeap", f"sizes proxies on hosts of their own, only with proxy: cluster; proxy is {mode}"
            )
        if placed:
            raise ConfigError(
                f"hosts[{placed[0]}].proxy", f"runs a proxy host only with proxy: cluster; proxy is {mode}"
            )
        if raw != "auto":
            raise ConfigError("proxyHosts", f"is only for proxy: cluster; proxy is {mode}")
        return 0
    if target == "hosts":
        if raw != "auto":
            raise ConfigError("proxyHosts", "is for target aws and local; on hosts, set proxy: true on the proxy hosts")
        if not placed:
            raise ConfigError(
                "hosts", "proxy: cluster needs at least one host with proxy: true (two ride out a failure)"
            )
        return len(placed)
    if raw == "auto":
        return DEFAULT_PROXY_HOSTS
    try:
        return check.integer("proxyHosts", raw, 1, MAX_PROXY_HOSTS)
    except ConfigError:
        raise ConfigError(
            "proxyHosts",
            f"must be auto ({DEFAULT_PROXY_HOSTS}) or a whole number from 1 to {MAX_PROXY_HOSTS}; got {raw!r}",
        ) from None
