#!/usr/bin/env bash
# Runs the Pulumi CLI on this project, e.g. `scripts/pulumi.sh up --stack dev`.
# Sets up ./venv with the pinned packages; uses `pulumi` from PATH, or builds the engine from its
# published Go modules (cached outside the repo) when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_venv venv requirements.txt
if ! command -v pulumi >/dev/null 2>&1; then
  engine_bin=$(scripts/build-engine.sh | tail -n 1)
  # shellcheck source=/dev/null
  . "$engine_bin/../env.sh"
fi
exec pulumi "$@"
