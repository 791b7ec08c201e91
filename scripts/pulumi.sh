#!/usr/bin/env bash
# Runs the Pulumi CLI on this project, e.g. `scripts/pulumi.sh up --stack dev`.
# Sets up ./venv with the pinned packages and uses `pulumi` from PATH; without one it falls back,
# with a warning, to the offline engine the tests use (scripts/build-engine.sh, see engine/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_venv venv requirements.txt
if ! command -v pulumi >/dev/null 2>&1; then
  echo "pulumi.sh: no pulumi CLI on PATH; using the offline test engine (real CLI, but stand-in language" \
    "host and command provider, no plugin downloads: see engine/README.md). Install the Pulumi CLI for real use." >&2
  engine_bin=$(scripts/build-engine.sh | tail -n 1)
  # shellcheck source=/dev/null
  . "$engine_bin/../env.sh"
fi
exec pulumi "$@"
