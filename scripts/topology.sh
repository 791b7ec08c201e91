#!/usr/bin/env bash
# Draws the cluster a stack's config would build, without deploying and without Pulumi:
#   scripts/topology.sh [--stack NAME] [--svg FILE] [--zones 2|3]
# Prints Mermaid to stdout; --svg FILE also writes an SVG, which needs Graphviz's `dot`
# (package graphviz; this script installs nothing but ./venv, as scripts/pulumi.sh does).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

(cd "$root" && ensure_venv venv requirements.txt)
PYTHONPATH="$root" exec "$root/venv/bin/python" "$root/scripts/topology_picture.py" "$@"
