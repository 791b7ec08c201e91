#!/bin/bash
# The guide's steps by hand on one host, as a person would script them: the baseline that
# benchmarks/e2e_up.py times `pulumi up` against. Runs as root; nothing here is the product's.
# usage: manual-install.sh ZIP_URL NAMESRV_ADDR namesrv|broker|both [BROKER_CONF_BASE64]
set -euo pipefail
zip_url=$1
namesrv_addr=$2
roles=$3
broker_conf_b64=${4:-}
home=/opt/rocketmq-manual
export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
export PATH="$JAVA_HOME/bin:$PATH"

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
curl --fail --silent --show-error --output "$workdir/release.zip" "$zip_url"
curl --fail --silent --show-error --output "$workdir/release.zip.sha512" "$zip_url.sha512"
expected=$(sed -e 's/^[^:]*: *//' "$workdir/release.zip.sha512" | tr -d ' \t\r\n' | tr 'A-F' 'a-f')
[[ $(sha512sum "$workdir/release.zip" | awk '{print $1}') == "$expected" ]] || { echo "SHA-512 mismatch" >&2; exit 1; }
rm -rf "$home"
unzip -q "$workdir/release.zip" -d "$workdir/unpacked"
mv -T "$workdir/unpacked"/* "$home"

# start NAME COMMAND...: a transient systemd unit, so the JVM outlives this ssh session.
start() {
  local name=$1
  shift
  systemd-run --quiet --collect --unit="manual-$name" --setenv=JAVA_HOME="$JAVA_HOME" \
    --setenv=PATH="$PATH" --setenv=ROCKETMQ_HOME="$home" --setenv=JAVA_OPT_EXT="$JAVA_OPT_EXT" "$@"
}

if [[ $roles == namesrv || $roles == both ]]; then
  JAVA_OPT_EXT="-Xms128m -Xmx128m -Xmn64m" start namesrv /bin/bash "$home/bin/mqnamesrv"
fi
if [[ $roles == broker || $roles == both ]]; then
  printf '%s' "$broker_conf_b64" | base64 -d >"$home/conf/manual-broker.conf"
  # The guide starts brokers once the name servers run: wait until each accepts connections.
  IFS=';' read -ra name_servers <<<"$namesrv_addr"
  for ns in "${name_servers[@]}"; do
    until (exec 3<>"/dev/tcp/${ns%:*}/${ns##*:}") 2>/dev/null; do sleep 0.2; done
  done
  JAVA_OPT_EXT="-Xms256m -Xmx256m -Xmn128m -XX:MaxDirectMemorySize=256m" \
    start broker /bin/bash "$home/bin/mqbroker" -c "$home/conf/manual-broker.conf" -n "$namesrv_addr"
fi
