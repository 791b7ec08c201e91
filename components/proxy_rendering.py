"""Render the files and scripts of a proxy host of its own (rocketmq:proxy cluster): pure, no Pulumi.

The proxy inside each broker (proxy local) is part of the broker's files (components/rendering.py)."""

from __future__ import annotations

from components.config_model import ClusterConfig
from components.rendering import (
    PROXY_CONF,
    HostFile,
    _common_files,
    _service_context,
    _service_script,
    render,
    render_proxy_conf,
)
from components.topology import PlannedHost


def render_proxy_script(
    cfg: ClusterConfig, host: PlannedHost, address: str, namesrv_addr: str, *, trusted_ca: str = ""
) -> str:
    """The proxy's configure step: its files, started when it does not run (see service.sh.j2)."""
    assert host.proxy_ports is not None, f"{host.key} runs no proxy"
    env = render("proxy.env.j2", version=cfg.release.version, heap=cfg.heap.proxy or "auto", namesrv_addr=namesrv_addr)
    conf = render_proxy_conf(
        cfg, host.proxy_ports, metrics=host.metrics_port is not None, exporter_port=host.metrics_port
    )
    files = [*_common_files("proxy", cfg, env, trusted_ca=trusted_ca), HostFile(PROXY_CONF, "0644", conf)]
    return _service_script("proxy", cfg, host.key, address, files, proxy_ports=host.proxy_ports, runtime_conf="")


def render_proxy_rollout(cfg: ClusterConfig, host: PlannedHost, address: str) -> str:
    """The proxy's rolling-restart step: clients carry on through the other proxies meanwhile."""
    context = _service_context("proxy", cfg, host.key, address, proxy_ports=host.proxy_ports)
    return render("rollout.sh.j2", master_endpoint="", settle_seconds=0, **context)
