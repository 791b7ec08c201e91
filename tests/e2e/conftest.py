"""Fixtures the e2e lifecycles share: the engine, RocketMQ's clients, and fresh test hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.cluster_harness import engine_environment
from tests.e2e.suite_stacks import HOST_NAMES
from tests.e2e.testhosts import TestNetwork


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    return engine_environment()


@pytest.fixture(scope="session")
def client_classpaths() -> dict[str, str]:
    """RocketMQ's Java client per release line (tests/e2e/traffic.py client_for): a 5.x client finds
    no topic route on 4.9.x name servers."""
    return {}


@pytest.fixture
def net() -> Iterator[TestNetwork]:
    with TestNetwork(len(HOST_NAMES), host_names=HOST_NAMES) as network:
        yield network
