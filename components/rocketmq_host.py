"""RocketMqHost: one machine made ready for RocketMQ (JDK, user, OS tuning, verified release)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.config import ReleaseSettings
from components.remote import HostEndpoint, root_script
from components.rendering import render_install_script, render_prepare_script
from components.topology import PlannedHost


@dataclass(frozen=True)
class RocketMqHostArgs:
    endpoint: HostEndpoint
    connection: remote.ConnectionArgs
    release: ReleaseSettings
    store_path: str
    planned: PlannedHost
    # Resources the release download needs first (target local: the mirror that serves it).
    release_after: Sequence[pulumi.Resource] = ()


class RocketMqHost(pulumi.ComponentResource):
    """Prepares the host, then downloads, verifies and unpacks the release.

    `installed` is what services on this host depend on."""

    def __init__(self, name: str, args: RocketMqHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:Host", name, None, opts)
        self.key = args.endpoint.key
        self.planned = args.planned
        self.connection = args.connection
        self.private_address: pulumi.Output[str] = pulumi.Output.from_input(args.endpoint.private_address)

        prepare_script = pulumi.Output.from_input(args.endpoint.data_volume_id).apply(
            lambda volume_id: render_prepare_script(self.key, args.release, args.store_path, volume_id)
        )
        self.prepared = root_script(
            f"{name}-prepare",
            args.connection,
            prepare_script,
            parent=self,
            depends_on=args.endpoint.ready_after,
        )
        self.installed = root_script(
            f"{name}-install",
            args.connection,
            render_install_script(self.key, args.release),
            parent=self,
            depends_on=[self.prepared, *args.release_after],
        )
        self.register_outputs({"privateAddress": self.private_address, "version": args.release.version})
