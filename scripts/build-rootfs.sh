#!/usr/bin/env bash
# Build (once, cached) the Debian bookworm root filesystem that every e2e
# test host boots from (read-only overlay lower layer).
#
# The cache directory is keyed by a hash of this script, so editing the
# package list or the configuration below triggers a rebuild.  The rootfs
# path is printed as the last line on stdout.
#
# Environment:
#   RMQ_CACHE           cache root (default: $XDG_CACHE_HOME/rocketmq-pulumi)
#   RMQ_DEBIAN_MIRROR   Debian mirror (default: taken from /etc/apt/sources*)
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
    echo "build-rootfs.sh: must run as root" >&2
    exit 1
fi

SUITE=bookworm
PACKAGES=(
    systemd systemd-sysv dbus libpam-systemd
    openssh-server sudo
    openjdk-17-jdk-headless
    curl unzip procps iproute2 ca-certificates
    python3
    firewalld netbase
)
# Units that make no sense in a container, or only slow the boot down.
MASKED_UNITS=(
    apt-daily.timer apt-daily-upgrade.timer apt-daily.service
    apt-daily-upgrade.service dpkg-db-backup.timer dpkg-db-backup.service
    e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer
    systemd-timesyncd.service systemd-networkd-wait-online.service
    systemd-firstboot.service systemd-journald-audit.socket
    console-getty.service getty@tty1.service serial-getty@console.service
    getty.target systemd-udevd.service systemd-udev-trigger.service
    systemd-hwdb-update.service modprobe@.service
    systemd-modules-load.service sys-kernel-config.mount
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount
    dev-hugepages.mount dev-mqueue.mount
)

script_path=$(readlink -f "${BASH_SOURCE[0]}")
script_hash=$(sha256sum "${script_path}" | cut -c1-16)
cache_root=${RMQ_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/rocketmq-pulumi}
rootfs="${cache_root}/rootfs-${SUITE}-${script_hash}"
stamp="${rootfs}/.rmq-rootfs-complete"

log() { echo "build-rootfs.sh: $*" >&2; }

detect_mirror() {
    local url
    if [[ -n ${RMQ_DEBIAN_MIRROR:-} ]]; then
        echo "${RMQ_DEBIAN_MIRROR}"
        return
    fi
    # First Debian archive URL configured for apt (deb822 or one-line format).
    url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
            /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -oE '(https?://[^ ]+/debian)/?( |$)' \
        | head -n1 | tr -d ' ' || true)
    echo "${url:-http://deb.debian.org/debian}"
}

mkdir -p "${cache_root}"
# Serialise concurrent builds of the same cache.
exec 9>"${cache_root}/.build-rootfs.lock"
flock 9

if [[ -f ${stamp} ]]; then
    log "cached rootfs ${rootfs}"
    echo "${rootfs}"
    exit 0
fi

mirror=$(detect_mirror)
work="${rootfs}.tmp"
if [[ -e ${work} ]]; then
    log "removing leftover ${work}"
    # Leftover from a crashed build: never follow mounts into the host.
    for m in proc sys dev/pts dev; do
        umount -l "${work}/${m}" 2>/dev/null || true
    done
    rm -rf --one-file-system "${work}"
fi

include=$(IFS=,; echo "${PACKAGES[*]}")
log "debootstrap ${SUITE} from ${mirror} into ${work}"
start=${SECONDS}
debootstrap --variant=minbase --include="${include}" \
    "${SUITE}" "${work}" "${mirror}" >&2

in_root() { chroot "${work}" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# Unprivileged deploy user: key-only ssh, passwordless sudo.
in_root useradd --create-home --shell /bin/bash --user-group deploy
in_root passwd --lock deploy >/dev/null
install -d -m 0700 "${work}/home/deploy/.ssh"
in_root chown deploy:deploy /home/deploy/.ssh
echo 'deploy ALL=(ALL) NOPASSWD:ALL' >"${work}/etc/sudoers.d/90-deploy"
chmod 0440 "${work}/etc/sudoers.d/90-deploy"

# sshd: public keys only; host keys are generated per test host at boot time
# by testhosts.py, so none are baked into the shared image.
cat >"${work}/etc/ssh/sshd_config.d/10-rmq-e2e.conf" <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PubkeyAuthentication yes
UseDNS no
GSSAPIAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
CONF
rm -f "${work}"/etc/ssh/ssh_host_*
# No audit capability inside nspawn: don't let pam_loginuid refuse sessions.
sed -i -E 's/^(session\s+)required(\s+pam_loginuid\.so)/\1optional\2/' \
    "${work}/etc/pam.d/sshd"

for unit in "${MASKED_UNITS[@]}"; do
    ln -sfn /dev/null "${work}/etc/systemd/system/${unit}"
done
# firewalld (it needs netbase's /etc/protocols) stays off unless a test turns it on: hosts boot faster.
in_root systemctl disable firewalld.service >&2

# journald: keep logs in memory only, small.
mkdir -p "${work}/etc/systemd/journald.conf.d"
cat >"${work}/etc/systemd/journald.conf.d/10-rmq-e2e.conf" <<'CONF'
[Journal]
Storage=volatile
RuntimeMaxUse=16M
CONF

# Every container gets its own transient machine id and hostname.
: >"${work}/etc/machine-id"
rm -f "${work}/var/lib/dbus/machine-id"
echo localhost >"${work}/etc/hostname"

in_root apt-get clean
rm -rf "${work}"/var/lib/apt/lists/* "${work}"/var/cache/apt/*.bin \
    "${work}"/var/log/*.log "${work}"/tmp/* "${work}"/var/tmp/*
touch "${work}/.rmq-rootfs-complete"
mv "${work}" "${rootfs}"
log "built ${rootfs} in $((SECONDS - start))s ($(du -sh "${rootfs}" | cut -f1))"

# Drop rootfs builds of older script versions that are not in use.
for old in "${cache_root}"/rootfs-*; do
    [[ -d ${old} && ${old} != "${rootfs}" ]] || continue
    if ! grep -qF "${old}" /proc/self/mountinfo; then
        log "removing stale ${old}"
        rm -rf --one-file-system "${old}"
    fi
done

echo "${rootfs}"
