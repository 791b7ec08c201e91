"""GroupDrain: a broker group leaves the cluster only once it is drained.

One remote Command on the admin host (broker-a's master), run after every broker is configured
and rolled, whenever the planned groups (or the name servers) change; not on the first `up`,
where no group can be leaving. Its script finds the groups
that clusterList still shows but the plan no longer has, takes their write permission and waits
until their consumers have read everything. Pulumi deletes the removed groups' resources (which
stop their brokers) only at the end of the update, after this ran: a group that cannot drain
makes `up` fail first, and keeps running."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.config_model import ClusterConfig
from components.remote import root_script
from components.rendering import render_drain_script
from components.rocketmq_host import RocketMqHost


@dataclass(frozen=True)
class GroupDrainArgs:
    cfg: ClusterConfig
    broker_names: Sequence[str]  # the planned groups: any other group of the cluster is leaving
    admin_host: RocketMqHost
    namesrv_addr: pulumi.Input[str]
    brokers: Sequence[pulumi.Resource]  # every BrokerPair: drain once the staying groups are healthy


class GroupDrain(pulumi.ComponentResource):
    def __init__(self, name: str, args: GroupDrainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:GroupDrain", name, None, opts)
        script = pulumi.Output.from_input(args.namesrv_addr).apply(
            lambda namesrv: render_drain_script(
                args.cfg, host_label=args.admin_host.key, namesrv_addr=namesrv, broker_names=args.broker_names
            )
        )
        self.command = root_script(
            f"{name}-groups",
            args.admin_host.connection,
            script,
            parent=self,
            depends_on=args.brokers,
            triggers=args.admin_host.machine_triggers,  # a new machine: nothing to drain from it
            on_create=False,
        )
        self.register_outputs({"brokerNames": list(args.broker_names)})
