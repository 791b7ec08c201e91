"""NameServerTier: the RocketMQ name servers, as systemd services, checked to answer on their port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.config import ClusterConfig
from components.remote import root_script
from components.rendering import render_namesrv_script, render_stop_command
from components.rocketmq_host import RocketMqHost
from components.topology import endpoint, namesrv_addr


@dataclass(frozen=True)
class NameServerTierArgs:
    cfg: ClusterConfig
    hosts: Sequence[RocketMqHost]


class NameServerTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: NameServerTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:NameServerTier", name, None, opts)
        self.services: list[remote.Command] = [self._name_server(name, args.cfg, host) for host in args.hosts]
        addresses = pulumi.Output.all(*[host.private_address for host in args.hosts])
        ports = [host.planned.name_server_port for host in args.hosts]
        self.endpoints: pulumi.Output[list[str]] = addresses.apply(
            lambda items: [endpoint(address, port) for address, port in zip(items, ports, strict=True)]
        )
        self.namesrv_addr: pulumi.Output[str] = addresses.apply(
            lambda items: namesrv_addr(list(zip(items, ports, strict=True)))
        )
        self.register_outputs({"namesrvAddr": self.namesrv_addr, "nameServers": self.endpoints})

    def _name_server(self, name: str, cfg: ClusterConfig, host: RocketMqHost) -> remote.Command:
        script = host.private_address.apply(
            lambda address: render_namesrv_script(cfg, host.key, address, host.planned.name_server_port)
        )
        return root_script(
            f"{name}-{host.key}",
            host.connection,
            script,
            parent=self,
            depends_on=[host.installed],
            triggers=host.machine_triggers,
            delete=render_stop_command("namesrv"),
        )
