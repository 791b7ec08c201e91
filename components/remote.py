"""SSH endpoints of hosts and the one way this program runs a script on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from components.rendering import RUN_STDIN_AS_ROOT

IGNORE_STDIN = "cat >/dev/null"

# Fresh cloud instances refuse SSH for a while after they boot: keep dialling.
DIAL_ERROR_LIMIT = 60
# Hosts with a pinned key run already; a host showing another key fails on every dial, so `up`
# stops after about 10 s of backoff instead of minutes.
PINNED_DIAL_ERROR_LIMIT = 10
PER_DIAL_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Bastion:
    host: str
    user: str
    host_key: str | None = None  # "type base64", pinned on every connection through it


@dataclass(frozen=True)
class HostEndpoint:
    """How to reach one planned host, and what it must wait for before the first SSH dial."""

    key: str
    ssh_host: pulumi.Input[str]
    private_address: pulumi.Input[str]
    user: str
    port: int = 22
    data_volume_id: pulumi.Input[str] | None = None
    ready_after: Sequence[pulumi.Resource] = field(default_factory=tuple)
    # Identity of the machine (e.g. the EC2 instance id): a new one (a replaced instance) is a
    # fresh disk, so everything this program runs on the host runs again.
    machine_id: pulumi.Input[str] | None = None
    # OpenSSH public key to authorize for `user` on every prepare (aws: a rotated sshPublicKey).
    authorized_key: str | None = None
    # "type base64": the host's SSH key; every connection refuses a host that shows another.
    host_key: pulumi.Input[str] | None = None
    # A cloud instance that may refuse SSH for a while after it boots: keep dialling, pinned or not.
    slow_first_dial: bool = False


def connection_for(
    endpoint: HostEndpoint, private_key: pulumi.Input[str], bastion: Bastion | None = None
) -> remote.ConnectionArgs:
    proxy = None
    if bastion is not None:
        proxy = remote.ProxyConnectionArgs(
            host=bastion.host,
            user=bastion.user,
            private_key=private_key,
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT_SECONDS,
            host_key=bastion.host_key,
        )
    return remote.ConnectionArgs(
        host=endpoint.ssh_host,
        port=endpoint.port,
        user=endpoint.user,
        private_key=pulumi.Output.secret(private_key),
        dial_error_limit=(
            DIAL_ERROR_LIMIT if endpoint.host_key is None or endpoint.slow_first_dial else PINNED_DIAL_ERROR_LIMIT
        ),
        per_dial_timeout=PER_DIAL_TIMEOUT_SECONDS,
        proxy=proxy,
        host_key=endpoint.host_key,
    )


def root_script(
    name: str,
    connection: remote.ConnectionArgs,
    script: pulumi.Input[str],
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    delete: str | None = None,
    triggers: Sequence[pulumi.Input[str]] = (),
    on_create: bool = True,
) -> remote.Command:
    """Runs `script` (bash, on stdin) as root. It reruns only when the script itself or one of
    its `triggers` changes, so a second `pulumi up` with no change runs nothing on the hosts.
    With `on_create` False it runs only on those changes, not when the Command is first created.

    A changed trigger replaces the Command: with a `delete` script, the old one's delete runs
    first (on a replaced machine it finds nothing to stop), never after the new one's create."""
    return remote.Command(
        name,
        connection=connection,
        create=RUN_STDIN_AS_ROOT if on_create else IGNORE_STDIN,
        update=None if on_create else RUN_STDIN_AS_ROOT,
        stdin=script,
        delete=delete,
        triggers=list(triggers) or None,
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            delete_before_replace=bool(triggers and delete),
        ),
    )
