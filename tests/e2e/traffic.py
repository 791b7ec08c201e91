"""Clients under test: RocketMQ's Java client producing and consuming, a steady producer and
consumer running through a change, and what the brokers did meanwhile. Shared by the e2e suite and
benchmarks/e2e_day2.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.rendering import render_cluster_info
from components.tls_settings import CLUSTER_INFO_CA_VARIABLE
from tests.e2e import rocketmq_dist
from tests.e2e.cluster_harness import PulumiStack
from tests.e2e.machine_stalls import MachineStalls, Stall
from tests.e2e.testhosts import TestNetwork


def client_for(classpaths: dict[str, str], version: str) -> str:
    """The classpath of RocketMQ's Java client of ``version``, built once into ``classpaths``."""
    if version not in classpaths:
        classpaths[version] = rocketmq_dist.build_client(version)
    return classpaths[version]


# An ACL user's name and password (rocketmq:aclUsers), which the client signs its requests with.
Credentials = tuple[str, str]


@dataclass(frozen=True)
class ClientTls:
    """How the tests' clients speak TLS to a cluster with rocketmq:tls: RocketMQ's Java client
    verifies the servers against the CA in ``properties_file`` (as README tells users to); the 5.x
    SDK only turns SSL on (it verifies nothing)."""

    properties_file: Path

    @classmethod
    def trusting(cls, ca_certificate: str, directory: Path) -> ClientTls:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_text(ca_certificate)
        properties = directory / "client-tls.properties"
        properties.write_text(
            f"tls.test.mode.enable=false\ntls.client.authServer=true\ntls.client.trustCertPath={directory / 'ca.pem'}\n"
        )
        return cls(properties)

    @property
    def ca_file(self) -> Path:
        return self.properties_file.with_name("ca.pem")

    @property
    def jvm_options(self) -> tuple[str, ...]:
        return ("-Dtls.enable=true", f"-Dtls.config.file={self.properties_file}")


# The TLS the clients started in this context speak; None: plaintext.
_CLIENT_TLS: ContextVar[ClientTls | None] = ContextVar("client_tls", default=None)


@contextmanager
def clients_speaking(tls: ClientTls | None) -> Iterator[None]:
    """Every client started inside speaks ``tls`` (None: plaintext) to the cluster."""
    token = _CLIENT_TLS.set(tls)
    try:
        yield
    finally:
        _CLIENT_TLS.reset(token)


def _tls_options() -> tuple[str, ...]:
    tls = _CLIENT_TLS.get()
    return () if tls is None else tls.jvm_options


def client(
    net: TestNetwork | None,
    classpath: str,
    *args: str,
    timeout: float = 300,
    credentials: Credentials | None = None,
    start_attempts: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """RocketMQ's Java client in the control namespace, or (net None: target local, which only
    talks to 127.0.0.1) directly on this machine; signing as ``credentials``' user (in its
    environment, never on its command line)."""
    run = subprocess.run if net is None else net.run_in_control
    command = rocketmq_dist.client_command(classpath, *args, start_attempts=start_attempts, jvm_options=_tls_options())
    return run(command, capture_output=True, text=True, timeout=timeout, env=client_env(credentials))


def client_env(credentials: Credentials | None) -> dict[str, str]:
    """The environment of a client that signs as ``credentials``' user (RmqCheck, ProxyCheck), and
    for ProxyCheck whether to turn SSL on (clients_speaking)."""
    env = dict(os.environ)
    if credentials is not None:
        env.update(RMQCHECK_ACCESS_KEY=credentials[0], RMQCHECK_SECRET_KEY=credentials[1])
    if _CLIENT_TLS.get() is not None:
        env["PROXYCHECK_SSL"] = "true"
    return env


def produce(
    net: TestNetwork | None,
    classpath: str,
    namesrv_addr: str,
    topic: str,
    count: int,
    *,
    verbose: bool = False,
    credentials: Credentials | None = None,
) -> list[str]:
    """Sends ``count`` messages; with ``verbose``, returns their keys."""
    args = ["produce", namesrv_addr, topic, str(count), *(["--verbose"] if verbose else [])]
    result = client(net, classpath, *args, credentials=credentials)
    assert f"SENT {count} 0" in result.stdout, result.stdout[-3000:] + result.stderr
    return rocketmq_dist.keys_in(result.stdout, "KEY")


def consume(
    net: TestNetwork | None,
    classpath: str,
    namesrv_addr: str,
    topic: str,
    *,
    group: str,
    count: int,
    timeout_s: int = 120,
    verbose: bool = False,
    credentials: Credentials | None = None,
) -> list[str]:
    """Consumes until ``count`` distinct messages arrived; with ``verbose``, returns their keys."""
    args = ["consume", namesrv_addr, topic, group, str(count), str(timeout_s), *(["--verbose"] if verbose else [])]
    result = client(net, classpath, *args, timeout=timeout_s + 120, credentials=credentials)
    assert result.returncode == 0 and f"RECEIVED {count}" in result.stdout, result.stdout[-3000:] + result.stderr
    return rocketmq_dist.keys_in(result.stdout, "GOT")


@dataclass(frozen=True)
class SdkRoundTrip:
    """What RocketMQ 5's gRPC SDK saw sending and receiving through proxies (ProxyCheck roundtrip)."""

    sent: int  # acknowledged by a proxy
    failed: int  # a send that failed after the SDK's retries
    received: int
    lost: int  # acknowledged, never received
    duplicates: int
    receive_errors: int
    output: str


def sdk_round_trip(
    net: TestNetwork | None,
    endpoints: list[str],
    topic: str,
    *,
    group: str,
    count: int,
    timeout_s: int = 120,
    per_second: int = 0,
    credentials: Credentials | None = None,
) -> SdkRoundTrip:
    """RocketMQ 5's gRPC SDK sends ``count`` messages through the proxies at ``endpoints`` (paced to
    ``per_second``, if given) and receives them, signing as ``credentials``' user; fails when an
    acknowledged message was lost."""
    result = _run_sdk_round_trip(
        net,
        endpoints,
        topic,
        group=group,
        count=count,
        timeout_s=timeout_s,
        per_second=per_second,
        credentials=credentials,
    )
    output = result.stdout[-3000:] + result.stderr[-3000:]
    figures = dict(re.findall(r"^(SENT|RECEIVED|LOST|DUPLICATES|RECEIVE-ERRORS) (\d+)", result.stdout, re.MULTILINE))
    failed = re.search(r"^SENT \d+ (\d+)$", result.stdout, re.MULTILINE)
    assert failed and len(figures) == 5, output
    trip = SdkRoundTrip(
        sent=int(figures["SENT"]),
        failed=int(failed.group(1)),
        received=int(figures["RECEIVED"]),
        lost=int(figures["LOST"]),
        duplicates=int(figures["DUPLICATES"]),
        receive_errors=int(figures["RECEIVE-ERRORS"]),
        output=output,
    )
    assert result.returncode == 0 and trip.lost == 0, output
    return trip


def sdk_refused(
    net: TestNetwork | None, endpoints: list[str], topic: str, *, group: str, credentials: Credentials | None
) -> str:
    """RocketMQ 5's gRPC SDK tries to send 3 messages through the proxies at ``endpoints`` and
    read them; asserts that it could not, and returns what it said (for why)."""
    result = _run_sdk_round_trip(
        net, endpoints, topic, group=group, count=3, timeout_s=20, per_second=0, credentials=credentials
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "SENT 3 0" not in result.stdout, f"the proxies let the SDK in:\n{output[-4000:]}"
    return output


def _run_sdk_round_trip(
    net: TestNetwork | None,
    endpoints: list[str],
    topic: str,
    *,
    group: str,
    count: int,
    timeout_s: int,
    per_second: int,
    credentials: Credentials | None,
) -> subprocess.CompletedProcess[str]:
    """ProxyCheck roundtrip in the control namespace (net None: on this machine), speaking TLS
    when the clients of this context do (clients_speaking)."""
    args = ["roundtrip", ";".join(endpoints), topic, group, str(count), str(timeout_s), str(per_second)]
    argv = rocketmq_dist.sdk_client_command(rocketmq_dist.build_sdk_client(), *args)
    run = subprocess.run if net is None else net.run_in_control
    timeout = timeout_s + count // max(per_second, 1) + 180
    return run(argv, capture_output=True, text=True, timeout=timeout, env=client_env(credentials))


@dataclass(frozen=True)
class SteadyResult:
    """What a steady producer and consumer saw through a change (RmqCheck steady)."""

    sent: int
    acked: int  # stored by a broker; not_ok of them with a status other than SEND_OK
    not_ok: int
    failed: int  # an exception after RocketMQ's retries
    received: int
    lost: int  # acked, never consumed
    duplicates: int
    failed_first_ms: int
    failed_last_ms: int
    output: str

    @property
    def failing_seconds(self) -> float:
        """From the first failed send to the last: how long sends failed."""
        return (self.failed_last_ms - self.failed_first_ms) / 1000 if self.failed else 0.0


# How long the steady producer's send may take, RocketMQ's retries included (its default is 3 s:
# a send that reaches a broker as it stops would fail).
STEADY_SEND_TIMEOUT_SECONDS = 10


class SteadyTraffic:
    """A producer sending ``rate`` keyed messages a second and a consumer reading them, both
    running through whatever happens inside the ``with`` block; ``result`` counts what was lost."""

    def __init__(
        self,
        net: TestNetwork | None,
        classpath: str,
        namesrv_addr: str,
        topic: str,
        group: str,
        *,
        rate: int = 20,
        drain_seconds: int = 180,
        route_refresh_seconds: int | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self._net = net
        self._env = client_env(credentials)
        self._argv = rocketmq_dist.client_command(
            classpath,
            "steady",
            namesrv_addr,
            topic,
            group,
            str(rate),
            str(drain_seconds),
            str(STEADY_SEND_TIMEOUT_SECONDS * 1000),
            route_refresh_seconds=route_refresh_seconds,
            jvm_options=_tls_options(),
        )
        self._timeout = drain_seconds + 120
        self._proc: subprocess.Popen[str] | None = None
        self.result: SteadyResult | None = None

    def __enter__(self) -> SteadyTraffic:
        options: dict[str, Any] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True, "env": self._env}
        if self._net is None:
            self._proc = subprocess.Popen(self._argv, start_new_session=True, **options)
        else:
            self._proc = self._net.spawn_in_control(self._argv, **options)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        assert self._proc is not None
        if exc_type is not None:  # the change failed: stop the client, its figures do not matter
            TestNetwork.stop_process(self._proc)
            return
        output, _ = self._proc.communicate(input="", timeout=self._timeout)  # closing stdin stops the sends
        match = re.search(r"^STEADY (.*)$", output, re.MULTILINE)
        assert match, f"the steady client printed no summary (exit {self._proc.returncode}):\n{output[-3000:]}"
        figures = {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}
        self.result = SteadyResult(
            sent=figures["sent"],
            acked=figures["acked"],
            not_ok=figures["notOk"],
            failed=figures["failed"],
            received=figures["received"],
            lost=figures["lost"],
            duplicates=figures["duplicates"],
            failed_first_ms=figures["failedFirstMs"],
            failed_last_ms=figures["failedLastMs"],
            output=output[-3000:],
        )


class DownedBrokers:
    """Watches the expected brokers while a change runs, with broker_watch.py inside the test
    network, two ways: which brokers no name server lists (clients could not find them), and which
    broker ports refuse connections (which were not running: a restart that a registration sample
    can miss). A broker counts by name and address: its id may change while it runs
    (master-slave-auto's controllers elect masters)."""

    def __init__(self, net: TestNetwork, namesrv_addr: str, expected: set[tuple[str, int, str]]) -> None:
        self._net = net
        self._namesrv_addr = namesrv_addr
        self._expected = sorted(f"{name}@{address}" for name, _, address in expected)
        self._watch: subprocess.Popen[str] | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="rmq-broker-watch-")
        self.samples: list[set[tuple[str, str]]] = []  # each distinct set of unlisted brokers, in order
        self.port_states: list[set[str]] = []  # each distinct set of refusing broker ports, in order

    @property
    def most_at_once(self) -> int:
        return max((len(missing) for missing in self.samples), default=0)

    def __enter__(self) -> DownedBrokers:
        cluster_info = Path(self._scratch.name) / "cluster-info"
        cluster_info.write_text(render_cluster_info())
        watch = [
            sys.executable,
            str(Path(__file__).with_name("broker_watch.py")),
            str(cluster_info),
            self._namesrv_addr,
            *self._expected,
        ]
        tls = _CLIENT_TLS.get()
        env = dict(os.environ, **({} if tls is None else {CLUSTER_INFO_CA_VARIABLE: str(tls.ca_file)}))
        self._watch = self._net.spawn_in_control(
            watch, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._watch is not None
        try:
            output, _ = self._watch.communicate(input="", timeout=30)  # closing stdin stops it
        finally:
            self._scratch.cleanup()
        # A watcher that died part-way would leave the figures short (its traceback is on stderr).
        if exc[0] is None:
            assert self._watch.returncode == 0, f"broker_watch.py exited {self._watch.returncode}"
        for line in output.splitlines():
            kind, _, items = line.split(" ", 2)
            seen = set() if items == "-" else set(items.split(","))
            if kind == "DOWN":
                self.port_states.append(seen)
            else:
                self.samples.append({(b.split("@", 1)[0], b.split("@", 1)[1]) for b in seen})


@dataclass(frozen=True)
class ChangeUnderTraffic:
    """What one `pulumi up` of a change did, with a producer and a consumer running through it."""

    name: str
    up: subprocess.CompletedProcess[str]
    seconds: float
    traffic: SteadyResult
    most_down_at_once: int  # expected brokers missing from clusterList at one sample
    down_samples: list[set[tuple[str, str]]]  # each distinct set of brokers no name server lists, in order
    port_states: list[set[str]]  # each distinct set of broker ports refusing connections, in order
    stalls: list[Stall]  # times this whole machine stood still during the change

    @property
    def most_stopped_at_once(self) -> int:
        return max((len(down) for down in self.port_states), default=0)

    @property
    def seen_stopped(self) -> set[str]:
        """Every broker address whose port refused a connection at some point."""
        return set().union(*self.port_states)

    def __str__(self) -> str:
        t = self.traffic
        return (
            f"{self.name}: up {self.seconds:.0f}s; sent {t.sent}, acked {t.acked} ({t.not_ok} not SEND_OK), "
            f"failed {t.failed} over {t.failing_seconds:.1f}s, lost {t.lost}, duplicates {t.duplicates}; "
            f"most brokers down at once {self.most_down_at_once} (registered), {self.most_stopped_at_once} (port); "
            f"stopped at some point {len(self.seen_stopped)}"
            + "".join(f"; this machine stood still {stall.seconds:.0f}s" for stall in self.stalls)
        )

    @property
    def failed_in_a_stall(self) -> bool:
        """Whether every failed send failed while this machine stood still, or within a send's
        timeout after: its cluster, clients and clock stopped together, and a send in flight
        outlived its timeout with no broker at fault."""
        t = self.traffic
        first, last = t.failed_first_ms / 1000, t.failed_last_ms / 1000
        return any(stall.covers(first, last, after=STEADY_SEND_TIMEOUT_SECONDS + 5) for stall in self.stalls)

    def check(self, *, most_down: int, sends_may_fail: bool = False) -> None:
        """Nothing acknowledged was lost; no send failed (unless allowed); at most ``most_down``
        brokers were missing from clusterList, or not running, at once."""
        print(f"\n{self}")
        assert self.traffic.acked > 0 and self.traffic.lost == 0, self.traffic.output
        assert sends_may_fail or self.traffic.failed == 0 or self.failed_in_a_stall, self.traffic.output
        # Without a sample of each kind the figures below would hold vacuously.
        assert self.down_samples, "no name server answered broker_watch.py during the change"
        assert self.port_states, "broker_watch.py reported no port states"
        assert self.most_down_at_once <= most_down, [sorted(m) for m in self.down_samples if m]
        assert self.most_stopped_at_once <= most_down, [sorted(m) for m in self.port_states if m]


def change_under_traffic(
    net: TestNetwork,
    stack: PulumiStack,
    name: str,
    config: Mapping[str, Any],
    *,
    namesrv_addr: str,
    classpath: str,
    topic: str,
    group: str,
    expected: set[tuple[str, int, str]],
    then: Callable[[], None] = lambda: None,
    route_refresh_seconds: int | None = None,
    credentials: Credentials | None = None,
) -> ChangeUnderTraffic:
    """Sets ``config`` and runs `pulumi up` (then ``then``) while SteadyTraffic sends and reads
    ``topic`` (signing as ``credentials``' user) and DownedBrokers samples which of ``expected``
    are missing."""
    stack.set_config(config)
    # The stall watch outlasts the traffic: a send in flight when the change ends is covered too.
    with (
        MachineStalls() as stalls,
        SteadyTraffic(
            net,
            classpath,
            namesrv_addr,
            topic,
            group,
            route_refresh_seconds=route_refresh_seconds,
            credentials=credentials,
        ) as traffic,
        DownedBrokers(net, namesrv_addr, expected) as downed,
    ):
        started = time.monotonic()
        up = stack.up()
        seconds = time.monotonic() - started
        then()
    assert traffic.result is not None
    return ChangeUnderTraffic(
        name, up, seconds, traffic.result, downed.most_at_once, downed.samples, downed.port_states, stalls.stalls
    )
