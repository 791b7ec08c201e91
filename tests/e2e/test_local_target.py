"""Real end-to-end of target local: the README's main command, `scripts/pulumi.sh up` of the
repository's local stack (in a copy of the program, with the real Pulumi engine), which boots its own systemd-nspawn machines on this machine and deploys RocketMQ onto
them; RocketMQ's own client produces and consumes 1,000 messages through namesrvAddr on
127.0.0.1, and RocketMQ 5's gRPC SDK 1,000 more through the proxy machine; a machine rebooted from inside comes back; a second `up` changes nothing; `destroy`
leaves no machine, process, mount, cgroup, namespace or file behind.

Run it alone (machines share this machine's loopback ports), under the e2e lock:
    flock /tmp/rmq-e2e.lock pytest -m e2e tests/e2e/test_local_target.py -p no:cacheprovider -s
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from components.local_fleet import LOCAL_MIRROR_PORT, state_root
from components.topology import LOCAL_ADDRESS
from localhosts import local_machines, machine
from localhosts.local_machines import CGROUP_PARENT, port_taken
from localhosts.release_dist import vendor_dir
from localhosts.system import CGROUP_ROOT, mountpoints
from tests.e2e import rocketmq_dist
from tests.e2e.cluster_harness import PROJECT_ROOT, PulumiStack, copy_program, engine_environment
from tests.e2e.testhosts import DEFAULT_PREFIX
from tests.e2e.traffic import consume, produce, sdk_round_trip

pytestmark = pytest.mark.e2e

STACK = "e2elocal"  # its own machine names and state; the ports are the local stack's
MESSAGES = 1000
MACHINES = ("ns-1", "broker-a-0", "broker-a-1", "proxy-1")
PORTS = (20022, 20100, 20101, 20400, 19876, 20909, 20911, 20912, 20919, 20921, 20922, 18080, 18081)


def _require_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("target local needs root")
    subprocess.run(["bash", str(PROJECT_ROOT / "tests/e2e/setup-host-tools.sh")], check=True, capture_output=True)


def _specs(stack_id: str) -> dict[str, machine.MachineSpec]:
    root = state_root(stack_id)
    return {
        key: local_machines.spec_for(
            root / "machines" / key, local_machines.machine_name(stack_id, key), key, Path("/nonexistent")
        )
        for key in MACHINES
    }


def _pids_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _netns_outside_test_networks() -> set[str]:
    """This machine's network namespaces but the test networks' (another test worker's come and go)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {
        line.split()[0] for line in listed.splitlines() if line.strip() and not line.startswith(f"{DEFAULT_PREFIX}-")
    }


def _in_machine(spec: machine.MachineSpec, *argv: str) -> str:
    leader = machine.leader_pid(spec)
    assert leader, f"{spec.name} is not running"
    result = subprocess.run(
        ["nsenter", "-t", str(leader), "-a", "--", *argv], capture_output=True, text=True, timeout=180, check=False
    )
    return result.stdout + result.stderr


def test_local_stack_lifecycle(tmp_path: Path) -> None:
    _require_root_and_tools()
    taken = [port for port in (*PORTS, LOCAL_MIRROR_PORT) if port_taken(port)]
    if taken:
        pytest.skip(f"ports of the local stack are in use (a local stack runs?): {taken}")
    env = {**engine_environment(), "RMQ_VENDOR_DIR": str(vendor_dir())}
    project = copy_program(tmp_path / "program", as_cloned=True)
    shutil.copyfile(PROJECT_ROOT / "Pulumi.local.yaml", project / f"Pulumi.{STACK}.yaml")
    # scripts/pulumi.sh makes ./venv, checks root, installs the host tools and creates the stack.
    stack = PulumiStack(None, env, project, tmp_path / "state", STACK, cli=(str(project / "scripts" / "pulumi.sh"),))
    stack.state.mkdir(parents=True)
    stack_id = f"rocketmq-{STACK}"
    specs = _specs(stack_id)
    netns_before = _netns_outside_test_networks()
    classpath = rocketmq_dist.build_client(rocketmq_dist.DEFAULT_VERSION)
    try:
        # -- up from empty: machines, key, mirror, then the cluster
        started = time.monotonic()
        up = stack.up()
        first_up = time.monotonic() - started
        log = up.stdout + up.stderr
        # This machine reaches no Apache mirror: the release comes from a local one, said in one line.
        assert "does not answer; serving RocketMQ 5.4.0 from a local mirror at http://127.0.0.1:19800" in log, log
        outputs = stack.outputs()
        namesrv = outputs["namesrvAddr"]
        assert namesrv == f"{LOCAL_ADDRESS}:19876"
        assert outputs["brokers"] == {"broker-a": {"master": "127.0.0.1:20911", "slaves": ["127.0.0.1:20921"]}}
        supervisors = {key: machine.supervisor_pid(spec) for key, spec in specs.items()}
        assert all(supervisors.values()), supervisors
        assert "sshPrivateKey" not in stack.stack_file.read_text()
        assert "PRIVATE KEY" not in log

        # -- RocketMQ's own tools: the cluster as planned, then 1,000 messages through namesrvAddr
        mqadmin = ("runuser", "-u", "rocketmq", "--", "/usr/local/libexec/rocketmq/mqadmin")
        cluster = _in_machine(specs["ns-1"], *mqadmin, "clusterList", "-n", namesrv)
        assert re.search(r"broker-a\s+0\s+127\.0\.0\.1:20911", cluster), cluster
        assert re.search(r"broker-a\s+1\s+127\.0\.0\.1:20921", cluster), cluster
        topic = _in_machine(
            specs["ns-1"], *mqadmin, "updateTopic", "-n", namesrv, "-c", "DefaultCluster", "-t", "E2E_LOCAL"
        )
        assert "success" in topic.lower(), topic
        produce(None, classpath, namesrv, "E2E_LOCAL", MESSAGES)
        consume(None, classpath, namesrv, "E2E_LOCAL", group="e2e-local", count=MESSAGES)

        # -- RocketMQ 5's gRPC SDK, through the proxy machine on 127.0.0.1
        assert outputs["proxyEndpoints"] == [f"{LOCAL_ADDRESS}:18081"]
        topic = _in_machine(
            specs["ns-1"], *mqadmin, "updateTopic", "-n", namesrv, "-c", "DefaultCluster", "-t", "E2E_LOCAL_SDK"
        )
        assert "success" in topic.lower(), topic
        trip = sdk_round_trip(None, outputs["proxyEndpoints"], "E2E_LOCAL_SDK", group="e2e-local-sdk", count=MESSAGES)
        assert (trip.sent, trip.failed, trip.received) == (MESSAGES, 0, MESSAGES), trip.output

        # -- `systemctl reboot` inside a machine: its supervisor boots it again, the slave comes back
        slave = specs["broker-a-1"]
        old_leader = machine.leader_pid(slave)
        _in_machine(slave, "systemctl", "reboot")
        _wait(lambda: machine.leader_pid(slave) not in (None, old_leader), 60, "broker-a-1 to boot again")
        local_machines.wait_for_sshd(slave, 20101)
        _wait(
            lambda: bool(
                re.search(
                    r"broker-a\s+1\s+127\.0\.0\.1:20921",
                    _in_machine(specs["ns-1"], *mqadmin, "clusterList", "-n", namesrv),
                )
            ),
            180,
            "broker-a/1 to register again after the reboot",
        )
        assert machine.boots(slave) == 2 and machine.supervisor_pid(slave) == supervisors["broker-a-1"]

        # -- a second up with no change runs nothing
        started = time.monotonic()
        again = stack.up()
        no_change_up = time.monotonic() - started
        assert re.search(r"\d+ unchanged", again.stdout), again.stdout
        assert not re.search(r"\b(created|updated|replaced|deleted)\b", again.stdout), again.stdout
        assert {key: machine.supervisor_pid(spec) for key, spec in specs.items()} == supervisors
        print(f"\nlocal target: first up {first_up:.0f}s, no-change up {no_change_up:.1f}s")
    finally:
        destroyed = stack.run("destroy", "--yes", "--skip-preview", "--stack", STACK, check=False)

    # -- destroy leaves nothing: process, mount, cgroup, namespace, port or file
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    root = state_root(stack_id)
    assert not _pids_mentioning(str(root)), "processes of the local stack survived destroy"
    assert not [m for m in mountpoints() if m.startswith(str(root))]
    for hierarchy in machine.CGROUP_HIERARCHIES:
        parent = CGROUP_ROOT / hierarchy / CGROUP_PARENT
        assert not list(parent.glob(f"rmq-{stack_id}-*")), f"cgroups left in {parent}"
    assert _netns_outside_test_networks() == netns_before
    assert not [port for port in (*PORTS, LOCAL_MIRROR_PORT) if port_taken(port)]
    assert not root.exists() or not [p for p in root.rglob("*") if not p.is_dir()], list(root.rglob("*"))


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(1)
