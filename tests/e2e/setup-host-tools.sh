#!/usr/bin/env bash
# Idempotently install the host-side tools the e2e test hosts need:
# debootstrap (build the base rootfs), systemd-container (systemd-nspawn),
# openssh-client (ssh, ssh-keygen), iproute2 (ip netns / veth / bridge),
# util-linux (nsenter, mount), procps and curl (diagnostics).
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
    echo "setup-host-tools.sh: must run as root" >&2
    exit 1
fi

# command -> package providing it
declare -A wanted=(
    [debootstrap]=debootstrap
    [systemd-nspawn]=systemd-container
    [ssh]=openssh-client
    [ssh-keygen]=openssh-client
    [ip]=iproute2
    [nsenter]=util-linux
    [mount]=mount
    [pkill]=procps
    [curl]=curl
)

missing=()
for cmd in "${!wanted[@]}"; do
    if ! command -v "${cmd}" >/dev/null 2>&1; then
        missing+=("${wanted[${cmd}]}")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup-host-tools.sh: all host tools present"
    exit 0
fi

# Deduplicate package names.
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "setup-host-tools.sh: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
