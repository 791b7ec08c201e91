"""NameServerTier: the RocketMQ name servers, as systemd services, checked to answer on their port
(in master-slave-auto each also runs a controller, checked to know the controllers' leader).

Each name server is two steps: configure (write its files; start it when it is not running, in
parallel on a new cluster) and a rolling restart (restart it only when configure left it running
older files), chained so that at most one name server restarts at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.config_model import ClusterConfig
from components.controller_rendering import ControllerPeers
from components.namesrv_rendering import render_namesrv_rollout, render_namesrv_script
from components.rocketmq_host import RocketMqHost
from components.service_steps import chained_service_steps
from components.topology import endpoint, namesrv_addr


def controller_peers(hosts: Sequence[RocketMqHost]) -> pulumi.Output[ControllerPeers | None]:
    """The Raft group of the controllers among `hosts`, in their order; None when none runs one."""
    controller_hosts = [host for host in hosts if host.planned.controller_port is not None]
    ports = [host.planned.controller_port for host in controller_hosts]
    return pulumi.Output.all(*[host.private_address for host in controller_hosts]).apply(
        lambda addresses: (
            ControllerPeers(tuple(endpoint(a, p) for a, p in zip(addresses, ports, strict=True) if p is not None))
            if addresses
            else None
        )
    )


@dataclass(frozen=True)
class NameServerTierArgs:
    cfg: ClusterConfig
    hosts: Sequence[RocketMqHost]


class NameServerTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: NameServerTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:NameServerTier", name, None, opts)
        # master-slave-auto: a controller in each name server (unless they run on hosts of their own).
        self.controllers = controller_peers(args.hosts)
        # What the brokers' controllerAddr says ("" without controllers).
        self.controller_addr: pulumi.Output[str] = self.controllers.apply(
            lambda peers: peers.controller_addr if peers else ""
        )
        # What brokers wait for (every name server configured and answering), and the rolling restarts.
        self.services, self.rollouts = chained_service_steps(
            name,
            args.hosts,
            "namesrv",
            lambda host: (self._script(args.cfg, host), self._script(args.cfg, host, rollout=True)),
            parent=self,
        )

        addresses = pulumi.Output.all(*[host.private_address for host in args.hosts])
        ports = [host.planned.name_server_port for host in args.hosts]
        self.endpoints: pulumi.Output[list[str]] = addresses.apply(
            lambda items: [endpoint(address, port) for address, port in zip(items, ports, strict=True)]
        )
        self.namesrv_addr: pulumi.Output[str] = addresses.apply(
            lambda items: namesrv_addr(list(zip(items, ports, strict=True)))
        )
        self.register_outputs(
            {"namesrvAddr": self.namesrv_addr, "nameServers": self.endpoints, "controllerAddr": self.controller_addr}
        )

    def _script(self, cfg: ClusterConfig, host: RocketMqHost, *, rollout: bool = False) -> pulumi.Output[str]:
        port, controller_port = host.planned.name_server_port, host.planned.controller_port
        if rollout:
            return host.private_address.apply(
                lambda address: render_namesrv_rollout(cfg, host.key, address, port, controller_port=controller_port)
            )
        return pulumi.Output.all(host.private_address, self.controllers).apply(
            lambda values: render_namesrv_script(
                cfg, host.key, values[0], port, controllers=values[1], controller_port=controller_port
            )
        )
