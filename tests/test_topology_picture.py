"""The picture of the topology: golden Mermaid per mode and target, the SVG through Graphviz.

RMQ_UPDATE_GOLDEN=1 pytest tests/test_topology_picture.py rewrites tests/golden/ after a wanted change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_config
from components.topology import plan_cluster
from components.topology_picture import graphviz_dot, mermaid
from tests.stacks import MODES, aws_stack, hosts_stack

GOLDEN = Path(__file__).parent / "golden"
ZONES = 3  # what the program gets from a region: at most aws_fleet.MAX_ZONES
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
    assert 'host_peer3["peer3 192.0.2.13<br/>name server :9876<br/>broker-a/1 SLAVE :10911"]' in text
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
