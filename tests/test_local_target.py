"""target local under Pulumi mocks: the machines, key pair and mirror the program creates on this
machine, and the cluster it then deploys onto them exactly as for target hosts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pulumi
import pytest
import yaml

from components import local_fleet
from components.config import parse_config
from components.topology import plan_cluster
from components.topology_picture import mermaid
from tests.program_commands import broker_commands, broker_conf, connection, namesrv_commands
from tests.pulumi_harness import (
    LOCAL_COMMAND_TYPE,
    LOCAL_HOST_KEY,
    LOCAL_MIRROR_FALLBACK,
    LOCAL_ROOTFS,
    PRIVATE_KEY,
    PROJECT_ROOT,
    ProgramRun,
    RecordingMocks,
    Registered,
    run_main_program,
)
from tests.stacks import local_stack

SMALL = {"nameServers": 1, "brokerGroups": 1, "slavesPerGroup": 1}


def local_commands(run: ProgramRun) -> dict[str, Registered]:
    return {c.name.removeprefix("rocketmq-local-"): c for c in run.mocks.of_type(LOCAL_COMMAND_TYPE)}


def argv(command: str) -> list[str]:
    return shlex.split(command)


def option(command: str, name: str) -> list[str]:
    words = argv(command)
    return [words[i + 1] for i, word in enumerate(words) if word == name]


def test_small_master_slave_cluster_on_local_machines() -> None:
    run = run_main_program(local_stack("master-slave-async", **SMALL), [])
    commands = local_commands(run)
    assert sorted(commands) == ["broker-a-0", "broker-a-1", "mirror", "ns-1", "rootfs", "ssh-key"]
    assert run.mocks.of_type("aws:ec2/instance:Instance") == []

    # One machine per planned host, each booted from the cached rootfs with its own sshd port.
    expected_ports = {"ns-1": 20022, "broker-a-0": 20100, "broker-a-1": 20101}
    for key, ssh_port in expected_ports.items():
        create, delete = commands[key].inputs["create"], commands[key].inputs["delete"]
        assert argv(create)[:5] == ["python3", "-m", "localhosts", "machine", "create"]
        assert option(create, "--rootfs") == [LOCAL_ROOTFS]
        assert option(create, "--ssh-port") == [str(ssh_port)]
        assert option(create, "--name") == [f"rmq-rocketmq-test-{key}"]
        # delete finds the same machine: same state directory, name and host name.
        assert argv(delete)[3:5] == ["machine", "delete"]
        for flag in ("--state-dir", "--name", "--hostname"):
            assert option(delete, flag) == option(create, flag)
    assert option(commands["ns-1"].inputs["create"], "--port") == ["name server=19876"]
    assert option(commands["broker-a-0"].inputs["create"], "--port") == [
        "broker fast channel=20909",
        "broker listenPort=20911",
        "broker HA=20912",
    ]

    # Deployed exactly as for hosts: SSH to 127.0.0.1:<port> as deploy, with the stack's own key.
    for key, ssh_port in expected_ports.items():
        conn = connection(run.mocks.named(f"rocketmq-{key}-prepare"))
        assert (conn["host"], conn["port"], conn["user"]) == ("127.0.0.1", ssh_port, "deploy")
        assert conn["hostKey"] == LOCAL_HOST_KEY  # as the machine's create printed it
        assert conn["privateKey"] == PRIVATE_KEY

    # A machine made anew (its create prints a new token) gets every script again.
    for name in ("rocketmq-ns-1-prepare", "rocketmq-broker-a-0-install", "rocketmq-namesrv-ns-1"):
        assert run.mocks.named(name).inputs["triggers"] == [
            f"machine booted as 0123456789abcdef; sshd answers\nhost key {LOCAL_HOST_KEY}\n"
        ]

    assert run.outputs["namesrvAddr"] == "127.0.0.1:19876"
    assert run.outputs["nameServers"] == ["127.0.0.1:19876"]
    assert run.outputs["brokers"] == {"broker-a": {"master": "127.0.0.1:20911", "slaves": ["127.0.0.1:20921"]}}
    (namesrv,) = namesrv_commands(run)
    assert "listenPort=19876\n" in namesrv.inputs["stdin"]
    confs = {(c["brokerName"], c["brokerId"]): c for c in map(broker_conf, broker_commands(run))}
    assert confs["broker-a", "0"]["listenPort"] == "20911" and confs["broker-a", "1"]["listenPort"] == "20921"
    assert {c["brokerIP1"] for c in confs.values()} == {"127.0.0.1"}
    assert {c["namesrvAddr"] for c in confs.values()} == {"127.0.0.1:19876"}


def test_release_comes_from_the_mirror_decided_at_deploy_time() -> None:
    run = run_main_program(local_stack("single-master", mirror="https://mirror.example.org/apache"), [])
    mirror = local_commands(run)["mirror"]
    assert option(mirror.inputs["create"], "--mirror") == ["https://mirror.example.org/apache"]
    assert option(mirror.inputs["create"], "--version") == ["5.4.0"]
    assert argv(mirror.inputs["delete"])[3:5] == ["mirror", "stop"]
    # Here the mirror resource answered with the local fallback; installs download from it.
    install = run.mocks.named("rocketmq-broker-a-0-install")
    assert (
        f"ZIP_URL={LOCAL_MIRROR_FALLBACK}/rocketmq/5.4.0/rocketmq-all-5.4.0-bin-release.zip" in install.inputs["stdin"]
    )


def test_private_key_stays_secret() -> None:
    run = run_main_program(local_stack("master-slave-sync", **SMALL), [])
    key_material = PRIVATE_KEY.strip().splitlines()[1]
    key = local_commands(run)["ssh-key"]
    assert key.inputs["logging"] == "stderr"  # the key is stdout: never streamed into the log
    for command in run.commands:
        assert connection(command)["privateKey"] == PRIVATE_KEY  # connection() checks it is secret
        assert key_material not in str(command.inputs.get("stdin", ""))
    for command in local_commands(run).values():
        assert key_material not in json.dumps(command.inputs, default=str)
    assert key_material not in json.dumps(run.outputs)
    assert not any(run.secret_outputs.values())


def test_second_run_registers_identical_commands() -> None:
    first = run_main_program(local_stack("master-slave-async", **SMALL), [])
    second = run_main_program(local_stack("master-slave-async", **SMALL), [])

    def inputs(run: ProgramRun) -> dict[str, str]:
        return {c.name: json.dumps(c.inputs, sort_keys=True, default=str) for c in run.mocks.resources}

    assert inputs(first) == inputs(second)


def test_machine_stays_when_only_broker_settings_change() -> None:
    before = run_main_program(local_stack("master-slave-async", **SMALL), [])
    after = run_main_program(local_stack("master-slave-async", fileReservedTime=24, **SMALL), [])
    old = {c.name: c.inputs for c in before.mocks.of_type(LOCAL_COMMAND_TYPE)}
    assert {c.name: c.inputs for c in after.mocks.of_type(LOCAL_COMMAND_TYPE)} == old


def test_not_root_fails_with_one_line_before_any_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    message = "rocketmq:target local needs root (it boots systemd-nspawn machines, ...)"
    monkeypatch.setattr(local_fleet, "preflight_problem", lambda: message)
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError, match=re.escape(message)):
        run_main_program(local_stack("single-master"), [], mocks=mocks)
    assert not mocks.of_type(LOCAL_COMMAND_TYPE)


def test_the_local_stack_in_the_repository() -> None:
    stack = yaml.safe_load((PROJECT_ROOT / "Pulumi.local.yaml").read_text())["config"]
    cfg = parse_config(stack, secret_keys=frozenset())
    assert cfg.target == "local" and cfg.mode.value == "master-slave-async"
    assert (cfg.heap.name_server, cfg.heap.broker) == ("128m", "256m")
    assert [h.key for h in plan_cluster(cfg).hosts] == ["ns-1", "broker-a-0", "broker-a-1", "proxy-1"]
    assert cfg.proxy is not None and (cfg.proxy.mode, cfg.proxy.hosts) == ("cluster", 1)


def test_the_topology_picture_shows_the_local_ports() -> None:
    cfg = parse_config(local_stack("master-slave-async", **SMALL), secret_keys=frozenset())
    text = mermaid(plan_cluster(cfg), cfg)
    assert "name server :19876" in text
    assert "broker-a/0 ASYNC_MASTER :20911" in text and "broker-a/1 SLAVE :20921" in text


def test_scripts_topology_draws_the_local_stack() -> None:
    script = PROJECT_ROOT / "scripts" / "topology_picture.py"
    result = subprocess.run(
        [sys.executable, str(script), "--project-dir", str(PROJECT_ROOT), "--stack", "local"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ns-1 nspawn machine, ssh 127.0.0.1:20022<br/>name server :19876" in result.stdout
    assert "proxy-1 nspawn machine, ssh 127.0.0.1:20400<br/>proxy gRPC :18081" in result.stdout
