"""ControllerTier: master-slave-auto's controllers on hosts of their own (rocketmq:controllers, or hosts
with controller: true), as systemd services checked to know the Raft group's leader.

As for the name servers, each controller is two steps: configure (write its files; start it when it
is not running, in parallel on a new cluster, since a leader needs a majority) and a rolling restart
(only when configure left it running older files), chained so that at most one controller restarts
at a time; the others keep a majority and go on electing masters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.config_model import ClusterConfig
from components.controller_rendering import ControllerPeers, render_controller_rollout, render_controller_script
from components.name_server_tier import controller_peers
from components.rocketmq_host import RocketMqHost
from components.service_steps import chained_service_steps


@dataclass(frozen=True)
class ControllerTierArgs:
    cfg: ClusterConfig
    hosts: Sequence[RocketMqHost]
    # The rolling restart before the first controller's (the last name server's).
    rollout_after: Sequence[pulumi.Resource]


class ControllerTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: ControllerTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:ControllerTier", name, None, opts)
        peers = controller_peers(args.hosts)
        # The brokers' controllerAddr: every controller.
        self.controller_addr: pulumi.Output[str] = peers.apply(lambda found: found.controller_addr if found else "")
        # What brokers wait for: every controller configured and knowing the leader.
        self.services, self.rollouts = chained_service_steps(
            name,
            args.hosts,
            "controller",
            lambda host: (self._script(args.cfg, host, peers), self._rollout_script(args.cfg, host)),
            parent=self,
            rollout_after=args.rollout_after,
        )
        self.register_outputs({"controllerAddr": self.controller_addr})

    @staticmethod
    def _rollout_script(cfg: ClusterConfig, host: RocketMqHost) -> pulumi.Output[str]:
        return host.private_address.apply(lambda address: render_controller_rollout(cfg, host.planned, address))

    @staticmethod
    def _script(
        cfg: ClusterConfig, host: RocketMqHost, peers: pulumi.Output[ControllerPeers | None]
    ) -> pulumi.Output[str]:
        def render(values: list[object]) -> str:
            address, found, trusted_ca = values
            assert isinstance(address, str) and isinstance(found, ControllerPeers) and isinstance(trusted_ca, str)
            return render_controller_script(cfg, host.planned, address, found, trusted_ca=trusted_ca)

        return pulumi.Output.all(host.private_address, peers, host.trusted_ca).apply(render)
