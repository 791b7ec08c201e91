"""Drives the real Pulumi engine against systemd-nspawn test hosts, and checks the cluster with
RocketMQ's own tools. Shared by the e2e suite and benchmarks/e2e_up.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.rendering import CLUSTER_INFO, LOG_DIR, MQADMIN
from components.tls_settings import CA_FILE, CLUSTER_INFO_CA_VARIABLE
from tests.e2e import rocketmq_dist
from tests.e2e.testhosts import Host, SSHResult, TestNetwork

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# scripts/ and localhosts/: target local builds its rootfs and boots its machines with them.
PROGRAM_FILES = ("__main__.py", "Pulumi.yaml", "requirements.txt", "components", "templates", "localhosts", "scripts")
MIRROR_PORT = 8080
PASSPHRASE = "e2e-only-passphrase"  # protects only this throwaway local state


def engine_environment() -> dict[str, str]:
    """Builds (or reuses) the Pulumi engine and returns the environment that puts it first."""
    # Always the engine built from upstream sources, never whatever Pulumi this machine has.
    build = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "build-engine.sh")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "RMQ_BUILD_ENGINE": "1"},
    )
    bin_dir = Path(build.stdout.strip().splitlines()[-1])
    dumped = subprocess.run(
        ["bash", "-c", '. "$1" && env -0', "_", str(bin_dir.parent / "env.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    env = dict(item.split("=", 1) for item in dumped.stdout.split("\0") if "=" in item)
    env["PULUMI_CONFIG_PASSPHRASE"] = PASSPHRASE
    return env


def copy_program(target: Path, *, as_cloned: bool = False, root: Path = PROJECT_ROOT) -> Path:
    """The program as a user has it (from ``root``: this checkout, or another revision's tree).
    By default its virtualenv is the one running the tests; ``as_cloned`` keeps Pulumi.yaml as
    it is (scripts/pulumi.sh then makes ./venv, as for a user) and brings the host-tools
    installer that scripts/pulumi.sh runs for target local."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (*PROGRAM_FILES, *(("tests/e2e/setup-host-tools.sh",) if as_cloned else ())):
        source = root / name
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / name)
    if not as_cloned:
        project = yaml.safe_load((target / "Pulumi.yaml").read_text())
        project["runtime"]["options"]["virtualenv"] = sys.prefix
        (target / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return target


@dataclass
class Mirror:
    """An Apache-layout mirror served over HTTP from the control namespace."""

    root: Path
    url: str
    dists: dict[str, rocketmq_dist.Dist]

    def corrupt(self, version: str) -> None:
        zip_path = self.dists[version].zip_path
        data = bytearray(zip_path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        zip_path.write_bytes(bytes(data))

    def repair(self, version: str) -> None:
        self.dists[version] = rocketmq_dist.build_dist(version, out=self.root)
        assert rocketmq_dist.sha512_of(self.dists[version].zip_path) == self.dists[version].sha512


def start_mirror(net: TestNetwork, root: Path, versions: Sequence[str]) -> Mirror:
    dists = {v: rocketmq_dist.build_dist(v, out=root) for v in versions}
    net.spawn_in_control(
        [
            sys.executable,
            "-m",
            "http.server",
            str(MIRROR_PORT),
            "--bind",
            net.control_address,
            "--directory",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{net.control_address}:{MIRROR_PORT}"
    first = dists[versions[0]]
    probe = f"curl -sf -o /dev/null {url}/rocketmq/{first.version}/{first.zip_name}.sha512"
    deadline = time.monotonic() + 30
    while net.ssh(net.hosts[0], probe).returncode != 0:
        assert time.monotonic() < deadline, "the test mirror never answered"
        time.sleep(0.5)
    return Mirror(root, url, dists)


@dataclass
class PulumiStack:
    """One stack of the program, run by the real CLI inside the test network (or, for target
    local, whose machines share this machine's loopback, directly on this machine: net None)."""

    net: TestNetwork | None
    env: dict[str, str]
    project: Path
    state: Path
    name: str
    # The command that runs Pulumi: the CLI itself, or the README's scripts/pulumi.sh.
    cli: tuple[str, ...] = ("pulumi",)
    # Everything the engine printed, run by run: searched for secrets.
    transcript: list[str] = field(default_factory=list)

    def run(
        self, *args: str, check: bool = True, timeout: float = 1800, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **self.env,
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_HOME": str(self.state / ".pulumi-home"),
        }
        run = subprocess.run if self.net is None else self.net.run_in_control
        result = run(
            [*self.cli, *args, "--non-interactive", "--cwd", str(self.project)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin if stdin is not None else "",
        )
        self.transcript.append(f"{result.stdout}\n{result.stderr}")
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(self.cli)} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def init(self, config: Mapping[str, Any], private_key: str) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.run("stack", "init", self.name, "--secrets-provider", "passphrase")
        self.set_config(config)
        self.set_secret("sshPrivateKey", private_key)

    @property
    def stack_file(self) -> Path:
        return self.project / f"Pulumi.{self.name}.yaml"

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Writes plain settings into the stack file, as a user would edit it."""
        document = yaml.safe_load(self.stack_file.read_text()) or {}
        document.setdefault("config", {}).update({f"rocketmq:{k}": v for k, v in config.items()})
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_secret(self, key: str, value: str, *, path: bool = False) -> None:
        """`pulumi config set --secret` (with `path`: `key` is a path into an object, e.g.
        `aclUsers.app.password`); the value goes on stdin, never on a command line."""
        flags = ["--path"] if path else []
        self.run("config", "set", "--secret", *flags, f"rocketmq:{key}", "--stack", self.name, stdin=value)

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", "--stack", self.name, *extra, check=check)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--stack", self.name).stdout)  # type: ignore[no-any-return]

    def state_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.state.rglob("*.json"))


def places_holding(net: TestNetwork, hosts: Sequence[Host], stack: PulumiStack, *secrets: str) -> list[str]:
    """Where any of `secrets` shows in plaintext: each host's journal and RocketMQ logs, the engine's
    output and its logs, the state (given to grep on stdin, so never on a command line)."""
    assert secrets and all(secret and "\n" not in secret for secret in secrets)
    places = []
    for host in hosts:
        logs = f"journalctl --no-pager -q -o cat; cat {LOG_DIR}/*.log 2>/dev/null || true"
        search = f'needle=$(mktemp); cat >"$needle"; sudo -n sh -c {shlex.quote(logs)} </dev/null | grep -cF -f "$needle"; rm -f "$needle"'
        found = net.ssh(host, search, input="".join(f"{secret}\n" for secret in secrets))
        assert found.stdout.strip().isdigit(), found
        if found.stdout.strip() != "0":
            places.append(f"{host.name}: {found.stdout.strip()} log lines")
    if any(secret in text for text in stack.transcript for secret in secrets):
        places.append("the engine's output")
    engine_logs = [p for p in (stack.state / ".pulumi-home").rglob("*") if p.is_file() and p.suffix in (".log", ".txt")]
    for path in engine_logs:
        text = path.read_text(errors="replace")
        places += [str(path)] if any(secret in text for secret in secrets) else []
    state = stack.state_text()
    if any(secret in state for secret in secrets):
        places.append("the state")
    return places


# ------------------------------------------------------------------ checks with RocketMQ's tools


def mqadmin_run(net: TestNetwork, host: Host, namesrv_addr: str, *args: str, timeout: float = 120) -> SSHResult:
    """RocketMQ's mqadmin on a host, through the small-heap wrapper the program installs there."""
    quoted = " ".join(shlex.quote(a) for a in args)
    command = f"sudo -n -u rocketmq {MQADMIN} {quoted} -n {shlex.quote(namesrv_addr)}"
    return net.ssh(host, command, timeout=timeout)


def mqadmin(net: TestNetwork, host: Host, namesrv_addr: str, *args: str, timeout: float = 120) -> str:
    """What mqadmin_run printed on standard output."""
    return mqadmin_run(net, host, namesrv_addr, *args, timeout=timeout).stdout


@dataclass(frozen=True)
class ClusterRow:
    cluster: str
    broker_name: str
    broker_id: int
    address: str
    version: str


def cluster_list(net: TestNetwork, host: Host, namesrv_addr: str) -> list[ClusterRow]:
    return cluster_rows(mqadmin(net, host, namesrv_addr, "clusterList")) or []


def cluster_rows(output: str) -> list[ClusterRow] | None:
    """The rows of a clusterList answer; None when mqadmin gave none (no table header)."""
    if "#Cluster Name" not in output:
        return None
    rows = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 5 and re.fullmatch(r"\d+", fields[2]) and ":" in fields[3]:
            rows.append(ClusterRow(fields[0], fields[1], int(fields[2]), fields[3], fields[4]))
    return rows


# On a host with rocketmq:tls (its CA in place), cluster-info speaks TLS, as the program's scripts have it.
_WITH_CA_IF_TLS = f"if [ -r {CA_FILE} ]; then export {CLUSTER_INFO_CA_VARIABLE}={CA_FILE}; fi; "


def registered_brokers(net: TestNetwork, host: Host, namesrv_addr: str) -> set[tuple[str, int, str]] | None:
    """(name, id, address) of every broker any of the name servers lists, asked from ``host`` with the
    program's cluster-info (clusterList's request, without a JVM); None when no name server answered."""
    answer = net.ssh(host, f"{_WITH_CA_IF_TLS}{CLUSTER_INFO} {shlex.quote(namesrv_addr)}")
    if answer.returncode != 0:
        return None
    return {(f[1], int(f[2]), f[3]) for f in (line.split() for line in answer.stdout.splitlines()) if len(f) == 4}


def wait_for_cluster(
    net: TestNetwork, host: Host, namesrv_addr: str, expected: set[tuple[str, int, str]], timeout: float = 180
) -> list[ClusterRow]:
    """Waits until the name servers list exactly ``expected``; returns mqadmin clusterList's rows."""
    deadline = time.monotonic() + timeout
    rows: list[ClusterRow] = []
    while True:
        if registered_brokers(net, host, namesrv_addr) == expected:  # cheap polls, then one mqadmin
            rows = cluster_list(net, host, namesrv_addr)
            if {(r.broker_name, r.broker_id, r.address) for r in rows} == expected:
                return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"clusterList never showed {sorted(expected)}; last: {rows}")
        time.sleep(1)


def elected_masters(
    net: TestNetwork, host: Host, namesrv_addr: str, replicas: Mapping[str, set[str]]
) -> dict[str, str] | None:
    """master-slave-auto: {group: its master's address} when the name servers list exactly
    ``replicas`` (each group's addresses) with one master (id 0) in each group; else None."""
    registered = registered_brokers(net, host, namesrv_addr)
    if registered is None:
        return None
    listed: dict[str, set[str]] = {}
    masters: dict[str, list[str]] = {}
    for name, broker_id, address in registered:
        listed.setdefault(name, set()).add(address)
        if broker_id == 0:
            masters.setdefault(name, []).append(address)
    if listed != dict(replicas) or any(len(masters.get(name, [])) != 1 for name in replicas):
        return None
    return {name: masters[name][0] for name in replicas}


def wait_for_elected_masters(
    net: TestNetwork, host: Host, namesrv_addr: str, replicas: Mapping[str, set[str]], timeout: float = 180
) -> dict[str, str]:
    """Waits until every replica is registered and each group has one master; returns the masters."""
    deadline = time.monotonic() + timeout
    while (masters := elected_masters(net, host, namesrv_addr, replicas)) is None:
        if time.monotonic() > deadline:
            last = registered_brokers(net, host, namesrv_addr)
            raise AssertionError(f"never one master per group among {dict(replicas)}; last: {last}")
        time.sleep(1)
    return masters


def prometheus_samples(net: TestNetwork, target: str) -> dict[str, float]:
    """A broker's Prometheus exporter, scraped from the control namespace as a Prometheus server
    would: the sum of each metric's samples by name; {} when it does not answer."""
    fetch = (
        "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
    )
    answer = net.run_in_control(
        [sys.executable, "-c", fetch, f"http://{target}/metrics"], capture_output=True, text=True, timeout=60
    )
    samples: dict[str, float] = {}
    for line in answer.stdout.splitlines() if answer.returncode == 0 else []:
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( \d+)?", line)
        if match and not line.startswith("#"):
            samples[match.group(1)] = samples.get(match.group(1), 0.0) + float(match.group(3))
    return samples


def commitlog_offset(net: TestNetwork, probe: Host, namesrv_addr: str, broker: Host) -> int:
    """How far the commit log of the broker on ``broker`` reaches (mqadmin brokerStatus)."""
    status = mqadmin(net, probe, namesrv_addr, "brokerStatus", "-b", f"{broker.address}:10911")
    return rocketmq_dist.commitlog_max_offset(status)


def create_topic(net: TestNetwork, host: Host, namesrv_addr: str, cluster: str, topic: str) -> None:
    output = mqadmin(net, host, namesrv_addr, "updateTopic", "-c", cluster, "-t", topic, "-r", "4", "-w", "4")
    assert "success" in output.lower(), output
    # Clients need the route from the name servers, which may lag the brokers briefly.
    wait_until(
        lambda: '"brokerName"' in mqadmin(net, host, namesrv_addr, "topicRoute", "-t", topic),
        60,
        f"the route of {topic} on the name servers",
    )


def connects(net: TestNetwork, source: Host | None, address: str, port: int) -> bool:
    """Whether a TCP connection from ``source`` (None: the control namespace, where the tests'
    clients run) to ``address:port`` is accepted within 5 s."""
    argv = ["timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"]
    if source is None:
        return net.run_in_control(argv, capture_output=True).returncode == 0
    return net.ssh(source, shlex.join(argv)).returncode == 0


def service_pid(net: TestNetwork, host: Host, unit: str) -> int:
    return int(net.ssh(host, f"systemctl show -p MainPID --value {unit}", check=True).stdout.strip() or 0)


def broker_jvm_pids(net: TestNetwork, host: Host) -> list[int]:
    out = net.ssh(host, "ps -u rocketmq -o pid=,args= || true").stdout  # ps exits 1 when there is none
    # With the proxy in its JVM (proxy local) the broker's main class is the proxy's.
    starters = ("BrokerStartup", "ProxyStartup")
    return [int(line.split()[0]) for line in out.splitlines() if "java" in line and any(s in line for s in starters)]


def broker_jvm_pid(net: TestNetwork, host: Host) -> int:
    pids = broker_jvm_pids(net, host)
    assert len(pids) == 1, f"{host}: broker JVMs {pids}"
    return pids[0]


def wait_until(condition: Any, timeout: float, what: str, interval: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
