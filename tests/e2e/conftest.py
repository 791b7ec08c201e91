"""Fixtures the e2e lifecycles share (the engine, RocketMQ's clients, fresh test hosts), and which
worker runs which lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.e2e.cluster_harness import engine_environment
from tests.e2e.suite_stacks import HOST_NAMES, lifecycle_group
from tests.e2e.testhosts import TestNetwork
from tests.e2e.traffic import ClientTls, clients_speaking


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Each LIFECYCLE_WORKERS group goes whole to one worker. xdist's own `--dist loadgroup` cannot
    do it under pytest 9.2: it renames test ids through an attribute pytest no longer reads, so
    the lifecycles were spread as they came (CI on 29ff07e put async and sync on one worker)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class LifecycleScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return lifecycle_group(nodeid) or nodeid

    return LifecycleScheduling(config, log)


# Lines of each failed test's error repeated at the end of the run.
ERROR_TAIL_LINES = 60


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Each failed test's error again, in full, just before the short summary: CI keeps a long
    log's head and tail, and the failure sections between them may be cut (the steady client's
    output, which says why it failed, was lost that way once)."""
    for report in [*terminalreporter.stats.get("failed", []), *terminalreporter.stats.get("error", [])]:
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is None:
            continue
        terminalreporter.write_sep("-", f"error of {report.nodeid} ({report.when})")
        terminalreporter.write_line("\n".join(crash.message.splitlines()[-ERROR_TAIL_LINES:]))


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    return engine_environment()


@pytest.fixture(scope="session")
def client_classpaths() -> dict[str, str]:
    """RocketMQ's Java client per release line (tests/e2e/traffic.py client_for): a 5.x client finds
    no topic route on 4.9.x name servers."""
    return {}


@pytest.fixture
def speak_tls() -> Iterator[Callable[[ClientTls], None]]:
    """Makes every client the test starts from then on speak TLS (rocketmq:tls), until it ends."""
    with ExitStack() as scope:
        yield lambda tls: scope.enter_context(clients_speaking(tls))


@pytest.fixture
def net() -> Iterator[TestNetwork]:
    with TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as network:
        yield network
