#!/usr/bin/env bash
# Provides the Pulumi engine that `pulumi up` needs, every part of it upstream code:
#   pulumi                         the CLI, github.com/pulumi/pulumi/pkg/v3 cmd/pulumi, from the Go
#                                  module proxy at the pulumi pin (or the nearest newer version)
#   pulumi-language-python         github.com/pulumi/pulumi tag v3.259.0, sdk/python/cmd/pulumi-language-python,
#                                  from $VENDOR/pulumi-language-python-3.259.0-src.tar.gz
#   pulumi-language-python-exec    the SDK's exec shim that this language host runs programs with, and
#   pulumi-resource-pulumi-python  the SDK's dynamic-provider launcher, both copied unchanged from the
#                                  github.com/pulumi/pulumi/sdk/v3 module at v3.259.0 (Go module proxy)
#   pulumi-resource-command        github.com/pulumi/pulumi-command tag v1.2.1, provider/,
#                                  from $VENDOR/pulumi-command-1.2.1-provider-src.tar.gz
# $VENDOR is ../shared/vendor beside the repository; its README.md describes the archives. Each
# archive's sha256 is checked against the one pinned below before it is built.
#
# Which engine it hands out:
#   - by default, a real Pulumi CLI with pulumi-language-python (and its exec shim) and
#     pulumi-resource-command that are already installed, when all are: on PATH, in
#     $PULUMI_HOME/bin (~/.pulumi/bin) or, for the plugins, in $PULUMI_HOME/plugins (the command
#     plugin there only at the pinned version). They are linked into a cache directory.
#   - otherwise the engine built from the sources above, into the cache. The cache directory is keyed
#     by a hash of the pins, the archives' sha256s and this script, so any change to them builds a
#     new engine beside the old one (which running tests may still use).
# RMQ_BUILD_ENGINE=1 always uses the built engine, whatever is installed (deterministic: set it
# for test runs); RMQ_BUILD_ENGINE=0 never builds and uses only an installed engine.
#
# Output: the bin dir, as the last line on stdout; progress goes to stderr. Beside the bin dir it
# writes env.sh (PATH plus the variables that keep the engine offline: no plugin downloads, no
# update check; source it before running pulumi) and VERSIONS (what each binary is, and from where).
#
# Environment: RMQ_BUILD_ENGINE (1: always build, 0: never build, unset: prefer installed),
# RMQ_VENDOR_DIR (the vendored sources, default ../shared/vendor from the repo root), RMQ_CACHE
# (cache root), GO (go binary), RMQ_PULUMI_CLI_VERSION (force the CLI module version, without
# the "v"), PULUMI_HOME (where an installed Pulumi lives, default ~/.pulumi).
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
REQUIREMENTS=$REPO_ROOT/requirements.txt
[ -f "$REQUIREMENTS" ] || die "missing $REQUIREMENTS"
VENDOR=${RMQ_VENDOR_DIR:-$REPO_ROOT/../shared/vendor}
[ ! -d "$VENDOR" ] || VENDOR=$(cd "$VENDOR" && pwd)
BUILD_MODE=${RMQ_BUILD_ENGINE:-}
case $BUILD_MODE in
  '' | 0 | 1) ;;
  *) die "RMQ_BUILD_ENGINE must be 1 (always build), 0 (never build) or unset (prefer installed); got '$BUILD_MODE'" ;;
esac

# The vendored upstream sources (see $VENDOR/README.md).
LANGHOST_VERSION=3.259.0
LANGHOST_ARCHIVE=pulumi-language-python-$LANGHOST_VERSION-src.tar.gz
LANGHOST_SHA256=c52b55ed01132dafcd23995eee23d19f63b5a9c438061dca4a730f8f33b107da
COMMAND_SRC_VERSION=1.2.1
COMMAND_ARCHIVE=pulumi-command-$COMMAND_SRC_VERSION-provider-src.tar.gz
COMMAND_SHA256=0f9541312f58b981eb6b7e9d3988aa18adb83972ac916d3dcb6d3808480efe91
SOURCES_HINT="the pulumi-command provider comes from github.com/pulumi/pulumi-command tag v$COMMAND_SRC_VERSION (provider/) and the Python language host from github.com/pulumi/pulumi tag v$LANGHOST_VERSION (sdk/python/cmd/pulumi-language-python): place $COMMAND_ARCHIVE and $LANGHOST_ARCHIVE in $VENDOR (or set RMQ_VENDOR_DIR) as its README.md describes, or install a Pulumi CLI with pulumi-language-python and pulumi-resource-command $COMMAND_SRC_VERSION (pulumi plugin install resource command $COMMAND_SRC_VERSION)"

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

CACHE=${RMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rocketmq-pulumi}
mkdir -p "$CACHE/engine"
CACHE_REAL=$(cd "$CACHE" && pwd -P)
PULUMI_HOME_DIR=${PULUMI_HOME:-$HOME/.pulumi}
# Other engine directories not handed out for this long are deleted after a build.
PRUNE_AFTER_MINUTES=$((3 * 24 * 60))

# write_env_sh DIR: the env.sh that tests source. BIN is resolved at source time, so the cache can move.
write_env_sh() {
  cat >"$1/env.sh" <<'ENVSH'
# Generated by scripts/build-engine.sh: puts this Pulumi engine first on PATH
# and keeps it from reaching any network service.
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
}

# ready DIR STAMP_TEXT BINARIES...: DIR holds a complete engine made for STAMP_TEXT.
ready() {
  local dir=$1 text=$2 b
  shift 2
  [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$text" ] && [ -f "$dir/env.sh" ] || return 1
  for b in "$@"; do
    [ -x "$dir/bin/$b" ] || return 1
  done
}

# hand_out DIR: record the use (for pruning) and print the bin dir.
hand_out() {
  touch "$1/.last-used" 2>/dev/null || true
  printf '%s\n' "$1/bin"
}

# --- an installed Pulumi ---------------------------------------------------------------
# installed_tool NAME [PLUGIN_GLOB]: the resolved path of NAME on PATH or in $PULUMI_HOME/bin,
# else in $PULUMI_HOME/plugins/PLUGIN_GLOB/ (newest version). Engines in this script's own cache
# do not count as installed.
installed_tool() {
  local name=$1 glob=${2:-} dir found='' path dirs
  IFS=: read -ra dirs <<<"$PATH"
  for dir in "${dirs[@]}" "$PULUMI_HOME_DIR/bin"; do
    [ -n "$dir" ] && [ -x "$dir/$name" ] && [ -f "$dir/$name" ] || continue
    path=$(readlink -f "$dir/$name")
    case $path in "$CACHE_REAL"/engine/*) continue ;; esac
    found=$path
    break
  done
  if [ -z "$found" ] && [ -n "$glob" ]; then
    found=$(find "$PULUMI_HOME_DIR/plugins" -mindepth 2 -maxdepth 2 -path "*/$glob/$name" -perm -u+x 2>/dev/null \
      | sort -V | tail -n 1)
    [ -z "$found" ] || found=$(readlink -f "$found")
  fi
  printf '%s' "$found"
}

# use_installed: hand out links to an installed engine and exit, or return 1 when none is complete.
use_installed() {
  local cli lh shim cmd dyn cli_version key dir stage
  cli=$(installed_tool pulumi)
  lh=$(installed_tool pulumi-language-python 'language-python-v*')
  cmd=$(installed_tool pulumi-resource-command "resource-command-v$COMMAND_VERSION")
  if [ -z "$cli" ] || [ -z "$lh" ] || [ -z "$cmd" ]; then
    [ -z "$cli$lh$cmd" ] || log "installed Pulumi is incomplete (pulumi: ${cli:-none}," \
      "pulumi-language-python: ${lh:-none}, pulumi-resource-command $COMMAND_VERSION: ${cmd:-none}); not using it"
    return 1
  fi
  # The language host runs the exec shim that sits beside its own (resolved) executable.
  shim=$(dirname "$lh")/pulumi-language-python-exec
  [ -x "$shim" ] || { log "installed $lh has no pulumi-language-python-exec beside it; not using it"; return 1; }
  cli_version=$(PULUMI_SKIP_UPDATE_CHECK=true "$cli" version 2>/dev/null) && [[ $cli_version == v3.* ]] \
    || { log "installed $cli does not answer 'pulumi version' with v3.x; not using it"; return 1; }
  dyn=$(dirname "$lh")/pulumi-resource-pulumi-python
  [ -x "$dyn" ] || dyn=$(installed_tool pulumi-resource-pulumi-python)

  key=$({ sha256sum "$SCRIPT" | cut -d' ' -f1; printf '%s\n' "$cli" "$lh" "$cmd" "$dyn"; } | sha256sum | cut -c1-16)
  dir=$CACHE/engine/installed-$key
  log "using the installed Pulumi CLI $cli_version ($cli) with $lh and $cmd (RMQ_BUILD_ENGINE=1 builds instead)"
  if ! ready "$dir" "installed=$key" pulumi pulumi-language-python pulumi-resource-command; then
    stage=$dir.tmp.$$
    rm -rf "$stage"
    mkdir -p "$stage/bin"
    ln -s "$cli" "$stage/bin/pulumi"
    ln -s "$lh" "$stage/bin/pulumi-language-python"
    ln -s "$shim" "$stage/bin/pulumi-language-python-exec"
    ln -s "$cmd" "$stage/bin/pulumi-resource-command"
    [ -z "$dyn" ] || ln -s "$dyn" "$stage/bin/pulumi-resource-pulumi-python"
    printf '%s\n' "installed Pulumi, linked by scripts/build-engine.sh" \
      "pulumi:                  $cli_version $cli" "pulumi-language-python:  $lh" \
      "pulumi-resource-command: $cmd" >"$stage/VERSIONS"
    write_env_sh "$stage"
    printf '%s\n' "installed=$key" >"$stage/.complete"
    rm -rf "$dir"  # with links to what is gone, if any
    mv -T "$stage" "$dir" 2>/dev/null || rm -rf "$stage"  # or another process was first
    ready "$dir" "installed=$key" pulumi pulumi-language-python pulumi-resource-command \
      || die "cannot set up $dir"
  fi
  hand_out "$dir"
  exit 0
}

if [ "$BUILD_MODE" != 1 ]; then
  use_installed || true
  [ "$BUILD_MODE" != 0 ] \
    || die "RMQ_BUILD_ENGINE=0 but no installed Pulumi CLI with pulumi-language-python (and its exec shim) and pulumi-resource-command on PATH or in $PULUMI_HOME_DIR"
fi

# --- the built engine -------------------------------------------------------------------
[ "$COMMAND_VERSION" = "$COMMAND_SRC_VERSION" ] \
  || die "requirements.txt pins pulumi-command $COMMAND_VERSION but this script builds the provider from $COMMAND_ARCHIVE: vendor the v$COMMAND_VERSION sources and update COMMAND_SRC_VERSION and COMMAND_SHA256 here"

# source_hash -> sha256 over the pins, the CLI version override, the archives' sha256s and this script.
source_hash() {
  {
    printf 'pulumi=%s command=%s cli=%s\n' "$PULUMI_VERSION" "$COMMAND_VERSION" "${RMQ_PULUMI_CLI_VERSION:-}"
    printf '%s %s\n' "$LANGHOST_SHA256" "$LANGHOST_ARCHIVE" "$COMMAND_SHA256" "$COMMAND_ARCHIVE"
    sha256sum "$SCRIPT" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
}
SOURCE_HASH=$(source_hash)

ENGINE_DIR=$CACHE/engine/pulumi-${PULUMI_VERSION}_command-${COMMAND_VERSION}-$SOURCE_HASH
STAMP_TEXT="sources=$SOURCE_HASH pulumi=$PULUMI_VERSION command=$COMMAND_VERSION language-python=$LANGHOST_VERSION"
BINARIES=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python pulumi-resource-command)

if ready "$ENGINE_DIR" "$STAMP_TEXT" "${BINARIES[@]}"; then
  hand_out "$ENGINE_DIR"
  exit 0
fi

[ -d "$VENDOR" ] || die "no vendored sources at $VENDOR and no installed Pulumi engine: $SOURCES_HINT"
# check_archive NAME SHA256: the archive is in $VENDOR with exactly that sha256.
check_archive() {
  local have
  [ -f "$VENDOR/$1" ] || die "missing $VENDOR/$1: $SOURCES_HINT"
  have=$(sha256sum "$VENDOR/$1" | cut -d' ' -f1)
  [ "$have" = "$2" ] || die "$VENDOR/$1 has sha256 $have, expected $2: not the archive this script pins"
}
check_archive "$COMMAND_ARCHIVE" "$COMMAND_SHA256"
check_archive "$LANGHOST_ARCHIVE" "$LANGHOST_SHA256"

exec 9>"$CACHE/engine/.build.lock"
log "waiting for the build lock"
flock 9
if ready "$ENGINE_DIR" "$STAMP_TEXT" "${BINARIES[@]}"; then  # built by another process while we waited
  hand_out "$ENGINE_DIR"
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
BIN=$STAGE/bin
rm -rf "$STAGE" "$WORK"
mkdir -p "$BIN" "$WORK"
trap 'rm -rf "$STAGE" "$WORK"' EXIT

# --- which CLI module version to build ---------------------------------------------------
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
log "pulumi pin $PULUMI_VERSION -> building the CLI from module version v$CLI_VERSION"

# --- pulumi CLI -----------------------------------------------------------------------------
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
log "building pulumi (cold: 3-10 min on 2 cores)"
quiet "$CLI_SRC" env GOFLAGS=-mod=mod "$GO" build -trimpath -o "$BIN/pulumi" \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

# --- the plugins, from the vendored sources, built as $VENDOR/README.md says ------------------
log "building pulumi-resource-command $COMMAND_SRC_VERSION from $COMMAND_ARCHIVE (cold: up to 2-3 min)"
mkdir -p "$WORK/command"
tar -xzf "$VENDOR/$COMMAND_ARCHIVE" -C "$WORK/command"
quiet "$WORK/command/provider" env GOFLAGS=-mod=mod "$GO" build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_SRC_VERSION" \
  -o "$BIN/pulumi-resource-command" ./cmd/pulumi-resource-command

log "building pulumi-language-python $LANGHOST_VERSION from $LANGHOST_ARCHIVE (cold: up to 2-3 min)"
mkdir -p "$WORK/langhost"
tar -xzf "$VENDOR/$LANGHOST_ARCHIVE" -C "$WORK/langhost"
quiet "$WORK/langhost/lh-min/sdk/python/cmd/pulumi-language-python" env GOFLAGS=-mod=mod "$GO" build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANGHOST_VERSION" \
  -o "$BIN/pulumi-language-python" .

# The language host runs programs through the pulumi-language-python-exec shim beside it. The
# archive does not carry the shim; the sdk/v3 module at the language host's own tag does.
SDK_DIR=$(cd "$SRC" && "$GO" mod download -json "github.com/pulumi/pulumi/sdk/v3@v$LANGHOST_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$SDK_DIR" ] && [ -f "$SDK_DIR/python/cmd/pulumi-language-python-exec" ] \
  || die "cannot get the exec shim from github.com/pulumi/pulumi/sdk/v3@v$LANGHOST_VERSION"
install -m 0755 "$SDK_DIR/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
# Launcher for Python dynamic providers (pulumi.dynamic), shipped with the CLI too.
install -m 0755 "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"

# --- versions, env.sh, publish ---------------------------------------------------------------
cat >"$STAGE/VERSIONS" <<TXT
pulumi pin (requirements.txt):   $PULUMI_VERSION
pulumi:                          v$CLI_VERSION (github.com/pulumi/pulumi/pkg/v3 cmd/pulumi, Go module proxy)
pulumi-language-python:          v$LANGHOST_VERSION (github.com/pulumi/pulumi v$LANGHOST_VERSION sdk/python/cmd/pulumi-language-python)
                                 from $LANGHOST_ARCHIVE sha256 $LANGHOST_SHA256
pulumi-language-python-exec,
pulumi-resource-pulumi-python:   github.com/pulumi/pulumi/sdk/v3 v$LANGHOST_VERSION module, unchanged
pulumi-command pin:              $COMMAND_VERSION
pulumi-resource-command:         $COMMAND_SRC_VERSION (github.com/pulumi/pulumi-command v$COMMAND_SRC_VERSION provider/)
                                 from $COMMAND_ARCHIVE sha256 $COMMAND_SHA256
$("$GO" version)
engine sources:                  $SOURCE_HASH
TXT
write_env_sh "$STAGE"

printf '%s\n' "$STAMP_TEXT" >"$STAGE/.complete"
rm -rf "$ENGINE_DIR"  # an incomplete build of the same sources, if any
mv "$STAGE" "$ENGINE_DIR"
rm -rf "$WORK"
trap - EXIT
log "done in $((SECONDS - START))s: ${BINARIES[*]} in $ENGINE_DIR/bin"

# --- prune ------------------------------------------------------------------------------------
# Other engines stay while tests may still run them: only those not handed
# out for PRUNE_AFTER_MINUTES go, with leftovers of killed builds (no other
# build runs while we hold the lock).
for old in "$CACHE"/engine/pulumi-*_command-* "$CACHE"/engine/installed-* "$SRC"/build.*; do
  [ -d "$old" ] && [ "$old" != "$ENGINE_DIR" ] || continue
  used=$old/.last-used
  [ -e "$used" ] || used=$old
  case $old in
    "$CACHE"/engine/pulumi-*.tmp.* | "$SRC"/build.*) ;;  # builds, which hold the lock
    *.tmp.*) [ -n "$(find "$old" -maxdepth 0 -mmin +60)" ] || continue ;;  # linking may be under way
    *) [ -n "$(find "$used" -maxdepth 0 -mmin +"$PRUNE_AFTER_MINUTES")" ] || continue ;;
  esac
  log "removing $old"
  rm -rf "$old"
done

hand_out "$ENGINE_DIR"
