"""Builds what the e2e suite needs into the caches, side by side, before it starts:

    python -m tests.e2e.prebuild

the Pulumi engine (Go), the hosts' rootfs (debootstrap), Apache's release zips (jars from Maven
Central) and the Java clients. scripts/test.sh starts it while the linters and unit tests run: on
a fresh machine these builds take minutes, which the e2e workers would otherwise spend one after
another, each waiting on the other's build lock. Every build keeps its own lock and cache, so a
test that needs one before it is done waits for it, and a warm cache makes this a no-op."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from localhosts.machine import build_rootfs
from tests.e2e import rocketmq_dist
from tests.e2e.cluster_harness import engine_environment
from tests.e2e.suite_stacks import RELEASE_ROUND_TRIP, UPGRADE_VERSION, VERSIONS_BY_MODE

# Every release a mirror of the suite serves, and the clients' release lines.
RELEASES = sorted({*(v for versions in VERSIONS_BY_MODE.values() for v in versions), *RELEASE_ROUND_TRIP.values()})
CLIENTS = sorted({"4.9.7", rocketmq_dist.DEFAULT_VERSION, UPGRADE_VERSION} & {*RELEASES})


def _timed(name: str, build: Callable[[], Any]) -> str:
    started = time.monotonic()
    build()
    return f"{name}: {time.monotonic() - started:.0f} s"


def main() -> int:
    with TemporaryDirectory(prefix="rmq-prebuild-") as scratch:
        jobs: dict[str, Callable[[], Any]] = {
            "engine": engine_environment,
            "rootfs": build_rootfs,
            "release zips": lambda: [rocketmq_dist.build_dist(v, out=Path(scratch)) for v in RELEASES],
            "clients": lambda: [
                *(rocketmq_dist.build_client(v) for v in CLIENTS),
                rocketmq_dist.build_sdk_client(),
            ],
        }
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {name: pool.submit(_timed, name, build) for name, build in jobs.items()}
            failed = False
            for name, future in futures.items():
                try:
                    print(f"prebuild {future.result()}", file=sys.stderr)
                except Exception as error:  # the e2e run builds it again and reports the failure there
                    print(f"prebuild {name} failed: {error}", file=sys.stderr)
                    failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
