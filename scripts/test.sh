#!/usr/bin/env bash
# All of the project's checks: ruff, mypy, the unit tests under Pulumi mocks, then the real
# end-to-end suite (pytest -m e2e: Pulumi engine, systemd-nspawn hosts, RocketMQ; needs root).
# RMQ_SKIP_E2E=1 runs only the fast part.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

venv="$RMQ_CACHE/venv-dev"
ensure_venv "$venv" requirements-dev.txt
tools="$RMQ_CACHE/tools/bin"
if [[ ! -x $tools/actionlint ]]; then
  echo "building actionlint from its Go module" >&2
  GOBIN=$tools GOFLAGS=-mod=mod go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7
fi
export PATH="$venv/bin:$tools:$PATH"
# Graphviz's dot draws the topology SVGs that unit tests render.
if ! command -v dot >/dev/null 2>&1; then
  echo "installing graphviz (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz >/dev/null
fi

prebuild=""
if [[ ${RMQ_SKIP_E2E:-0} != 1 ]]; then
  tests/e2e/setup-host-tools.sh # debootstrap, systemd-nspawn, ssh, iproute2 (apt)
  # The e2e suite's builds (engine, rootfs, release zips, clients) run side by side with the
  # checks below: minutes on a fresh machine, nothing with warm caches (tests/e2e/prebuild.py).
  setsid python -m tests.e2e.prebuild &
  prebuild=$!
  # Should a check below fail, the builds stop with this script (their own process group).
  trap '[[ -z $prebuild ]] || kill -- "-$prebuild" 2>/dev/null || true' EXIT
fi
ruff check .
ruff format --check .
mypy components localhosts __main__.py tests benchmarks scripts
pytest
if [[ -n $prebuild ]]; then
  wait "$prebuild" || echo "some e2e build failed ahead of the suite; the suite builds it again" >&2
  prebuild=""
  # Two workers: a lifecycle spends much of its time waiting (restarts, route refreshes), so two
  # run side by side; each has its own hosts and namespaces (tests/e2e/testhosts.py). Which
  # lifecycles share a worker: tests/e2e/suite_stacks.py LIFECYCLE_WORKERS (tests/e2e/conftest.py).
  # -rP: the per-change figures the tests print; --durations: what each test took.
  pytest -m e2e -n 2 -rP --durations=0 tests/e2e
fi
