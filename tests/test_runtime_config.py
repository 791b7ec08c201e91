"""Broker settings a running broker takes without a restart: the configure step's own bash decides
which broker.conf changes it applies with `mqadmin updateBrokerConfig` and which need a restart."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from components import namesrv_rendering, rendering
from components.config import parse_config
from components.topology import plan_cluster
from tests.stacks import hosts_stack

NAMESRV = "10.0.0.1:9876"


def _conf(**overrides: Any) -> str:
    cfg = parse_config(hosts_stack("master-slave-async", **overrides))
    return rendering.render_broker_conf(cfg, plan_cluster(cfg).broker_nodes[0], "10.0.0.9", NAMESRV)


def _runtime_changes(tmp_path: Path, old: str, new: str) -> tuple[int, list[str]]:
    """Runs the rendered runtime_changes function on two broker.conf texts."""
    lib = tmp_path / "runtime.sh"
    lib.write_text(rendering.render("_runtime_config.sh.j2", runtime_properties=rendering.RUNTIME_BROKER_PROPERTIES))
    (tmp_path / "old.conf").write_text(old)
    (tmp_path / "new.conf").write_text(new)
    result = subprocess.run(
        ["bash", "-c", 'set -euo pipefail; . "$1"; runtime_changes "$2" "$3"', "_", str(lib), "old.conf", "new.conf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert not result.stderr, result.stderr
    return result.returncode, result.stdout.splitlines()


def test_retention_changes_are_applied_at_runtime(tmp_path: Path) -> None:
    old = _conf()
    new = _conf(fileReservedTime=24, deleteWhen="03;15")
    assert _runtime_changes(tmp_path, old, new) == (0, ["deleteWhen=03;15", "fileReservedTime=24"])


def test_a_runtime_property_added_or_changed_in_broker_properties(tmp_path: Path) -> None:
    old = _conf()
    new = _conf(brokerProperties='{"diskMaxUsedSpaceRatio": "80", "slaveReadEnable": "false"}')
    assert _runtime_changes(tmp_path, old, new) == (0, ["diskMaxUsedSpaceRatio=80", "slaveReadEnable=false"])


def test_no_difference_but_comments_applies_nothing(tmp_path: Path) -> None:
    old = _conf()
    assert _runtime_changes(tmp_path, "# another comment\n\n" + old, old) == (0, [])


@pytest.mark.parametrize(
    "new_overrides",
    [
        {"flushDiskType": "SYNC_FLUSH"},  # read once, at start
        {"brokerProperties": '{"maxMessageSize": "8388608"}'},
        {"fileReservedTime": "24", "brokerProperties": '{"sendMessageThreadPoolNums": "4"}'},  # one needs a restart
    ],
)
def test_a_property_read_at_start_needs_a_restart(tmp_path: Path, new_overrides: dict[str, str]) -> None:
    code, _ = _runtime_changes(tmp_path, _conf(), _conf(**new_overrides))
    assert code == 1


def test_a_removed_property_needs_a_restart(tmp_path: Path) -> None:
    """RocketMQ's default comes back only at a start: removing a line is no runtime change."""
    old = _conf(brokerProperties='{"diskMaxUsedSpaceRatio": "80"}')
    code, _ = _runtime_changes(tmp_path, old, _conf())
    assert code == 1


def test_only_the_broker_script_applies_settings_at_runtime() -> None:
    cfg = parse_config(hosts_stack("master-slave-async"))
    node = plan_cluster(cfg).broker_nodes[0]
    broker = rendering.render_broker_script(cfg, node, "n1", "10.0.0.9", NAMESRV)
    assert "RUNTIME_CONF=/etc/rocketmq/broker.conf" in broker
    assert 'updateBrokerConfig -b "$BROKER_ENDPOINT"' in broker
    for key in rendering.RUNTIME_BROKER_PROPERTIES:
        assert f" {key} " in broker.split("RUNTIME_PROPERTIES=", 1)[1].splitlines()[0]
    namesrv = namesrv_rendering.render_namesrv_script(cfg, "n1", "10.0.0.9")
    assert "updateBrokerConfig" not in namesrv and "RUNTIME_CONF" not in namesrv


def _apply(tmp_path: Path, changes: str, shown_from_round: int) -> subprocess.CompletedProcess[str]:
    """Runs the rendered apply_at_runtime against a stand-in mqadmin whose broker shows the new
    values from its ``shown_from_round``-th getBrokerConfig on (0: never)."""
    lib = tmp_path / "runtime.sh"
    lib.write_text(rendering.render("_runtime_config.sh.j2", runtime_properties=rendering.RUNTIME_BROKER_PROPERTIES))
    stand_ins = f"""
BROKER_ENDPOINT=10.0.0.9:10911
log() {{ echo "LOG $*" >&2; }}
mqadmin() {{
  echo "$*" >>calls
  if [[ $1 == getBrokerConfig ]]; then
    reads=$(grep -c '^getBrokerConfig' calls)
    if (({shown_from_round} > 0 && reads >= {shown_from_round})); then echo 'fileReservedTime = 24'; fi
    echo 'deleteWhen = 04'
  fi
}}
"""
    script = f'set -euo pipefail\n. "$1"\n{stand_ins}\nRUNTIME_APPLY_PAUSE=0\napply_at_runtime "$2"'
    return subprocess.run(
        ["bash", "-c", script, "_", str(lib), changes], cwd=tmp_path, capture_output=True, text=True, check=False
    )


def test_a_runtime_setting_the_broker_shows_late_is_set_again_not_restarted(tmp_path: Path) -> None:
    done = _apply(tmp_path, "fileReservedTime=24", shown_from_round=2)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls.count("updateBrokerConfig -b 10.0.0.9:10911 -k fileReservedTime -v 24") == 2
    assert "round 1 of 3" in done.stderr and "round 2" not in done.stderr


def test_a_runtime_setting_never_shown_leaves_the_restart_to_the_rollout(tmp_path: Path) -> None:
    done = _apply(tmp_path, "fileReservedTime=24", shown_from_round=0)
    assert done.returncode == 1
    assert "does not show fileReservedTime=24 after updateBrokerConfig (round 3 of 3)" in done.stderr
    assert (tmp_path / "calls").read_text().count("getBrokerConfig") == 3
