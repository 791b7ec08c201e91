"""AclAdminRotation: a move to an admin user of another name (rocketmq:aclAdminUser, ACL 2.0)
with no one refused on the way.

Every broker, every proxy of its own and the program's steps sign as the admin, and read its
credentials at start. So the move takes three phases in one `up`: before any host's credentials
change, each broker's handover step makes the new admin a super user there, signed as the former
one (every signature is good then, old or new); the hosts' credentials steps then write the new
credentials and each running broker and proxy restarts in the cluster's rolling restart; once all
of them have, each broker's retire step deletes the former admin from it, signed as the new one.
An `up` that does not change the admin runs these steps once (they find nothing to do), then no
more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
from pulumi_command import remote

from components.acl_rendering import render_admin_handover_script, render_admin_retire_script
from components.config_model import AclSettings
from components.remote import root_script
from components.topology import BrokerNode, endpoint


@dataclass(frozen=True)
class BrokerAccess:
    """How the rotation reaches one broker: over its host's SSH, at the host's private address."""

    host_key: str
    node: BrokerNode
    connection: remote.ConnectionArgs
    private_address: pulumi.Input[str]
    # What the host waits for before its first SSH dial (a booting cloud instance).
    ready_after: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class AclAdminRotationArgs:
    acl: AclSettings
    brokers: Sequence[BrokerAccess]
    namesrv_addr: pulumi.Input[str]
    # The pinned admin (components/acl_admin_identity.py): its check refuses what cannot rotate.
    pinned_admin: pulumi.Resource


class AclAdminRotation(pulumi.ComponentResource):
    """`handovers` are what every host's credentials step waits for; `retire_former_admins` adds
    the last phase once the caller knows every broker's and proxy's rolling restart."""

    def __init__(self, name: str, args: AclAdminRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:AclAdminRotation", name, None, opts)
        self._name = name
        self._args = args
        self.handovers: list[remote.Command] = [
            root_script(
                f"{name}-{broker.host_key}-handover",
                broker.connection,
                # Holds the new admin's password.
                pulumi.Output.secret(self._script(broker, render_admin_handover_script)),
                parent=self,
                depends_on=[args.pinned_admin, *broker.ready_after],
            )
            for broker in args.brokers
        ]
        self.retirements: list[remote.Command] = []
        self.register_outputs({"admin": args.acl.admin_user})

    def retire_former_admins(self, after: Sequence[pulumi.Resource]) -> list[remote.Command]:
        """The steps that delete the former admins, each after every one of `after` (every
        broker's and proxy's rolling restart)."""
        self.retirements = [
            root_script(
                f"{self._name}-{broker.host_key}-retire",
                broker.connection,
                self._script(broker, render_admin_retire_script),
                parent=self,
                depends_on=list(after),
            )
            for broker in self._args.brokers
        ]
        return self.retirements

    def _script(self, broker: BrokerAccess, render: _AdminScript) -> pulumi.Output[str]:
        acl = self._args.acl
        return pulumi.Output.all(broker.private_address, self._args.namesrv_addr).apply(
            lambda values: render(
                acl,
                broker.node,
                host_label=broker.host_key,
                namesrv_addr=values[1],
                broker_endpoint=endpoint(values[0], broker.node.listen_port),
            )
        )


class _AdminScript(Protocol):
    def __call__(
        self, acl: AclSettings, node: BrokerNode, *, host_label: str, namesrv_addr: str, broker_endpoint: str
    ) -> str: ...
