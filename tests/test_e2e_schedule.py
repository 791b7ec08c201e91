"""The e2e suite's two workers each take one group of lifecycles whole (tests/e2e/conftest.py): a
renamed lifecycle test must not fall out of its group silently."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.e2e.suite_stacks import LIFECYCLE_WORKERS, lifecycle_group

ROOT = Path(__file__).resolve().parent.parent


def test_every_lifecycle_belongs_to_one_of_two_groups() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "e2e", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/e2e"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    ids = [line for line in collected.splitlines() if "::" in line]
    groups = Counter(group for group in map(lifecycle_group, ids) if group)
    assert sum(groups.values()) == len(LIFECYCLE_WORKERS), ids  # each lifecycle found, once
    assert groups == Counter(LIFECYCLE_WORKERS.values())
    assert len(groups) == 2
    assert lifecycle_group("tests/e2e/test_testhosts.py::test_stop_and_start") is None
