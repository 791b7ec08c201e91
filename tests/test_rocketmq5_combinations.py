"""Every combination of mode, proxy, metrics and target, through the real program under mocks: each
either deploys with the proxies, exporters and controllers it asked for, or is refused with the
proxy's key before any resource."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from components.config import parse_config
from components.config_checks import ConfigError
from tests.program_commands import broker_commands, broker_conf
from tests.pulumi_harness import RecordingMocks, run_main_program
from tests.stacks import HOSTS_BY_MODE, MODES, aws_stack, hosts_stack, local_stack

PROXIES = ("none", "local", "cluster")
TARGETS = ("aws", "hosts", "local")
COMBINATIONS = list(itertools.product(MODES, PROXIES, (False, True), TARGETS))


def _stack(mode: str, proxy: str, metrics: bool, target: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"proxy": proxy, "metrics": metrics}
    if target == "aws":
        return aws_stack(mode, **settings)
    if target == "local":
        return local_stack(mode, **settings)
    hosts = HOSTS_BY_MODE[mode]
    if proxy == "cluster":  # on hosts, proxy hosts are marked in the stack file
        hosts = [*hosts, {"name": "proxy1", "address": "192.0.2.31", "proxy": True}]
    return hosts_stack(mode, hosts=hosts, **settings)


def _refused(mode: str, proxy: str, target: str, brokers: int) -> bool:
    """What README says is refused: a proxy in each broker where the controllers move the master
    role, or where machines share this machine's loopback and more than one broker would open it."""
    return proxy == "local" and (mode == "master-slave-auto" or (target == "local" and brokers > 1))


@pytest.mark.parametrize(
    ("mode", "proxy", "metrics", "target"), COMBINATIONS, ids=["-".join(map(str, c)) for c in COMBINATIONS]
)
def test_each_combination_deploys_as_asked_or_is_refused_up_front(
    mode: str, proxy: str, metrics: bool, target: str
) -> None:
    stack = _stack(mode, proxy, metrics, target)
    secrets = [] if target == "local" else ["sshPrivateKey"]
    brokers = len([h for h in HOSTS_BY_MODE[mode] if h.get("broker")])
    if _refused(mode, proxy, target, brokers):
        with pytest.raises(ConfigError, match=r"^rocketmq:proxy: "):
            parse_config(stack)
        mocks = RecordingMocks()
        with pytest.raises(Exception, match="rocketmq:proxy"):
            run_main_program(stack, secrets, mocks)
        assert mocks.resources == []
        return

    cfg = parse_config(stack)
    run = run_main_program(stack, secrets)
    confs = [broker_conf(command) for command in broker_commands(run)]
    assert len(confs) == brokers
    proxy_hosts = cfg.proxy.hosts if cfg.proxy is not None and proxy == "cluster" else 0
    masters = sum(1 for conf in confs if conf.get("brokerId") == "0")

    # The proxies: one per master's broker (local), or the proxy hosts (cluster).
    expected_endpoints = {"none": 0, "local": masters, "cluster": proxy_hosts}[proxy]
    assert len(run.outputs["proxyEndpoints"]) == expected_endpoints
    assert all(conf.get("enableProxy", "false") != "true" for conf in confs)  # the launcher starts it
    # The exporters: every broker, and every proxy host of its own.
    assert len(run.outputs["metricsTargets"]) == ((brokers + proxy_hosts) if metrics else 0)
    assert all((conf.get("metricsExporterType") == "PROM") == metrics for conf in confs)
    # The controllers elect the masters in master-slave-auto only.
    elected = mode == "master-slave-auto"
    assert all((conf.get("enableControllerMode") == "true") == elected for conf in confs)
    assert all((conf["brokerId"] == "-1") == elected for conf in confs)
