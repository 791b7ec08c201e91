"""Prints real `pulumi up` figures on systemd-nspawn hosts (needs root; a figure, not a test).

For single-master and master-slave-async (2 groups x 1 slave, 3 name servers): seconds from
`pulumi up` start to a healthy cluster (the program's own checks pass), seconds of a no-change
`pulumi up`, and each host's peak memory. Hosts are provisioned in parallel, so the larger
cluster should take at most 1.5x the single one and a no-change up under 20 s.

Usage: sudo venv/bin/python benchmarks/e2e_up.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.config import DEFAULT_VERSION
from tests.e2e.cluster_harness import PulumiStack, copy_program, engine_environment, start_mirror
from tests.e2e.test_cluster_e2e import HOST_NAMES, LAYOUTS, stack_config
from tests.e2e.testhosts import TestNetwork


def measure(mode: str, env: dict[str, str]) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="rmq-bench-") as tmp,
        TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as net,
    ):
        work = Path(tmp)
        mirror = start_mirror(net, work / "mirror", [DEFAULT_VERSION])
        stack = PulumiStack(net, env, copy_program(work / "program"), work / "state", f"bench-{mode}")
        stack.init(stack_config(mode, net, mirror, DEFAULT_VERSION), net.private_key_path.read_text())
        for host in net.hosts:
            net.reset_peak_memory(host)
        start = time.perf_counter()
        stack.up()
        healthy = time.perf_counter() - start
        start = time.perf_counter()
        stack.up("--expect-no-changes")
        no_change = time.perf_counter() - start
        used = {p["host"] for p in LAYOUTS[mode]}
        peak = {h.name: round(net.peak_memory_bytes(h) / 2**20) for h in net.hosts if h.name in used}
        stack.run("destroy", "--yes", "--skip-preview", "--stack", stack.name)
        return {
            "mode": mode,
            "hosts": len(used),
            "up_to_healthy_s": round(healthy, 1),
            "no_change_up_s": round(no_change, 1),
            "peak_memory_mib": peak,
        }


def main() -> None:
    env = engine_environment()
    results = [measure(mode, env) for mode in ("single-master", "master-slave-async")]
    for result in results:
        print(json.dumps(result))
    ratio = float(results[1]["up_to_healthy_s"]) / float(results[0]["up_to_healthy_s"])  # type: ignore[arg-type]
    print(json.dumps({"larger_over_single": round(ratio, 2), "target_at_most": 1.5}))


if __name__ == "__main__":
    main()
