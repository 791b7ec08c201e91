#!/usr/bin/env bash
# Runs the Pulumi CLI on this project, e.g. `scripts/pulumi.sh up --stack dev`.
# Sets up ./venv with the pinned packages and uses `pulumi` from PATH; without one it uses the
# engine of scripts/build-engine.sh: an installed Pulumi from ~/.pulumi, or the upstream CLI and
# plugins built from source into the cache (see engine/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_venv venv requirements.txt
if ! command -v pulumi >/dev/null 2>&1; then
  echo "pulumi.sh: no pulumi CLI on PATH; using scripts/build-engine.sh's engine (built on first use, see engine/README.md)" >&2
  engine_bin=$(scripts/build-engine.sh | tail -n 1)
  # shellcheck source=/dev/null
  . "$engine_bin/../env.sh"
fi
exec pulumi "$@"
