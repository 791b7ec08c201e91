"""BrokerPair: one broker group (brokerName), its master and its slaves, as systemd services,
each checked to appear in `mqadmin clusterList` with its name, id and address."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.config import ClusterConfig
from components.remote import root_script
from components.rendering import render_broker_script, render_stop_command
from components.rocketmq_host import RocketMqHost
from components.topology import BrokerGroup, BrokerNode, endpoint


@dataclass(frozen=True)
class BrokerPairArgs:
    cfg: ClusterConfig
    group: BrokerGroup
    hosts: Mapping[str, RocketMqHost]
    namesrv_addr: pulumi.Input[str]
    name_servers: Sequence[pulumi.Resource]


class BrokerPair(pulumi.ComponentResource):
    def __init__(self, name: str, args: BrokerPairArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:BrokerPair", name, None, opts)
        self.services = [self._broker(name, args, node) for node in args.group.nodes]

        def advertised(node: BrokerNode) -> pulumi.Output[str]:
            return args.hosts[node.host].private_address.apply(lambda address: endpoint(address, node.listen_port))

        self.master: pulumi.Output[str] = advertised(args.group.master)
        self.slaves: pulumi.Output[list[str]] = pulumi.Output.all(*[advertised(n) for n in args.group.slaves])
        self.register_outputs({"brokerName": args.group.broker_name, "master": self.master, "slaves": self.slaves})

    def _broker(self, name: str, args: BrokerPairArgs, node: BrokerNode) -> pulumi.Resource:
        host = args.hosts[node.host]
        script = pulumi.Output.all(host.private_address, args.namesrv_addr).apply(
            lambda values: render_broker_script(args.cfg, node, host.key, values[0], values[1])
        )
        return root_script(
            f"{name}-{node.broker_id}",
            host.connection,
            script,
            parent=self,
            depends_on=[host.installed, *args.name_servers],
            triggers=host.machine_triggers,
            delete=render_stop_command("broker"),
        )
