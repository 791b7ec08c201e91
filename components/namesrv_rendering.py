"""Render the name server's files and scripts (with its controller in master-slave-auto): pure, no Pulumi."""

from __future__ import annotations

from components.config_model import ClusterConfig
from components.controller_rendering import ControllerPeers, controller_settings
from components.rendering import (
    DESCRIPTIONS,
    HostFile,
    _common_files,
    _service_context,
    _service_script,
    render,
    route_refresh_wait,
)
from components.topology import NAME_SERVER_PORT


def render_namesrv_conf(
    cfg: ClusterConfig, port: int, controllers: ControllerPeers | None = None, self_endpoint: str = ""
) -> str:
    controller = None if controllers is None else controller_settings(cfg, controllers, self_endpoint)
    return render("namesrv.conf.j2", listen_port=port, controller=controller)


def render_namesrv_script(
    cfg: ClusterConfig,
    host_label: str,
    address: str,
    port: int = NAME_SERVER_PORT,
    *,
    controllers: ControllerPeers | None = None,
    controller_port: int | None = None,
) -> str:
    """`controllers`: the Raft group this name server's controller (at `controller_port`) joins."""
    env = render(
        "jvm-service.env.j2",
        description=DESCRIPTIONS["namesrv"],
        version=cfg.release.version,
        heap=cfg.heap.name_server or "auto",
    )
    conf = render_namesrv_conf(cfg, port, controllers, f"{address}:{controller_port}")
    files = [
        *_common_files("namesrv", cfg, env, keeps_state=controllers is not None),
        HostFile("/etc/rocketmq/namesrv.conf", "0644", conf),
    ]
    return _service_script(
        "namesrv",
        cfg,
        host_label,
        address,
        files,
        port=port,
        runtime_conf="",
        controller_port=controller_port if controllers is not None else None,
    )


def render_namesrv_rollout(
    cfg: ClusterConfig,
    host_label: str,
    address: str,
    port: int = NAME_SERVER_PORT,
    *,
    controller_port: int | None = None,
) -> str:
    """The name server's rolling-restart step (see templates/rollout.sh.j2); with its controller
    (master-slave-auto) at `controller_port`, it waits until the controllers have a leader again."""
    context = _service_context("namesrv", cfg, host_label, address, port=port, controller_port=controller_port)
    # Clients may hold routes from it from before every broker registered again.
    return render("rollout.sh.j2", master_endpoint="", settle_seconds=route_refresh_wait(cfg), **context)
