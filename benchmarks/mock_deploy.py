"""Prints how long the program takes under Pulumi mocks for the largest supported topology.

Usage: python benchmarks/mock_deploy.py [--groups 10 --slaves 2 --name-servers 3 --repeat 3]
A figure, not a test: target is under 10 s per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pulumi_harness import run_main_program
from tests.stacks import aws_stack, hosts_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--slaves", type=int, default=2)
    parser.add_argument("--name-servers", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    hosts = [
        {"name": f"ns{i + 1}", "address": f"10.9.0.{i + 1}", "nameServer": True} for i in range(args.name_servers)
    ] + [
        {"name": f"b{g}-{i}", "address": f"10.9.{g + 1}.{i + 1}", "broker": f"broker-{chr(97 + g)}/{i}"}
        for g in range(args.groups)
        for i in range(args.slaves + 1)
    ]
    shape = {"brokerGroups": args.groups, "slavesPerGroup": args.slaves, "nameServers": args.name_servers}
    stacks = {
        "aws": aws_stack("master-slave-async", **shape),
        "hosts": hosts_stack("master-slave-async", hosts=hosts, **shape),
    }
    print(f"topology: {args.name_servers} name servers, {args.groups} groups x (1 master + {args.slaves} slaves)")
    for target, stack in stacks.items():
        timings = []
        resources = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            run = run_main_program(stack, ["sshPrivateKey"])
            timings.append(time.perf_counter() - start)
            resources = len(run.mocks.resources)
        print(
            json.dumps(
                {
                    "target": target,
                    "resources": resources,
                    "seconds_median": round(statistics.median(timings), 3),
                    "seconds_max": round(max(timings), 3),
                    "runs": args.repeat,
                    "under_10s": max(timings) < 10,
                }
            )
        )


if __name__ == "__main__":
    main()
