"""The remote commands of a program run under mocks (tests/pulumi_harness.py): which service each
one configures, the files its script writes, and its SSH connection."""

from __future__ import annotations

import re
from typing import Any

from components.rendering import HEREDOC
from tests.pulumi_harness import SECRET_SIG, ProgramRun, Registered

__all__ = ["SECRET_SIG"]  # how Pulumi marks a secret value in resource inputs; tests import it from here


def written_file(command: Registered, path: str) -> str | None:
    """What ``command``'s script writes to ``path`` on its host (None: it writes no such file)."""
    match = re.search(
        rf"install_file {re.escape(path)} 0644 <<'{HEREDOC}'\n(.*?){HEREDOC}\n", command.inputs["stdin"], re.S
    )
    return match.group(1) if match else None


def broker_conf(command: Registered) -> dict[str, str]:
    content = written_file(command, "/etc/rocketmq/broker.conf")
    assert content is not None, f"{command.name} writes no broker.conf"
    return dict(line.split("=", 1) for line in content.splitlines() if line and not line.startswith("#"))


def _configure_commands(run: ProgramRun, unit: str) -> list[Registered]:
    return [c for c in run.commands if f"UNIT={unit}" in c.inputs.get("stdin", "") and not c.name.endswith("-rollout")]


def broker_commands(run: ProgramRun) -> list[Registered]:
    """The brokers' configure steps (writing broker.conf), without their rolling restarts."""
    return _configure_commands(run, "rocketmq-broker.service")


def namesrv_commands(run: ProgramRun) -> list[Registered]:
    return _configure_commands(run, "rocketmq-namesrv.service")


def rollouts(run: ProgramRun) -> list[Registered]:
    return [c for c in run.commands if c.name.endswith("-rollout")]


def connection(command: Registered) -> dict[str, Any]:
    wrapped = command.inputs["connection"]
    assert wrapped.get(SECRET_SIG), f"{command.name}: the connection (with the private key) is not a secret"
    return wrapped["value"]  # type: ignore[no-any-return]
