"""The picture of the topology: golden Mermaid per mode and target, the SVG through Graphviz, and
scripts/topology_picture.py (what scripts/topology.sh runs) on stack files.

RMQ_UPDATE_GOLDEN=1 pytest tests/test_topology_picture.py rewrites tests/golden/ after a wanted change."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import parse_config
from components.topology import plan_cluster
from components.topology_picture import graphviz_dot, mermaid
from tests.pulumi_harness import PRIVATE_KEY, PROJECT_ROOT, PUBLIC_KEY
from tests.stacks import HOST_KEY, HOSTS_BY_MODE, MODES, aws_stack, hosts_stack

GOLDEN = Path(__file__).parent / "golden"
SCRIPT = PROJECT_ROOT / "scripts" / "topology_picture.py"
ZONES = 3  # scripts/topology_picture.py's default for aws without subnetIds
CIPHERTEXT = "v1:TOPOLOGYTESTCIPHERTEXT+never/printed=="
STACKS = {"aws": aws_stack, "hosts": hosts_stack}


def _picture(target: str, mode: str, **overrides: Any) -> str:
    cfg = parse_config(STACKS[target](mode, **overrides))
    return mermaid(plan_cluster(cfg, zones=ZONES), cfg)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", ["aws", "hosts"])
def test_mermaid_matches_the_golden_text(target: str, mode: str) -> None:
    text = _picture(target, mode)
    golden = GOLDEN / f"topology-{target}-{mode}.mmd"
    if os.environ.get("RMQ_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden.name} differs; if the change is wanted, RMQ_UPDATE_GOLDEN=1"


def test_mermaid_shows_roles_ids_and_replication() -> None:
    text = _picture("aws", "master-slave-sync", brokerGroups=3, slavesPerGroup=2)
    assert text.count("SYNC_MASTER") == 3 and text.count(" SLAVE ") == 6
    assert text.count("==>|sync|") == 6 and "async" not in text
    assert "host_broker_c_0 ==>|sync| host_broker_c_2" in text  # slave <- master
    assert [f'subgraph zone_{z}["zone {z}"]' in text for z in (1, 2, 3)] == [True] * 3


def test_given_subnets_label_the_zones() -> None:
    subnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    cfg = parse_config(aws_stack("master-slave-async", vpcId="vpc-0123456789abcdef0", subnetIds=json.dumps(subnets)))
    text = mermaid(plan_cluster(cfg, zones=len(subnets)), cfg)
    assert 'zone_1["zone 1 (subnet-0123456789abcdef0)"]' in text
    assert 'zone_2["zone 2 (subnet-0123456789abcdef1)"]' in text


def test_colocated_roles_share_one_node() -> None:
    text = _picture("hosts", "master-slave-async")
    assert (
        'host_peer3["peer3 192.0.2.13<br/>name server :9876<br/>broker-a/1 SLAVE :10911<br/>proxy gRPC :8081"]' in text
    )
    assert "peer4 192.0.2.14 (private 10.0.0.14)" in text


def _svg_texts(svg: ET.Element) -> list[str | None]:
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    return [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (package graphviz)")
@pytest.mark.parametrize(("target", "mode"), [("aws", "master-slave-async"), ("hosts", "master-slave-sync")])
def test_dot_renders_to_svg(target: str, mode: str) -> None:
    cfg = parse_config(STACKS[target](mode))
    plan = plan_cluster(cfg, zones=ZONES)
    result = subprocess.run(["dot", "-Tsvg"], input=graphviz_dot(plan, cfg), capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    svg = ET.fromstring(result.stdout)
    texts = _svg_texts(svg)
    for group in plan.groups:
        assert f"{group.master.label} {group.master.role} :10911" in texts
    # Only the replication arrows are visible edges; the grid's are invisible.
    edges = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "edge"]
    assert len(edges) == sum(len(g.slaves) for g in plan.groups) == texts.count(mode.rsplit("-", 1)[1])


# ---------------------------------------------------------------- the CLI on stack files


def _project(tmp_path: Path, config: dict[str, Any], stack: str = "test") -> Path:
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def _run(project: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    if path is not None:
        env["PATH"] = path
    command = [sys.executable, str(SCRIPT), "--project-dir", str(project), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_cli_draws_the_dev_stack_as_the_program_reads_it() -> None:
    result = _run(PROJECT_ROOT, "--stack", "dev")
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    ours = {k: json.dumps(v) if isinstance(v, list) else v for k, v in stack.items() if k.startswith("rocketmq:")}
    keys = {"rocketmq:sshPrivateKey": PRIVATE_KEY, "rocketmq:sshPublicKey": PUBLIC_KEY}
    cfg = parse_config({**ours, **keys, "rocketmq:aclAdminPassword": "not-set-in-the-file"})
    assert result.stdout == mermaid(plan_cluster(cfg, zones=ZONES), cfg)


def test_cli_reads_yaml_lists_and_secure_keys(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("".join(f"{h['address']} {HOST_KEY}\n" for h in HOSTS_BY_MODE["master-slave-async"]))
    config = {
        "aws:region": "eu-west-1",
        "rocketmq:target": "hosts",
        "rocketmq:mode": "master-slave-async",
        "rocketmq:hosts": HOSTS_BY_MODE["master-slave-async"],
        "rocketmq:sshPrivateKey": {"secure": CIPHERTEXT},
        "rocketmq:sshHostKeysFile": str(known_hosts),
    }
    result = _run(_project(tmp_path, config), "--stack", "test")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / "topology-hosts-master-slave-async.mmd").read_text()
    assert CIPHERTEXT not in result.stdout + result.stderr


def test_cli_draws_a_stack_whose_acl_passwords_are_secrets(tmp_path: Path) -> None:
    config = {
        "rocketmq:mode": "multi-master",
        "rocketmq:sshCidrs": ["203.0.113.0/24"],
        "rocketmq:sshPrivateKey": {"secure": CIPHERTEXT},
        "rocketmq:aclAdminPassword": {"secure": CIPHERTEXT + "a"},
        # as `pulumi config set --secret --path 'rocketmq:aclUsers.app.password'` writes it
        "rocketmq:aclUsers": {"app": {"password": {"secure": CIPHERTEXT + "b"}, "topics": {"orders": "PUB"}}},
    }
    result = _run(_project(tmp_path, config), "--stack", "test")
    assert result.returncode == 0, result.stderr
    assert "broker-b" in result.stdout and CIPHERTEXT not in result.stdout + result.stderr
    # Off, the program refuses an admin password: the picture adds none of its own.
    off = _run(
        _project(tmp_path, {**config, "rocketmq:acl": False, "rocketmq:aclAdminPassword": ""}), "--stack", "test"
    )
    assert off.returncode == 2 and off.stderr.startswith("rocketmq:aclUsers: is used only with acl: true"), off.stderr


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"rocketmq:mode": "multi-master", "rocketmq:slavesPerGroup": 1},
            "rocketmq:slavesPerGroup: must be 0 in multi-master mode (use master-slave-async, "
            "master-slave-sync or master-slave-auto for slaves); got 1",
        ),
        ({"rocketmq:brokerGroupz": 2}, "rocketmq:brokerGroupz: is not a setting of this program"),
        ({"rocketmq:sshPrivateKey": PRIVATE_KEY}, "rocketmq:sshPrivateKey: must be stored as a secret"),
        ({"rocketmq:clusterName": {"secure": "v1:abc"}}, "rocketmq:clusterName: is a secret, which the picture"),
    ],
    ids=["bad-count", "unknown-key", "plain-private-key", "other-secret"],
)
def test_cli_refuses_bad_config_in_one_line_naming_the_key(
    tmp_path: Path, config: dict[str, Any], expected: str
) -> None:
    base = {"rocketmq:sshCidrs": ["203.0.113.0/24"], "rocketmq:sshPrivateKey": {"secure": CIPHERTEXT}}
    result = _run(_project(tmp_path, {**base, **config}), "--stack", "test", "--svg", str(tmp_path / "t.svg"))
    assert result.returncode == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == "" and not (tmp_path / "t.svg").exists()
    for secret in (CIPHERTEXT, PRIVATE_KEY.splitlines()[1]):
        assert secret not in result.stdout + result.stderr


def test_cli_names_the_package_when_dot_is_missing(tmp_path: Path) -> None:
    result = _run(PROJECT_ROOT, "--stack", "dev", "--svg", str(tmp_path / "t.svg"), path=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == "topology.sh: --svg needs Graphviz's dot: install the graphviz package\n"
    # Mermaid alone needs nothing.
    assert _run(PROJECT_ROOT, "--stack", "dev", path=str(tmp_path)).returncode == 0


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (package graphviz)")
def test_cli_writes_the_svg(tmp_path: Path) -> None:
    result = _run(PROJECT_ROOT, "--stack", "dev", "--svg", str(tmp_path / "dev.svg"))
    assert result.returncode == 0, result.stderr
    assert "broker-a/0 ASYNC_MASTER :10911" in _svg_texts(ET.parse(tmp_path / "dev.svg").getroot())


def test_cli_names_the_stack_files_when_the_stack_is_unknown() -> None:
    result = _run(PROJECT_ROOT, "--stack", "../etc/passwd")
    assert result.returncode == 2 and "stack files here: dev" in result.stderr


def test_default_zones_follow_the_program() -> None:
    from components.aws_fleet import MAX_ZONES
    from components.cluster import MIN_ZONES

    assert runpy.run_path(str(SCRIPT))["DEFAULT_ZONES"] == MAX_ZONES == ZONES
    assert MIN_ZONES == 2  # --zones offers 2 and 3
