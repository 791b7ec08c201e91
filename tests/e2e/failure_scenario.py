"""E2E scenario: a broker that never becomes healthy makes `up` fail clearly, and heals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from components.topology import BROKER_PORT
from tests.e2e.cluster_harness import PulumiStack, wait_for_cluster, wait_until
from tests.e2e.testhosts import TestNetwork


def a_broker_that_never_becomes_healthy_fails_up(
    net: TestNetwork, stack: PulumiStack, host: Any, *, probe: Any, namesrv: str, expected: set[tuple[str, int, str]]
) -> None:
    """Something else holds the broker's port when the program restarts it: the broker exits at
    every start, `up` fails naming the host with the log lines that show why, leaves no process
    of its own behind, and the next `up` after the port is free heals the cluster."""
    squatter = "e2e-port-squatter"
    net.ssh(host, "sudo -n systemctl stop rocketmq-broker.service", check=True)
    net.ssh(
        host,
        f"sudo -n systemd-run --quiet --unit={squatter} python3 -m http.server --bind 0.0.0.0 {BROKER_PORT}",
        check=True,
    )
    try:
        wait_until(
            lambda: net.ssh(host, f"ss -Htln sport = :{BROKER_PORT}").stdout.strip() != "",
            30,
            f"something to listen on {host}:{BROKER_PORT}",
        )
        stack.set_config({"readyTimeoutSeconds": 30})
        failed = stack.up(check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0, output
        assert f"on {host.name} ({host.address}) is not healthy" in output, output
        assert "Address already in use" in output, output  # the cause, from the broker's own output
        assert "----- journal of rocketmq-broker.service" in output, output
        assert not _pids_with_cwd(stack.project), "processes of the failed up still run"
    finally:
        net.ssh(host, f"sudo -n systemctl stop {squatter}")
    stack.set_config({"readyTimeoutSeconds": 180})
    stack.up()
    wait_for_cluster(net, probe, namesrv, expected)


def _pids_with_cwd(directory: Path) -> list[int]:
    """Processes on this machine working in ``directory`` (the engine's plugins run there)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == directory:
                found.append(int(entry.name))
        except OSError:
            continue
    return found
