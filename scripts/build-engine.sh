#!/usr/bin/env bash
# Builds the Pulumi engine pieces that `pulumi up` needs, from the Go module
# proxy, so tests can deploy for real on a machine without other downloads:
#   pulumi                       the real CLI (github.com/pulumi/pulumi/pkg/v3, cmd/pulumi)
#   pulumi-language-python       Python language host, from engine/langhost (+ the SDK's exec shim)
#   pulumi-resource-command      provider for the pulumi-command Python SDK, from engine/provider
# Versions come from requirements.txt. The cache directory is keyed by a hash
# of the pins, engine/'s Go sources and this script, so any change to them
# builds a new engine beside the old one (which running tests may still use).
# Output: the bin dir, as the last line on stdout; progress goes to stderr.
# Beside the bin dir it writes env.sh (PATH plus the variables that keep the
# engine offline); source it before running pulumi.
#
# Caveats (the module proxy reachable here serves only some versions):
# - When github.com/pulumi/pulumi/pkg/v3 is not available at the pinned
#   pulumi version, the nearest newer published version is built, and
#   `pulumi version` reports that version truthfully.
# - The modules github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
#   and github.com/pulumi/pulumi-command/provider are not on the proxy at all,
#   so engine/ holds small Go programs of our own for both, built on the
#   Pulumi Go SDK (see engine/README.md).
#
# Environment: RMQ_CACHE (cache root), GO (go binary),
# RMQ_PULUMI_CLI_VERSION (force a CLI/SDK module version, without the "v").
set -euo pipefail

log() { printf '[build-engine] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# quiet DIR CMD...: run CMD in DIR; show its output only when it fails.
quiet() {
  local dir=$1 out
  shift
  if ! out=$(cd "$dir" && "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die "failed in $dir: $*"
  fi
}

SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO_ROOT=$(cd "$(dirname "$SCRIPT")/.." && pwd)
ENGINE_SRC=$REPO_ROOT/engine
REQUIREMENTS=$REPO_ROOT/requirements.txt
[ -f "$REQUIREMENTS" ] || die "missing $REQUIREMENTS"
[ -f "$ENGINE_SRC/langhost/go.mod" ] && [ -f "$ENGINE_SRC/provider/go.mod" ] \
  || die "missing the Go modules under $ENGINE_SRC"

# pin NAME -> version pinned with NAME==VERSION in requirements.txt
pin() {
  awk -v want="$1" '
    { line = $0; sub(/[ \t]*[#;].*$/, "", line) }
    line ~ /==/ {
      split(line, parts, "==")
      name = tolower(parts[1]); gsub(/[ \t]/, "", name); gsub(/_/, "-", name)
      if (name == want) { v = parts[2]; gsub(/[ \t]/, "", v); print v; exit }
    }' "$REQUIREMENTS"
}

PULUMI_VERSION=$(pin pulumi)
COMMAND_VERSION=$(pin pulumi-command)
[ -n "$PULUMI_VERSION" ] || die "no pulumi==VERSION pin in $REQUIREMENTS"
[ -n "$COMMAND_VERSION" ] || die "no pulumi-command==VERSION pin in $REQUIREMENTS"

# source_hash -> sha256 over the pins, the CLI version override, this script
# and every Go source, go.mod and go.sum under engine/ (names and contents).
source_hash() {
  {
    printf 'pulumi=%s command=%s cli=%s\n' "$PULUMI_VERSION" "$COMMAND_VERSION" "${RMQ_PULUMI_CLI_VERSION:-}"
    sha256sum "$SCRIPT" | cut -d' ' -f1
    (cd "$REPO_ROOT" \
      && find engine -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
}
SOURCE_HASH=$(source_hash)

CACHE=${RMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rocketmq-pulumi}
ENGINE_DIR=$CACHE/engine/pulumi-${PULUMI_VERSION}_command-${COMMAND_VERSION}-$SOURCE_HASH
BIN=$ENGINE_DIR/bin
STAMP=$ENGINE_DIR/.complete
STAMP_TEXT="sources=$SOURCE_HASH pulumi=$PULUMI_VERSION command=$COMMAND_VERSION"
BINARIES=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-command)
# Other engine directories not handed out for this long are deleted after a build.
PRUNE_AFTER_MINUTES=$((3 * 24 * 60))

engine_ready() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ] && [ -f "$ENGINE_DIR/env.sh" ] || return 1
  local b
  for b in "${BINARIES[@]}"; do
    [ -x "$BIN/$b" ] || return 1
  done
}

# hand_out: record the use (for pruning) and print the bin dir.
hand_out() {
  touch "$ENGINE_DIR/.last-used" 2>/dev/null || true
  printf '%s\n' "$BIN"
}

if engine_ready; then
  hand_out
  exit 0
fi

mkdir -p "$CACHE/engine"
exec 9>"$CACHE/engine/.build.lock"
log "waiting for the build lock"
flock 9
if engine_ready; then  # built by another process while we waited
  hand_out
  exit 0
fi

GO=${GO:-$(command -v go || true)}
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || die "no go toolchain (set GO=/path/to/go)"
export GOTOOLCHAIN=local
unset GOFLAGS
log "go: $("$GO" version)"
log "sources $SOURCE_HASH changed or not built yet: building $ENGINE_DIR"

START=$SECONDS
SRC=$CACHE/engine/src
STAGE=$ENGINE_DIR.tmp.$$
WORK=$SRC/build.$$
rm -rf "$STAGE" "$WORK"
mkdir -p "$STAGE/bin" "$WORK"
trap 'rm -rf "$STAGE" "$WORK"' EXIT

# --- which CLI/SDK module version to build ---------------------------------
CLI_VERSION=${RMQ_PULUMI_CLI_VERSION:-}
if [ -z "$CLI_VERSION" ]; then
  if (cd "$SRC" && "$GO" mod download "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION") >/dev/null 2>&1; then
    CLI_VERSION=$PULUMI_VERSION
  else
    log "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION is not on the module proxy; looking for the nearest newer one"
    versions=$(cd "$SRC" && "$GO" list -m -versions github.com/pulumi/pulumi/pkg/v3 | tr ' ' '\n' | grep '^v3\.' | sed 's/^v//') \
      || die "cannot list github.com/pulumi/pulumi/pkg/v3 versions"
    CLI_VERSION=$(printf '%s\n%s\n' "$versions" "$PULUMI_VERSION" | grep -v -- - | sort -V -u \
      | awk -v pin="$PULUMI_VERSION" 'found { print; exit } $0 == pin { found = 1 }')
    [ -n "$CLI_VERSION" ] || die "no github.com/pulumi/pulumi/pkg/v3 version >= $PULUMI_VERSION on the module proxy"
  fi
fi
log "pulumi pin $PULUMI_VERSION -> building CLI and language host from module version v$CLI_VERSION"

# --- pulumi CLI ---------------------------------------------------------------
# The real upstream command, built through a generated wrapper module.
# pkg/v3's go.mod replaces sdk/v3 with ../sdk (dropped: the published sdk/v3
# module at the same version is used) and atotto/clipboard with a fork
# (repeated here, it is needed to compile).
CLI_SRC=$SRC/cli-$CLI_VERSION
mkdir -p "$CLI_SRC"
cat >"$CLI_SRC/go.mod" <<GOMOD
module rmqengine/cli

go 1.24

require github.com/pulumi/pulumi/pkg/v3 v$CLI_VERSION

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
GOMOD
log "resolving CLI modules (first run downloads them)"
quiet "$CLI_SRC" env GOFLAGS=-mod=mod "$GO" get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$CLI_VERSION"
log "building pulumi (cold: ~10 min on 2 cores)"
quiet "$CLI_SRC" env GOFLAGS=-mod=mod "$GO" build -trimpath -o "$STAGE/bin/pulumi" \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

# --- engine/langhost and engine/provider ------------------------------------------
# prepare NAME: copy engine/NAME to $WORK/NAME for building, on sdk/v3
# v$CLI_VERSION. The go.mod in the repo pins the version currently built;
# another CLI version is applied, and tidied, in the copy only.
prepare() {
  local name=$1 dir=$WORK/$1 have
  cp -R "$ENGINE_SRC/$name" "$dir"
  have=$(cd "$dir" && "$GO" list -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3) \
    || die "cannot read the sdk/v3 version of engine/$name"
  if [ "$have" != "v$CLI_VERSION" ]; then
    log "engine/$name: sdk/v3 $have -> v$CLI_VERSION (in the build copy)"
    quiet "$dir" "$GO" get "github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION"
    quiet "$dir" "$GO" mod tidy
  fi
}

log "building pulumi-language-python (engine/langhost)"
prepare langhost
quiet "$WORK/langhost" "$GO" build -trimpath -o "$STAGE/bin/pulumi-language-python" \
  -ldflags "-s -w -X main.version=$CLI_VERSION" .
SDK_DIR=$(cd "$WORK/langhost" && "$GO" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$SDK_DIR/python/cmd/pulumi-language-python-exec" "$STAGE/bin/pulumi-language-python-exec"
# Launcher for Python dynamic providers (pulumi.dynamic), shipped with the CLI too.
install -m 0755 "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" "$STAGE/bin/pulumi-resource-pulumi-python"

log "building pulumi-resource-command (engine/provider)"
prepare provider
quiet "$WORK/provider" "$GO" build -trimpath -o "$STAGE/bin/pulumi-resource-command" \
  -ldflags "-s -w -X main.version=$COMMAND_VERSION" .

# --- versions, env.sh, publish -------------------------------------------------------
cat >"$STAGE/VERSIONS" <<TXT
pulumi pin (requirements.txt):   $PULUMI_VERSION
pulumi CLI (pkg/v3 module):      v$CLI_VERSION
pulumi-language-python:          v$CLI_VERSION (engine/langhost on sdk/v3 v$CLI_VERSION)
pulumi-command pin:              $COMMAND_VERSION
pulumi-resource-command:         $COMMAND_VERSION (engine/provider on sdk/v3 v$CLI_VERSION)
$("$GO" version)
engine sources:                  $SOURCE_HASH
TXT

# Sourced by tests. BIN is resolved at source time, so the cache can move.
cat >"$STAGE/env.sh" <<'ENVSH'
# Generated by scripts/build-engine.sh: puts the locally built Pulumi engine
# first on PATH and keeps it from reaching any network service.
RMQ_PULUMI_BIN=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/bin" && pwd)
export RMQ_PULUMI_BIN
export PATH="$RMQ_PULUMI_BIN:$PATH"
# Never download plugins (pulumi_aws declares the aws plugin, for example);
# plugins are found on PATH.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# No check for a newer CLI on startup.
export PULUMI_SKIP_UPDATE_CHECK=true
# Automation API: accept this CLI without asking for its version.
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
ENVSH

printf '%s\n' "$STAMP_TEXT" >"$STAGE/.complete"
rm -rf "$ENGINE_DIR"  # an incomplete build of the same sources, if any
mv "$STAGE" "$ENGINE_DIR"
rm -rf "$WORK"
trap - EXIT
log "done in $((SECONDS - START))s: ${BINARIES[*]} in $BIN"

# --- prune ------------------------------------------------------------------------
# Other engines stay while tests may still run them: only those not handed
# out for PRUNE_AFTER_MINUTES go, with leftovers of killed builds (no other
# build runs while we hold the lock).
for old in "$CACHE"/engine/pulumi-*_command-* "$SRC"/build.*; do
  [ -d "$old" ] && [ "$old" != "$ENGINE_DIR" ] || continue
  used=$old/.last-used
  [ -e "$used" ] || used=$old
  case $old in
    *.tmp.* | "$SRC"/build.*) ;;
    *) [ -n "$(find "$used" -maxdepth 0 -mmin +"$PRUNE_AFTER_MINUTES")" ] || continue ;;
  esac
  log "removing $old"
  rm -rf "$old"
done

hand_out
