"""A broker group leaves the cluster only drained: the GroupDrain Command under mocks, and its
rendered script run by bash against a stand-in mqadmin that keeps the cluster's answers in files."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from components import rendering
from components.config import parse_config
from components.remote import IGNORE_STDIN
from tests.host_scripts import run_with_stand_ins
from tests.pulumi_harness import run_main_program
from tests.stacks import MODES, hosts_stack

TWO_GROUPS: list[dict[str, Any]] = [
    {"name": "n1", "address": "10.0.0.1", "nameServer": True, "broker": "broker-a/0"},
    {"name": "n2", "address": "10.0.0.2", "broker": "broker-b/0"},
]
THREE_GROUPS: list[dict[str, Any]] = [*TWO_GROUPS, {"name": "n3", "address": "10.0.0.3", "broker": "broker-c/0"}]


@pytest.mark.parametrize("mode", MODES)
def test_drain_runs_after_every_broker_and_only_on_a_change(mode: str) -> None:
    run = run_main_program(hosts_stack(mode), ["sshPrivateKey"])
    drain = run.mocks.named("rocketmq-drain-groups")
    assert drain.inputs["create"] == IGNORE_STDIN  # a new cluster has no group to drain: no JVM on the first up
    assert drain.inputs["update"] == rendering.RUN_STDIN_AS_ROOT
    # Every BrokerPair (so each broker's configure and rolling restart) comes first.
    assert run.mocks.depends_on(drain) == {r.name for r in run.mocks.of_type("rocketmq:index:BrokerPair")}
    admin = run.mocks.named("rocketmq-broker-a-0")  # broker-a's master host: a group that never leaves
    assert drain.inputs["connection"]["value"]["host"] == admin.inputs["connection"]["value"]["host"]


def test_removing_a_group_reruns_the_drain_with_the_groups_that_stay() -> None:
    stacks = [
        hosts_stack("multi-master", hosts, brokerGroups=len(hosts), nameServers=1)
        for hosts in (THREE_GROUPS, TWO_GROUPS)
    ]
    before, after = (run_main_program(stack, ["sshPrivateKey"]) for stack in stacks)
    old, new = (run.mocks.named("rocketmq-drain-groups").inputs["stdin"] for run in (before, after))
    assert "PLANNED_GROUPS=(broker-a broker-b broker-c )" in old
    assert "PLANNED_GROUPS=(broker-a broker-b )" in new


# ------------------------------------------------------------- the script, against a stand-in mqadmin

FAKE_MQADMIN = r"""#!/bin/bash
# Answers as mqadmin does, from files in $STATE; logs every call.
echo "$*" >>"$STATE/calls"
case $1 in
  clusterList)
    echo '#Cluster Name     #Broker Name            #BID  #Addr                  #Version'
    cat "$STATE/cluster" ;;
  brokerConsumeStats)
    left=$(cat "$STATE/unread")
    printf '#Topic  #Group  #Broker Name  #QID  #Broker Offset  #Consumer Offset  #Diff  #LastTime\n'
    printf 'Orders  billing  broker-c  0  100  %d  %d  2026-12-01 10:00:00\n' $((100 - left)) "$left"
    printf '\nDiff Total: %d\n' "$left"
    if [[ -f $STATE/draining ]] && ((left > 0)); then echo $((left - 1)) >"$STATE/unread"; fi ;;
  updateBrokerConfig) echo "update broker config success, $3" ;;
  wipeWritePerm) touch "$STATE/draining"; echo "wipe write perm of broker[$3] in name server[...] OK" ;;
esac
"""


CLUSTER = (
    "DefaultCluster  broker-a  0  10.0.0.1:10911  V5_4_0\n"
    "DefaultCluster  broker-b  0  10.0.0.2:10911  V5_4_0\n"
    "DefaultCluster  broker-c  0  10.0.0.3:10911  V5_4_0\n"
    "DefaultCluster  broker-c  1  10.0.0.4:10911  V5_4_0\n"
    "OtherCluster    broker-z  0  10.0.0.9:10911  V5_4_0\n"
)


def _run_drain(
    tmp_path: Path, *, planned: list[str], unread: int, timeout: int, refresh: int = 0, cluster: str = CLUSTER
) -> subprocess.CompletedProcess[str]:
    state = tmp_path / "state"
    state.mkdir()
    (state / "cluster").write_text(cluster)
    (state / "unread").write_text(f"{unread}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mqadmin").write_text(FAKE_MQADMIN)
    (bin_dir / "runuser").write_text('#!/bin/bash\nshift 3\nexec "$@"\n')  # runuser -u rocketmq -- CMD...
    for tool in ("mqadmin", "runuser"):
        (bin_dir / tool).chmod(0o755)
    cfg = dataclasses.replace(parse_config(hosts_stack("multi-master")), drain_timeout_seconds=timeout)
    script = rendering.render_drain_script(cfg, host_label="n1", namesrv_addr="10.0.0.1:9876", broker_names=planned)
    # The real wait is at least a route refresh plus a margin (seconds); these runs stand in `refresh`.
    refresh_line = f"ROUTE_REFRESH={rendering.route_refresh_wait(cfg)}\n"
    assert refresh_line in script
    script = (
        script.replace(rendering.MQADMIN, str(bin_dir / "mqadmin"))
        .replace(rendering.ADMIN_LOCK, str(tmp_path / "lock"))
        .replace(refresh_line, f"ROUTE_REFRESH={refresh}\n")
    )
    return run_with_stand_ins(script, bin_dir, state)


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "state" / "calls").read_text().splitlines()


def test_a_leaving_group_stops_taking_writes_and_waits_for_its_consumers(tmp_path: Path) -> None:
    result = _run_drain(tmp_path, planned=["broker-a", "broker-b"], unread=2, timeout=60)
    assert result.returncode == 0, result.stderr
    calls = _calls(tmp_path)
    assert "updateBrokerConfig -b 10.0.0.3:10911 -k brokerPermission -v 4 -n 10.0.0.1:9876" in calls
    assert "updateBrokerConfig -b 10.0.0.4:10911 -k brokerPermission -v 4 -n 10.0.0.1:9876" in calls
    assert "wipeWritePerm -b broker-c -n 10.0.0.1:9876" in calls
    assert sum(c.startswith("brokerConsumeStats -b 10.0.0.3:10911") for c in calls) == 3  # 2, 1, then 0 unread
    assert not [c for c in calls if "broker-z" in c or "10.0.0.9" in c or "10.0.0.1:10911" in c]  # others untouched
    assert "broker group broker-c is drained" in result.stdout


def test_a_drained_group_still_waits_for_producers_to_refresh_their_routes(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run_drain(tmp_path, planned=["broker-a", "broker-b"], unread=0, timeout=60, refresh=3)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 3


def test_a_group_that_does_not_drain_keeps_serving_and_up_fails(tmp_path: Path) -> None:
    result = _run_drain(tmp_path, planned=["broker-a", "broker-b"], unread=10**6, timeout=3)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert "broker group broker-c cannot leave cluster DefaultCluster yet" in error
    assert "rocketmq:drainTimeoutSeconds" in error and "billing" in error
    calls = _calls(tmp_path)
    assert "updateBrokerConfig -b 10.0.0.3:10911 -k brokerPermission -v 6 -n 10.0.0.1:9876" in calls
    assert "updateBrokerConfig -b 10.0.0.4:10911 -k brokerPermission -v 6 -n 10.0.0.1:9876" in calls


def test_nothing_leaving_runs_only_clusterlist(tmp_path: Path) -> None:
    result = _run_drain(tmp_path, planned=["broker-a", "broker-b", "broker-c"], unread=5, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path) == ["clusterList -n 10.0.0.1:9876"]


def test_no_answer_from_clusterlist_fails_instead_of_draining_nothing(tmp_path: Path) -> None:
    """Were a failed clusterList read as "no group leaves", Pulumi would then stop the group undrained."""
    result = _run_drain(tmp_path, planned=["broker-a", "broker-b"], unread=5, timeout=60, cluster="")
    assert result.returncode == 1
    assert "does not show broker group broker-a" in result.stderr
    assert _calls(tmp_path) == ["clusterList -n 10.0.0.1:9876"]


def test_drain_timeout_zero_lets_a_group_leave_at_once(tmp_path: Path) -> None:
    result = _run_drain(tmp_path, planned=["broker-a", "broker-b"], unread=5, timeout=0)
    assert result.returncode == 0, result.stderr
    assert _calls(tmp_path) == ["clusterList -n 10.0.0.1:9876"]
    assert "leave without draining" in result.stdout
