"""Prints what changing a running cluster costs (needs root; figures, not a test).

With a producer (20 keyed messages a second, RocketMQ's retries) and a consumer running through
each change, per change: wall time of `pulumi up`, the most brokers down at once (clusterList
sampled every 0.5 s), messages sent, acknowledged, lost and duplicated, and failed sends.
- master-slave-async, 3 name servers, 2 groups x 1 slave: a setting brokers take at runtime, a
  setting read at start (rolling restart), a fourth name server, a second slave per group and
  its removal, a third group, that group drained and removed;
- multi-master, 2 masters: RocketMQ 5.4.0 to 5.5.0 and back.
Also the first `up` of the async cluster on fresh hosts, with this checkout and, given
--baseline REV, with that revision's program (from `git archive`), and their ratio.

Usage: sudo venv/bin/python benchmarks/e2e_day2.py [--baseline REV]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.config_model import DEFAULT_VERSION
from tests.e2e import rocketmq_dist
from tests.e2e.cluster_harness import (
    PROJECT_ROOT,
    PulumiStack,
    copy_program,
    create_topic,
    engine_environment,
    start_mirror,
)
from tests.e2e.scale_scenario import RunningCluster
from tests.e2e.suite_stacks import (
    ADDED_SLAVES,
    HOST_NAMES,
    SCALE_OUT,
    broker_properties,
    expected_brokers,
    placed,
    stack_config,
    stack_hosts,
)
from tests.e2e.testhosts import TestNetwork
from tests.e2e.traffic import ChangeUnderTraffic

TOPIC = "BENCH_DAY2"
UPGRADE = "5.5.0"  # refused with slaves (apache/rocketmq#10284), so multi-master goes there and back


def _stack(net: TestNetwork, work: Path, env: dict[str, str], mode: str, root: Path = PROJECT_ROOT) -> PulumiStack:
    return PulumiStack(net, env, copy_program(work / "program", root=root), work / "state", f"bench-{mode}")


def first_up(env: dict[str, str], root: Path) -> float:
    """Seconds of the first `up` of the async cluster on fresh hosts, with the program at `root`."""
    mode = "master-slave-async"
    with (
        tempfile.TemporaryDirectory(prefix="rmq-day2-") as tmp,
        TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as net,
    ):
        work = Path(tmp)
        mirror = start_mirror(net, work / "mirror", [DEFAULT_VERSION])
        stack = _stack(net, work, env, mode, root)
        stack.init(
            stack_config(mode, net, mirror, DEFAULT_VERSION, fast_route_refresh=False), net.private_key_path.read_text()
        )
        started = time.perf_counter()
        stack.up()
        return round(time.perf_counter() - started, 1)


def _figures(change: ChangeUnderTraffic) -> dict[str, Any]:
    t = change.traffic
    return {
        "change": change.name,
        "up_s": round(change.seconds, 1),
        "most_brokers_down_at_once": change.most_down_at_once,
        "most_brokers_stopped_at_once": change.most_stopped_at_once,
        "sent": t.sent,
        "acked": t.acked,
        "lost": t.lost,
        "duplicates": t.duplicates,
        "failed_sends": t.failed,
    }


def _running(
    net: TestNetwork, work: Path, env: dict[str, str], mode: str, *, versions: list[str], classpath: str
) -> RunningCluster:
    """A fresh cluster of `mode` on `versions[0]`, with the benchmark's topic."""
    mirror = start_mirror(net, work / "mirror", versions)
    stack = _stack(net, work, env, mode)
    stack.init(stack_config(mode, net, mirror, versions[0], fast_route_refresh=False), net.private_key_path.read_text())
    stack.up()
    expected = expected_brokers(net, mode)
    namesrv = stack.outputs()["namesrvAddr"]
    probe = net.host(sorted(expected)[0][2].split(":")[0])
    create_topic(net, probe, namesrv, "DefaultCluster", TOPIC)
    return RunningCluster(net, stack, probe, namesrv, classpath, TOPIC, expected)


def async_changes(env: dict[str, str], classpath: str) -> list[dict[str, Any]]:
    mode = "master-slave-async"
    with (
        tempfile.TemporaryDirectory(prefix="rmq-day2-") as tmp,
        TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as net,
    ):
        cluster = _running(net, Path(tmp), env, mode, versions=[DEFAULT_VERSION], classpath=classpath)

        def new_topic_route() -> None:  # the new group gets the topic's queues too
            create_topic(net, cluster.probe, cluster.namesrv, "DefaultCluster", TOPIC)

        properties = broker_properties(mode, fast_route_refresh=False)
        with_ns4 = [{**h, "nameServer": True} if h["name"] == "n4" else h for h in stack_hosts(mode, net)]
        grown = with_ns4 + placed(net, SCALE_OUT[mode])
        with_slaves = with_ns4 + placed(net, ADDED_SLAVES[mode])
        changes = [
            cluster.change("runtime setting (fileReservedTime)", {"fileReservedTime": 24}),
            cluster.change(
                "setting read at start (maxMessageSize)",
                {"brokerProperties": {**properties, "maxMessageSize": "4194304"}},
            ),
            cluster.change("fourth name server", {"nameServers": 4, "hosts": with_ns4}),
            cluster.change("a second slave per group", {"slavesPerGroup": 2, "hosts": with_slaves}),
            cluster.change("those slaves removed", {"slavesPerGroup": 1, "hosts": with_ns4}),
            cluster.change("third group added", {"brokerGroups": 3, "hosts": grown}, then=new_topic_route),
            cluster.change("third group drained and removed", {"brokerGroups": 2, "hosts": with_ns4}),
        ]
        return [_figures(c) for c in changes]


def version_changes(env: dict[str, str], classpath: str) -> list[dict[str, Any]]:
    mode = "multi-master"
    with (
        tempfile.TemporaryDirectory(prefix="rmq-day2-") as tmp,
        TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as net,
    ):
        cluster = _running(net, Path(tmp), env, mode, versions=[DEFAULT_VERSION, UPGRADE], classpath=classpath)
        changes = [cluster.change(f"multi-master to {v}", {"version": v}) for v in (UPGRADE, DEFAULT_VERSION)]
        return [_figures(c) for c in changes]


def _tree_of(revision: str, into: Path) -> Path:
    """The repository's files at `revision` (git archive), to deploy that revision's program."""
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", "--format=tar", revision], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision whose first up to compare with this checkout's")
    args = parser.parse_args()
    env = engine_environment()
    classpath = rocketmq_dist.build_client(DEFAULT_VERSION)
    for result in [*async_changes(env, classpath), *version_changes(env, classpath)]:
        print(json.dumps(result), flush=True)
    figures: dict[str, Any] = {"first_up_s": first_up(env, PROJECT_ROOT)}
    if args.baseline:
        with tempfile.TemporaryDirectory(prefix="rmq-day2-base-") as tree:
            figures["baseline"] = args.baseline
            figures["baseline_first_up_s"] = first_up(env, _tree_of(args.baseline, Path(tree)))
        figures["growth"] = round(figures["first_up_s"] / figures["baseline_first_up_s"] - 1, 3)
        figures["growth_at_most"] = 0.10
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
