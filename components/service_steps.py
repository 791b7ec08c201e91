"""The two steps of a RocketMQ service on one host, as name servers, controllers and proxies of their
own run them: configure (write its files; start it when it is not running) and a rolling restart
(restart it only when configure left it running older files). Each tier chains its rolling
restarts, so that at most one of its services restarts at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.remote import root_script
from components.rendering import render_stop_command
from components.rocketmq_host import RocketMqHost


def script_digest(script: pulumi.Input[str]) -> pulumi.Output[str]:
    """A rolling-restart step's trigger: it reruns whenever its service's configure script changes."""
    return pulumi.Output.from_input(script).apply(lambda text: hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class ServiceSteps:
    configure: remote.Command
    rollout: remote.Command


def service_steps(
    name: str,
    host: RocketMqHost,
    role: str,
    script: pulumi.Input[str],
    rollout_script: pulumi.Input[str],
    *,
    parent: pulumi.Resource,
    configure_after: Sequence[pulumi.Resource] = (),
    rollout_after: Sequence[pulumi.Resource] = (),
) -> ServiceSteps:
    """`role`'s steps on `host`, named `<name>-<host>` and `<name>-<host>-rollout`. Configure runs
    once the release is installed (and after `configure_after`); the rolling restart after its
    configure and `rollout_after` (the previous service's rolling restart)."""
    configure = root_script(
        f"{name}-{host.key}",
        host.connection,
        script,
        parent=parent,
        depends_on=[host.installed, *configure_after],
        triggers=host.machine_triggers,
        delete=render_stop_command(role),
    )
    rollout = root_script(
        f"{name}-{host.key}-rollout",
        host.connection,
        rollout_script,
        parent=parent,
        depends_on=[configure, *rollout_after],
        triggers=[*host.restart_triggers(role), script_digest(script)],
    )
    return ServiceSteps(configure, rollout)


def chained_service_steps(
    name: str,
    hosts: Sequence[RocketMqHost],
    role: str,
    scripts: Callable[[RocketMqHost], tuple[pulumi.Input[str], pulumi.Input[str]]],
    *,
    parent: pulumi.Resource,
    configure_after: Sequence[pulumi.Resource] = (),
    rollout_after: Sequence[pulumi.Resource] = (),
) -> tuple[list[remote.Command], list[remote.Command]]:
    """`role`'s steps on each of `hosts` (its configure and rolling-restart scripts from `scripts`):
    the configure steps side by side, the rolling restarts one after another, the first after
    `rollout_after`. Returns (configure steps, rolling restarts)."""
    configures: list[remote.Command] = []
    rollouts: list[remote.Command] = []
    for host in hosts:
        script, rollout_script = scripts(host)
        steps = service_steps(
            name,
            host,
            role,
            script,
            rollout_script,
            parent=parent,
            configure_after=configure_after,
            rollout_after=rollouts[-1:] or rollout_after,
        )
        configures.append(steps.configure)
        rollouts.append(steps.rollout)
    return configures, rollouts
