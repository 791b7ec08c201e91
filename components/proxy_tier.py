"""ProxyTier: RocketMQ 5's proxies on hosts of their own (rocketmq:proxy cluster), as systemd
services checked to answer on their gRPC port.

As for the name servers, each proxy is two steps: configure (write its files; start it when it is
not running) and a rolling restart (only when configure left it running older files), chained so
that at most one proxy restarts at a time, after every broker's restart; clients carry on through
the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.config_model import ClusterConfig
from components.proxy_rendering import render_proxy_rollout, render_proxy_script
from components.rocketmq_host import RocketMqHost
from components.service_steps import chained_service_steps
from components.topology import endpoint


@dataclass(frozen=True)
class ProxyTierArgs:
    cfg: ClusterConfig
    hosts: Sequence[RocketMqHost]
    namesrv_addr: pulumi.Input[str]
    name_servers: Sequence[pulumi.Resource]
    # The rolling restart before the first proxy's (the last broker's).
    rollout_after: Sequence[pulumi.Resource]


class ProxyTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: ProxyTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:ProxyTier", name, None, opts)
        self.services, self.rollouts = chained_service_steps(
            name,
            args.hosts,
            "proxy",
            lambda host: (self._script(args, host), self._rollout_script(args, host)),
            parent=self,
            configure_after=args.name_servers,
            rollout_after=args.rollout_after,
        )

        def at(host: RocketMqHost, port: int | None) -> pulumi.Output[str]:
            assert port is not None
            return host.private_address.apply(lambda address: endpoint(address, port))

        self.endpoints: pulumi.Output[list[str]] = pulumi.Output.all(
            *[at(h, h.planned.proxy_ports.grpc if h.planned.proxy_ports else None) for h in args.hosts]
        )
        self.metrics_targets: pulumi.Output[list[str]] = pulumi.Output.all(
            *[at(h, h.planned.metrics_port) for h in args.hosts if h.planned.metrics_port is not None]
        )
        self.register_outputs({"proxyEndpoints": self.endpoints, "metricsTargets": self.metrics_targets})

    @staticmethod
    def _script(args: ProxyTierArgs, host: RocketMqHost) -> pulumi.Output[str]:
        return pulumi.Output.all(host.private_address, args.namesrv_addr, host.trusted_ca).apply(
            lambda values: render_proxy_script(args.cfg, host.planned, values[0], values[1], trusted_ca=values[2])
        )

    @staticmethod
    def _rollout_script(args: ProxyTierArgs, host: RocketMqHost) -> pulumi.Output[str]:
        return host.private_address.apply(lambda address: render_proxy_rollout(args.cfg, host.planned, address))
