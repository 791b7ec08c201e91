"""NameServerTier: the RocketMQ name servers, as systemd services, checked to answer on their port.

Each name server is two steps: configure (write its files; start it when it is not running, in
parallel on a new cluster) and a rolling restart (restart it only when configure left it running
older files), chained so that at most one name server restarts at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.config import ClusterConfig
from components.remote import root_script
from components.rendering import render_namesrv_rollout, render_namesrv_script, render_stop_command
from components.rocketmq_host import RocketMqHost
from components.topology import endpoint, namesrv_addr


def script_digest(script: pulumi.Input[str]) -> pulumi.Output[str]:
    """A rolling-restart step's trigger: it reruns whenever its service's configure script changes."""
    return pulumi.Output.from_input(script).apply(lambda text: hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class NameServerTierArgs:
    cfg: ClusterConfig
    hosts: Sequence[RocketMqHost]


class NameServerTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: NameServerTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:NameServerTier", name, None, opts)
        scripts = [self._script(args.cfg, host) for host in args.hosts]
        # What brokers wait for: every name server configured and answering.
        self.services: list[remote.Command] = [
            self._configure(name, host, script) for host, script in zip(args.hosts, scripts, strict=True)
        ]
        self.rollouts: list[remote.Command] = []
        previous: list[pulumi.Resource] = []
        for host, configure, script in zip(args.hosts, self.services, scripts, strict=True):
            rollout = root_script(
                f"{name}-{host.key}-rollout",
                host.connection,
                self._script(args.cfg, host, rollout=True),
                parent=self,
                depends_on=[configure, *previous],
                triggers=[*host.machine_triggers, script_digest(script)],
            )
            self.rollouts.append(rollout)
            previous = [rollout]

        addresses = pulumi.Output.all(*[host.private_address for host in args.hosts])
        ports = [host.planned.name_server_port for host in args.hosts]
        self.endpoints: pulumi.Output[list[str]] = addresses.apply(
            lambda items: [endpoint(address, port) for address, port in zip(items, ports, strict=True)]
        )
        self.namesrv_addr: pulumi.Output[str] = addresses.apply(
            lambda items: namesrv_addr(list(zip(items, ports, strict=True)))
        )
        self.register_outputs({"namesrvAddr": self.namesrv_addr, "nameServers": self.endpoints})

    @staticmethod
    def _script(cfg: ClusterConfig, host: RocketMqHost, *, rollout: bool = False) -> pulumi.Output[str]:
        render = render_namesrv_rollout if rollout else render_namesrv_script
        port = host.planned.name_server_port
        return host.private_address.apply(lambda address: render(cfg, host.key, address, port))

    def _configure(self, name: str, host: RocketMqHost, script: pulumi.Input[str]) -> remote.Command:
        return root_script(
            f"{name}-{host.key}",
            host.connection,
            script,
            parent=self,
            depends_on=[host.installed],
            triggers=host.machine_triggers,
            delete=render_stop_command("namesrv"),
        )
