"""Prints real `pulumi up` figures on systemd-nspawn hosts, side by side with the same cluster
installed by hand (needs root; figures, not a test).

For single-master and master-slave-async (3 name servers, 2 groups x 1 slave), each on fresh
hosts:
- baseline: benchmarks/manual-install.sh on every host at once over SSH (the guide's steps: the
  release from the same mirror, verified and unzipped, the same broker.conf, name servers
  started, brokers started once the name servers accept connections), until `mqadmin
  clusterList` shows every broker: the physical limit for this topology on these hosts;
- `pulumi up` from empty until the program's own checks pass, its ratio to the baseline
  (target: at most 1.3), a no-change `pulumi up` (target: under 10 s), and each host's peak
  memory.
Then the larger cluster's `up` over the single-master one (target: at most 1.5).

Usage: sudo venv/bin/python benchmarks/e2e_up.py
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.config import parse_config
from components.config_model import DEFAULT_VERSION
from components.rendering import render_broker_conf
from components.topology import namesrv_addr, plan_cluster
from tests.e2e.cluster_harness import PulumiStack, cluster_rows, copy_program, engine_environment, start_mirror
from tests.e2e.suite_stacks import HOST_NAMES, LAYOUTS, expected_brokers, stack_config
from tests.e2e.testhosts import TestNetwork

MANUAL_INSTALL = Path(__file__).with_name("manual-install.sh")
# Apache's tools.sh needs JAVA_HOME; the hosts' image has this JDK (as manual-install.sh uses).
MANUAL_MQADMIN = ["env", "JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64", "/opt/rocketmq-manual/bin/mqadmin"]


def baseline(mode: str) -> float:
    """Seconds from the first SSH command to a clusterList showing every broker, by hand."""
    with (
        tempfile.TemporaryDirectory(prefix="rmq-bench-") as tmp,
        TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as net,
    ):
        mirror = start_mirror(net, Path(tmp) / "mirror", [DEFAULT_VERSION])
        raw = stack_config(mode, net, mirror, DEFAULT_VERSION, fast_route_refresh=False)
        cfg = parse_config({**raw, "sshPrivateKey": net.private_key_path.read_text()})
        plan = plan_cluster(cfg)
        address = {spec.name: spec.address for spec in cfg.hosts}
        name_servers = namesrv_addr([(address[h.key], h.name_server_port) for h in plan.name_server_hosts])
        script = MANUAL_INSTALL.read_text()

        def install(planned_key: str) -> None:
            planned = plan.host(planned_key)
            role = "both" if planned.name_server and planned.broker else "namesrv" if planned.name_server else "broker"
            conf = ""
            if planned.broker is not None:
                text = render_broker_conf(cfg, planned.broker, address[planned.key], name_servers)
                conf = base64.b64encode(text.encode()).decode()
            command = shlex.join(["sudo", "-n", "bash", "-s", "--", cfg.release.zip_url, name_servers, role, conf])
            net.ssh(planned.key, command, input=script, timeout=600, check=True)

        expected = expected_brokers(net, mode)
        probe = sorted(expected)[0][2].split(":")[0]
        started = time.perf_counter()
        with ThreadPoolExecutor(len(plan.hosts)) as pool:
            list(pool.map(install, [h.key for h in plan.hosts]))
        while True:
            answer = net.ssh(probe, shlex.join([*MANUAL_MQADMIN, "clusterList", "-n", name_servers])).stdout
            if {(r.broker_name, r.broker_id, r.address) for r in cluster_rows(answer) or []} == expected:
                return round(time.perf_counter() - started, 1)
            if time.perf_counter() - started > 600:
                raise TimeoutError(f"the manual cluster never showed {sorted(expected)}; last:\n{answer}")


def measure(mode: str, env: dict[str, str]) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="rmq-bench-") as tmp,
        TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as net,
    ):
        work = Path(tmp)
        mirror = start_mirror(net, work / "mirror", [DEFAULT_VERSION])
        stack = PulumiStack(net, env, copy_program(work / "program"), work / "state", f"bench-{mode}")
        stack.init(
            stack_config(mode, net, mirror, DEFAULT_VERSION, fast_route_refresh=False), net.private_key_path.read_text()
        )
        for host in net.hosts:
            net.reset_peak_memory(host)
        trace = work / "trace.json"  # holds every resource's inputs, secrets too: read, then gone with tmp
        start = time.perf_counter()
        stack.up("--otel-traces", f"file://{trace}")
        healthy = time.perf_counter() - start
        steps = timeline(trace)
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
            "timeline": steps,
        }


# The resource a Create is for, from the request the provider logs: its URN ends in "::<name>".
CREATED_URN = re.compile(r'urn:\\*"urn:pulumi:[^"\\]*::(?P<name>[^":\\]+)\\*"')


def timeline(trace: Path) -> list[str]:
    """Each command's Create from the engine's OpenTelemetry trace (--otel-traces): seconds from the
    first span to its start, its duration, and the resource's name, in start order."""
    spans = []
    for line in trace.read_text().splitlines():
        for resource in json.loads(line).get("resourceSpans", []) if line.strip() else []:
            for scope in resource.get("scopeSpans", []):
                spans.extend(scope.get("spans", []))
    if not spans:
        return []
    first = min(int(span["startTimeUnixNano"]) for span in spans)
    steps = []
    for span in spans:
        if span["name"] != "/pulumirpc.ResourceProvider/Create":  # the provider's side of the call
            continue
        messages = " ".join(a["value"].get("stringValue", "") for a in span["attributes"] if a["key"] == "Msg")
        created = CREATED_URN.search(messages)
        start = (int(span["startTimeUnixNano"]) - first) / 1e9
        took = (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e9
        steps.append((start, f"{start:6.1f}s +{took:5.1f}s {created['name'] if created else '?'}"))
    return [text for _, text in sorted(steps)]


def main() -> None:
    env = engine_environment()
    results = []
    for mode in ("single-master", "master-slave-async"):
        by_hand = baseline(mode)
        result = measure(mode, env)
        result["baseline_s"] = by_hand
        result["up_over_baseline"] = round(float(result["up_to_healthy_s"]) / by_hand, 2)  # type: ignore[arg-type]
        result["targets"] = {"up_over_baseline": 1.3, "no_change_up_s": 10}
        steps = result.pop("timeline")
        print(json.dumps(result), flush=True)
        print(f"{mode}: where the first up's time goes (each command's create, from the engine's trace)")
        for step in steps:  # type: ignore[attr-defined]
            print(f"  {step}", flush=True)
        results.append(result)
    ratio = float(results[1]["up_to_healthy_s"]) / float(results[0]["up_to_healthy_s"])  # type: ignore[arg-type]
    print(json.dumps({"larger_over_single": round(ratio, 2), "target_at_most": 1.5}))


if __name__ == "__main__":
    main()
