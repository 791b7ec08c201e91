"""Render the files and scripts of a controller of its own (master-slave-auto with rocketmq:controllers
or hosts with controller: true): pure, no Pulumi.

A controller inside a name server is part of the name server's files (components/rendering.py)."""

from __future__ import annotations

from components.config import ClusterConfig
from components.rendering import (
    DESCRIPTIONS,
    ControllerPeers,
    HostFile,
    _common_files,
    _service_context,
    _service_script,
    controller_settings,
    render,
)
from components.topology import PlannedHost, endpoint

CONTROLLER_CONF = "/etc/rocketmq/controller.conf"


def render_controller_conf(cfg: ClusterConfig, controllers: ControllerPeers, self_endpoint: str) -> str:
    return render("controller.conf.j2", controller=controller_settings(cfg, controllers, self_endpoint))


def render_controller_script(cfg: ClusterConfig, host: PlannedHost, address: str, controllers: ControllerPeers) -> str:
    """The controller's configure step: its files, started when it does not run (see service.sh.j2)."""
    assert host.controller_port is not None, f"{host.key} runs no controller"
    env = render(
        "jvm-service.env.j2",
        description=DESCRIPTIONS["controller"],
        version=cfg.release.version,
        heap=cfg.heap.controller or "auto",
    )
    conf = render_controller_conf(cfg, controllers, endpoint(address, host.controller_port))
    files = [*_common_files("controller", cfg, env), HostFile(CONTROLLER_CONF, "0644", conf)]
    return _service_script(
        "controller",
        host.key,
        address,
        cfg.ready_timeout_seconds,
        files,
        controller_port=host.controller_port,
        runtime_conf="",
    )


def render_controller_rollout(cfg: ClusterConfig, host: PlannedHost, address: str) -> str:
    """The controller's rolling-restart step: it waits until the controllers have a leader again,
    so that at most one of them is away at a time."""
    context = _service_context(
        "controller", host.key, address, cfg.ready_timeout_seconds, controller_port=host.controller_port
    )
    return render("rollout.sh.j2", master_endpoint="", settle_seconds=0, **context)
