"""Render the files and scripts of a controller of its own (master-slave-auto with rocketmq:controllers
or hosts with controller: true): pure, no Pulumi.

The Raft settings here are shared with a controller inside a name server (components/namesrv_rendering.py)."""

from __future__ import annotations

from dataclasses import dataclass

from components.config_model import ClusterConfig
from components.rendering import (
    DESCRIPTIONS,
    HostFile,
    _common_files,
    _service_context,
    _service_script,
    render,
)
from components.topology import PlannedHost, endpoint

CONTROLLER_CONF = "/etc/rocketmq/controller.conf"


@dataclass(frozen=True)
class ControllerPeers:
    """The controllers' Raft group (master-slave-auto): every controller's address:port, in id order."""

    endpoints: tuple[str, ...]

    def peers(self) -> str:
        """controllerDLegerPeers: n0-address:port;n1-...; an id is a controller's place in the list."""
        return ";".join(f"n{i}-{e}" for i, e in enumerate(self.endpoints))

    @property
    def controller_addr(self) -> str:
        """The brokers' controllerAddr: a broker asks each controller which of them leads."""
        return ";".join(self.endpoints)


def controller_settings(cfg: ClusterConfig, controllers: ControllerPeers, self_endpoint: str) -> dict[str, str]:
    """What templates/_controller.conf.j2 writes for the controller at `self_endpoint`, inside a name
    server or on its own."""
    return {
        "group": f"{cfg.cluster_name}-controllers",
        "peers": controllers.peers(),
        "self_id": f"n{controllers.endpoints.index(self_endpoint)}",
        "store_path": f"{cfg.store_path}/controller",
    }


def render_controller_conf(cfg: ClusterConfig, controllers: ControllerPeers, self_endpoint: str) -> str:
    return render("controller.conf.j2", controller=controller_settings(cfg, controllers, self_endpoint))


def render_controller_script(
    cfg: ClusterConfig, host: PlannedHost, address: str, controllers: ControllerPeers, *, trusted_ca: str = ""
) -> str:
    """The controller's configure step: its files, started when it does not run (see service.sh.j2)."""
    assert host.controller_port is not None, f"{host.key} runs no controller"
    env = render(
        "jvm-service.env.j2",
        description=DESCRIPTIONS["controller"],
        version=cfg.release.version,
        heap=cfg.heap.controller or "auto",
    )
    conf = render_controller_conf(cfg, controllers, endpoint(address, host.controller_port))
    files = [*_common_files("controller", cfg, env, trusted_ca=trusted_ca), HostFile(CONTROLLER_CONF, "0644", conf)]
    return _service_script(
        "controller", cfg, host.key, address, files, controller_port=host.controller_port, runtime_conf=""
    )


def render_controller_rollout(cfg: ClusterConfig, host: PlannedHost, address: str) -> str:
    """The controller's rolling-restart step: it waits until the controllers have a leader again,
    so that at most one of them is away at a time."""
    context = _service_context("controller", cfg, host.key, address, controller_port=host.controller_port)
    return render("rollout.sh.j2", master_endpoint="", settle_seconds=0, **context)
