#!/usr/bin/env bash
# Runs the Pulumi CLI on this project, e.g. `scripts/pulumi.sh up --stack local`.
# Sets up ./venv with the pinned packages and uses `pulumi` from PATH; without one it uses the
# engine of scripts/build-engine.sh: an installed Pulumi from ~/.pulumi, or the upstream CLI and
# plugins built from source into the cache (see engine/README.md).
# For a stack with `rocketmq:target: local` (machines on this machine) it also checks for root,
# installs the host tools (tests/e2e/setup-host-tools.sh) and, when Pulumi has no backend or
# passphrase yet, keeps the state and a generated passphrase in the cache, and creates the stack.
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

stack=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --stack | -s) stack=${args[i + 1]:-} ;;
    --stack=*) stack=${args[i]#--stack=} ;;
  esac
done
if [[ -n $stack && -f Pulumi.$stack.yaml ]] && grep -Eq '^[[:space:]]*rocketmq:target:[[:space:]]*"?local"?[[:space:]]*$' "Pulumi.$stack.yaml"; then
  if [[ $EUID -ne 0 ]]; then
    echo "pulumi.sh: stack $stack has rocketmq:target local, which needs root (systemd-nspawn machines): sudo scripts/pulumi.sh $*" >&2
    exit 1
  fi
  tests/e2e/setup-host-tools.sh >&2 # systemd-nspawn, debootstrap, ssh-keygen (apt)
  if [[ -z ${PULUMI_BACKEND_URL:-} ]] && ! pulumi whoami >/dev/null 2>&1; then
    export PULUMI_BACKEND_URL="file://$RMQ_CACHE/pulumi-state"
    mkdir -p "$RMQ_CACHE/pulumi-state"
    echo "pulumi.sh: not logged in to a Pulumi backend; keeping stack $stack's state in $RMQ_CACHE/pulumi-state" >&2
  fi
  if [[ -z ${PULUMI_CONFIG_PASSPHRASE+set} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
    passphrase_file="$RMQ_CACHE/local-stacks.passphrase"
    if [[ ! -s $passphrase_file ]]; then
      (umask 077 && head -c 24 /dev/urandom | base64 >"$passphrase_file")
      echo "pulumi.sh: generated the passphrase that encrypts local stacks' secrets: $passphrase_file" >&2
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE=$passphrase_file
  fi
  if ! pulumi stack select "$stack" >/dev/null 2>&1; then
    pulumi stack init "$stack" --secrets-provider passphrase >&2
  fi
fi
exec pulumi "$@"
