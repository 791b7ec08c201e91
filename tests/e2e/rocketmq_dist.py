#!/usr/bin/env python3
"""Build Apache-RocketMQ-shaped binary release zips from Maven Central.

The machines this project runs on reach Maven Central but not the Apache
download mirrors, and Maven Central does not carry the official
``rocketmq-all-<v>-bin-release.zip``.  This module assembles an equivalent
artifact, cached per version, so the end-to-end tests can deploy "a RocketMQ
release" exactly the way the Pulumi program deploys one from a mirror:

    <out>/rocketmq/<v>/rocketmq-all-<v>-bin-release.zip
    <out>/rocketmq/<v>/rocketmq-all-<v>-bin-release.zip.sha512

The zip unpacks to ``rocketmq-all-<v>-bin-release/`` (5.x) or
``rocketmq-<v>/`` (4.x) holding:

* ``lib/``  the namesrv, broker and tools jars plus their runtime
  dependencies, resolved by ``mvn dependency:copy-dependencies``;
* ``conf/`` a sample ``broker.conf`` and the logging configuration the
  servers load: for 5.x the ``rmq.*.logback.xml`` files the RocketMQ jars
  themselves ship (extracted from those jars), for 4.x ``logback_*.xml``
  files written here (4.x jars ship none, and 4.x servers refuse to start
  without ``$ROCKETMQ_HOME/conf/logback_<role>.xml``);
* ``bin/``  bash launchers written for this project that behave like the
  release's: ``mqnamesrv``, ``mqbroker``, ``mqshutdown``, ``mqadmin`` on top
  of the shared JVM launchers ``runserver.sh``, ``runbroker.sh``,
  ``tools.sh``.

The zip is deterministic (sorted entries, fixed timestamps), so the same
version and recipe always give the same SHA-512.

It also compiles ``tests/e2e/java/RmqCheck.java``, a tiny produce/consume
client, against ``rocketmq-client`` (see :func:`build_client`).

Everything downloaded or built lives under
``${RMQ_CACHE:-${XDG_CACHE_HOME:-~/.cache}/rocketmq-pulumi}``; nothing is
written into the repository.

CLI::

    python3 tests/e2e/rocketmq_dist.py --version 5.5.0 --out DIR [--client]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_VERSION",
    "Dist",
    "DistError",
    "build_client",
    "build_dist",
    "cache_root",
    "client_command",
    "commitlog_max_offset",
    "consumer_offsets",
    "is_5x",
    "java_release_flags",
    "keys_in",
    "main",
    "release_folder_name",
    "sha512_line",
    "zip_name",
]

#: The program's default release (components.config.DEFAULT_VERSION; a test
#: keeps the two equal). 5.5.0 is also buildable; 5.5.1 is not: Maven Central
#: has its broker/common/store but no namesrv/tools/client.
DEFAULT_VERSION = "5.4.0"

GROUP_ID = "org.apache.rocketmq"
SERVER_ARTIFACTS = ("rocketmq-namesrv", "rocketmq-broker", "rocketmq-tools")
CLIENT_ARTIFACTS = ("rocketmq-client",)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

#: Bump whenever the launcher/conf recipe changes: cached zips built with an
#: older recipe are rebuilt.
RECIPE_REVISION = "2"

#: Timestamp stamped on every zip entry (zip has no time zone; 2000-01-01).
_ZIP_EPOCH = (2000, 1, 1, 0, 0, 0)

_JAVA_SRC_DIR = Path(__file__).resolve().parent / "java"
_CLIENT_MAIN = "RmqCheck"


class DistError(RuntimeError):
    """Raised when an artifact cannot be fetched or built."""


@dataclass(frozen=True)
class Dist:
    """A built release artifact."""

    version: str
    zip_path: Path
    sha512_path: Path
    sha512: str
    folder: str  #: top-level folder inside the zip

    @property
    def zip_name(self) -> str:
        return self.zip_path.name


# --------------------------------------------------------------------------
# naming helpers
# --------------------------------------------------------------------------


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def is_5x(version: str) -> bool:
    """True for RocketMQ 5.0 and later (logback-in-jar, new folder name)."""
    return _version_tuple(version) >= (5,)


def zip_name(version: str) -> str:
    """File name Apache publishes the binary release under."""
    return f"rocketmq-all-{version}-bin-release.zip"


def release_folder_name(version: str) -> str:
    """Top-level folder inside the Apache binary release zip."""
    return f"rocketmq-all-{version}-bin-release" if is_5x(version) else f"rocketmq-{version}"


def sha512_line(digest: str, filename: str) -> str:
    """The ``.sha512`` content: ``sha512sum`` text format, one line.

    ``<128 lowercase hex digits><two spaces><file name>\\n`` so that
    ``sha512sum -c rocketmq-all-<v>-bin-release.zip.sha512`` works in the
    directory holding both files.
    """
    return f"{digest}  {filename}\n"


def cache_root() -> Path:
    """``${RMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rocketmq-pulumi}``."""
    explicit = os.environ.get("RMQ_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "rocketmq-pulumi"


def java_release_flags() -> list[str]:
    """JDK 9+ module flags the launchers pass to every RocketMQ JVM."""
    return list(_JDK9_MODULE_FLAGS)


# --------------------------------------------------------------------------
# Maven
# --------------------------------------------------------------------------


def _pom(artifacts: Iterable[str], version: str) -> str:
    deps = "\n".join(
        "    <dependency>\n"
        f"      <groupId>{GROUP_ID}</groupId>\n"
        f"      <artifactId>{artifact}</artifactId>\n"
        f"      <version>{version}</version>\n"
        "    </dependency>"
        for artifact in artifacts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.rocketmq-pulumi</groupId>\n"
        f"  <artifactId>rocketmq-fetch-{version}</artifactId>\n"
        "  <version>0</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n"
        f"{deps}\n"
        "  </dependencies>\n"
        "</project>\n"
    )


def _mvn_copy_dependencies(artifacts: Sequence[str], version: str, workdir: Path) -> Path:
    """Resolve ``artifacts`` (+ runtime deps) into ``workdir/lib``; cached."""
    lib = workdir / "lib"
    stamp = workdir / ".complete"
    pom_text = _pom(artifacts, version)
    if stamp.is_file() and stamp.read_text() == pom_text and lib.is_dir():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DistError("mvn not found on PATH (Maven is needed to fetch RocketMQ jars)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pom.xml").write_text(pom_text)
    staging = workdir / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(workdir / "pom.xml"),
        f"-Dmaven.repo.local={cache_root() / 'm2repo'}",
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DistError(
            f"mvn could not resolve {', '.join(artifacts)} {version} from Maven Central "
            f"(is every module of that version published?):\n{tail}"
        )
    missing = [a for a in artifacts if not (staging / f"{a}-{version}.jar").is_file()]
    if missing:
        raise DistError(f"mvn ran but these jars are missing: {missing}")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    stamp.write_text(pom_text)
    return lib


# --------------------------------------------------------------------------
# launchers (bin/)
# --------------------------------------------------------------------------

# Flags every RocketMQ JVM needs on JDK 9+ (checked on JDK 17): the store
# unmaps MappedByteBuffers through the JDK-internal cleaner, Netty and
# fastjson reflect into java.nio / java.lang.
_JDK9_MODULE_FLAGS = (
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
)

_LICENSE_HEADER = """\
# RocketMQ launcher written for the rocketmq-pulumi end-to-end tests.
# It mimics the behaviour of the script of the same name in the Apache
# RocketMQ binary release; it is not a copy of it.
"""

# Shared prelude of the three JVM launchers.  Sets ROCKETMQ_HOME from the
# script location, finds java, and exposes rmq_run_java.
_PRELUDE = r"""
rmq_die() {
  echo "ERROR: $*" >&2
  exit 1
}

# ROCKETMQ_HOME is always the unpacked release this script belongs to.
ROCKETMQ_HOME=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
export ROCKETMQ_HOME

rmq_find_java() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "${JAVA_HOME}/bin/java" ]; then
    JAVA="${JAVA_HOME}/bin/java"
    return 0
  fi
  local tool found
  for tool in javac java; do
    found=$(command -v "${tool}" 2>/dev/null) || continue
    found=$(readlink -f "${found}")
    if [ -x "$(dirname "${found}")/java" ]; then
      JAVA="$(dirname "${found}")/java"
      JAVA_HOME=$(cd "$(dirname "${found}")/.." && pwd)
      export JAVA_HOME
      return 0
    fi
  done
  rmq_die "no Java found: set JAVA_HOME or put java on PATH (JDK 8 or later)"
}

rmq_java_major() {
  local raw
  raw=$("${JAVA}" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')
  case "${raw}" in
    1.*) raw=${raw#1.}; echo "${raw%%.*}" ;;
    "") echo 8 ;;
    *) echo "${raw%%[.+-]*}" ;;
  esac
}

rmq_find_java
JAVA_MAJOR=$(rmq_java_major)

# GC logs go next to the RocketMQ logs unless RMQ_GC_LOG_DIR says otherwise.
GC_LOG_DIR=${RMQ_GC_LOG_DIR:-${HOME:-/tmp}/logs/rocketmqlogs}
mkdir -p "${GC_LOG_DIR}" 2>/dev/null || GC_LOG_DIR=/tmp

rmq_gc_opts() {  # $1 = log file prefix
  if [ "${JAVA_MAJOR}" -ge 9 ]; then
    echo "-XX:+UseG1GC -XX:G1HeapRegionSize=16m -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30 -XX:SoftRefLRUPolicyMSPerMB=0 -Xlog:gc*:file=${GC_LOG_DIR}/$1_gc_%p.log:time,tags:filecount=5,filesize=30M"
  else
    echo "-XX:+UseG1GC -XX:G1HeapRegionSize=16m -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30 -XX:SoftRefLRUPolicyMSPerMB=0 -verbose:gc -Xloggc:${GC_LOG_DIR}/$1_gc_%p.log -XX:+PrintGCDetails -XX:+PrintGCDateStamps -XX:+UseGCLogFileRotation -XX:NumberOfGCLogFiles=5 -XX:GCLogFileSize=30m"
  fi
}

rmq_module_opts() {
  if [ "${JAVA_MAJOR}" -ge 9 ]; then
    echo "@MODULE_FLAGS@"
  fi
}

# Runs java in the foreground (no exec, like the release: this shell stays
# the JVM's parent and returns its exit status).  JAVA_OPT is word-split on
# purpose; JAVA_OPT_EXT comes last so it overrides the defaults.
rmq_run_java() {
  # shellcheck disable=SC2086
  "${JAVA}" ${JAVA_OPT} ${JAVA_OPT_EXT:-} -cp "${ROCKETMQ_HOME}/conf:${ROCKETMQ_HOME}/lib/*${CLASSPATH:+:${CLASSPATH}}" "$@"
}
"""


def _launcher(body: str) -> str:
    prelude = _PRELUDE.replace("@MODULE_FLAGS@", " ".join(_JDK9_MODULE_FLAGS))
    return "#!/usr/bin/env bash\n" + _LICENSE_HEADER + prelude + body


_RUNSERVER = r"""
# Usage: runserver.sh [JVM args...] MainClass [args...]
if [ $# -lt 1 ]; then
  echo "Usage: $0 [jvm options] class [args...]" >&2
  exit 1
fi
JAVA_OPT="-server -Xms4g -Xmx4g -XX:MetaspaceSize=128m -XX:MaxMetaspaceSize=320m"
JAVA_OPT="${JAVA_OPT} $(rmq_gc_opts rmq_srv)"
JAVA_OPT="${JAVA_OPT} -XX:-OmitStackTraceInFastThrow -XX:-UseLargePages"
JAVA_OPT="${JAVA_OPT} $(rmq_module_opts)"
rmq_run_java "$@"
"""

_RUNBROKER = r"""
# Usage: runbroker.sh [JVM args...] MainClass [args...]
if [ $# -lt 1 ]; then
  echo "Usage: $0 [jvm options] class [args...]" >&2
  exit 1
fi
JAVA_OPT="-server -Xms8g -Xmx8g"
JAVA_OPT="${JAVA_OPT} $(rmq_gc_opts rmq_broker)"
JAVA_OPT="${JAVA_OPT} -XX:+AlwaysPreTouch -XX:MaxDirectMemorySize=15g"
JAVA_OPT="${JAVA_OPT} -XX:-OmitStackTraceInFastThrow -XX:+PerfDisableSharedMem -XX:-UseLargePages -XX:-UseBiasedLocking"
JAVA_OPT="${JAVA_OPT} $(rmq_module_opts)"
if [ "${JAVA_MAJOR}" -ge 15 ]; then
  # UseBiasedLocking is deprecated (JDK 15) and gone (JDK 18).
  JAVA_OPT=${JAVA_OPT/ -XX:-UseBiasedLocking/}
fi
rmq_run_java "$@"
"""

_TOOLS = r"""
# Usage: tools.sh MainClass [args...]
if [ $# -lt 1 ]; then
  echo "Usage: $0 class [args...]" >&2
  exit 1
fi
JAVA_OPT="-server -Xms1g -Xmx1g -XX:MetaspaceSize=128m -XX:MaxMetaspaceSize=128m"
JAVA_OPT="${JAVA_OPT} $(rmq_module_opts)"
@TOOLS_LOGBACK@
rmq_run_java "$@"
"""

_HOME_ONLY = (
    r"""#!/usr/bin/env bash
"""
    + _LICENSE_HEADER
    + r"""
ROCKETMQ_HOME=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
export ROCKETMQ_HOME
"""
)

_MQNAMESRV = (
    _HOME_ONLY
    + r"""
# Foreground name server (the caller backgrounds it: nohup mqnamesrv &).
bash "${ROCKETMQ_HOME}/bin/runserver.sh" @LOGBACK@ org.apache.rocketmq.namesrv.NamesrvStartup "$@"
"""
)

_MQBROKER = (
    _HOME_ONLY
    + r"""
# Foreground broker; arguments go to BrokerStartup, e.g.
#   mqbroker -c conf/broker.conf -n "host1:9876;host2:9876"
for arg in "$@"; do
  if [ "${arg}" = "--enable-proxy" ]; then
    echo "ERROR: --enable-proxy is not supported: rocketmq-proxy is not bundled in this build" >&2
    exit 1
  fi
done
bash "${ROCKETMQ_HOME}/bin/runbroker.sh" @LOGBACK@ org.apache.rocketmq.broker.BrokerStartup "$@"
"""
)

_MQADMIN = (
    _HOME_ONLY
    + r"""
# Admin CLI.  MQAdminStartup reports errors on stdout and still exits 0,
# exactly like the release's mqadmin: check its output, not its status.
bash "${ROCKETMQ_HOME}/bin/tools.sh" org.apache.rocketmq.tools.command.MQAdminStartup "$@"
"""
)

_MQSHUTDOWN = (
    r"""#!/usr/bin/env bash
"""
    + _LICENSE_HEADER
    + r"""
# Usage: mqshutdown namesrv|broker|controller
# Sends SIGTERM to every java process on this host running that component's
# main class and returns at once (it does not wait for the JVMs to exit).

rmq_pids_of() {  # $1 = main class; -ww: full command lines even when COLUMNS is set
  ps -ww -eo pid=,comm=,args= | awk -v cls="$1" '$2 == "java" && index($0, cls) > 0 { print $1 }'
}

case "${1:-}" in
  namesrv) name=mqnamesrv; cls=org.apache.rocketmq.namesrv.NamesrvStartup ;;
  broker) name=mqbroker; cls=org.apache.rocketmq.broker.BrokerStartup ;;
  controller) name=mqcontroller; cls=org.apache.rocketmq.controller.ControllerStartup ;;
  *)
    echo "Usage: mqshutdown (namesrv|broker|controller)"
    exit 1
    ;;
esac

pids=$(rmq_pids_of "${cls}" | tr '\n' ' ')
pids=${pids% }
if [ -z "${pids}" ]; then
  echo "No ${name} running."
  exit 255
fi
echo "The ${name}(${pids}) is running..."
# shellcheck disable=SC2086
kill ${pids}
echo "Send shutdown request to ${name}(${pids}) OK"
"""
)


def _bin_files(version: str) -> dict[str, str]:
    v5 = is_5x(version)

    def logback(role: str) -> str:
        # 5.x picks its logback file from -Drmq.logback.configurationFile,
        # else the first rmq.*.logback.xml on the classpath (broker before
        # namesrv), so each launcher names its own.  4.x servers load
        # $ROCKETMQ_HOME/conf/logback_<role>.xml themselves.
        if not v5:
            return ""
        return f'-Drmq.logback.configurationFile="${{ROCKETMQ_HOME}}/conf/rmq.{role}.logback.xml"'

    tools_logback = (
        'JAVA_OPT="${JAVA_OPT} -Drmq.logback.configurationFile=${ROCKETMQ_HOME}/conf/rmq.tools.logback.xml"'
        if v5
        else ""
    )
    return {
        "runserver.sh": _launcher(_RUNSERVER),
        "runbroker.sh": _launcher(_RUNBROKER),
        "tools.sh": _launcher(_TOOLS.replace("@TOOLS_LOGBACK@", tools_logback)),
        "mqnamesrv": _MQNAMESRV.replace("@LOGBACK@ ", logback("namesrv") + " " if v5 else ""),
        "mqbroker": _MQBROKER.replace("@LOGBACK@ ", logback("broker") + " " if v5 else ""),
        "mqadmin": _MQADMIN,
        "mqshutdown": _MQSHUTDOWN,
    }


# --------------------------------------------------------------------------
# configuration (conf/)
# --------------------------------------------------------------------------

_BROKER_CONF = """\
# Sample broker configuration (key=value, read by mqbroker -c FILE).
brokerClusterName=DefaultCluster
brokerName=broker-a
# 0 = master, >0 = slave
brokerId=0
# ASYNC_MASTER | SYNC_MASTER | SLAVE
brokerRole=ASYNC_MASTER
# ASYNC_FLUSH | SYNC_FLUSH
flushDiskType=ASYNC_FLUSH
# hour of day at which expired commit log files are deleted
deleteWhen=04
# hours a commit log file is kept
fileReservedTime=48
"""

# 4.x: logger name -> log file (without .log); anything else goes to root.
_LOGBACK_4X: dict[str, tuple[str, dict[str, str]]] = {
    "namesrv": (
        "namesrv",
        {"RocketmqNamesrv": "namesrv", "RocketmqCommon": "namesrv", "RocketmqRemoting": "remoting"},
    ),
    "broker": (
        "broker",
        {
            "RocketmqBroker": "broker",
            "RocketmqCommon": "broker",
            "RocketmqRemoting": "remoting",
            "RocketmqStore": "store",
            "RocketmqStoreError": "storeerror",
            "RocketmqTransaction": "transaction",
            "RocketmqRebalanceLock": "lock",
            "RocketmqFilter": "filter",
            "RocketmqStats": "stats",
            "RocketmqCommercial": "commercial",
            "RocketmqProtection": "protection",
            "RocketmqWaterMark": "watermark",
            "RocketmqFlowControl": "flowcontrol",
            "RocketmqAuthorize": "authorize",
        },
    ),
    "tools": (
        "tools",
        {"RocketmqTools": "tools", "RocketmqCommon": "tools", "RocketmqRemoting": "tools"},
    ),
}

_CONSOLE_LOGGERS_4X = {
    "namesrv": "RocketmqNamesrvConsole",
    "broker": "RocketmqConsole",
    "tools": "",
}


def _logback_4x(role: str) -> str:
    """A logback.xml for a 4.x server, logging to ~/logs/rocketmqlogs/."""
    default_file, loggers = _LOGBACK_4X[role]
    files = sorted({default_file, *loggers.values()})
    log_dir = "${user.home}/logs/rocketmqlogs"
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f"<!-- logging for the RocketMQ {role} (4.x); written for rocketmq-pulumi -->\n")
    out.write("<configuration>\n")
    for name in files:
        out.write(
            f'  <appender name="{name}File" class="ch.qos.logback.core.rolling.RollingFileAppender">\n'
            f"    <file>{log_dir}/{name}.log</file>\n"
            "    <append>true</append>\n"
            '    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">\n'
            f"      <fileNamePattern>{log_dir}/otherdays/{name}.%i.log.gz</fileNamePattern>\n"
            "      <minIndex>1</minIndex>\n"
            "      <maxIndex>5</maxIndex>\n"
            "    </rollingPolicy>\n"
            '    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">\n'
            "      <maxFileSize>100MB</maxFileSize>\n"
            "    </triggeringPolicy>\n"
            "    <encoder>\n"
            "      <pattern>%d{yyyy-MM-dd HH:mm:ss.SSS} %-5p %t - %m%n</pattern>\n"
            "      <charset>UTF-8</charset>\n"
            "    </encoder>\n"
            "  </appender>\n"
        )
    out.write(
        '  <appender name="Console" class="ch.qos.logback.core.ConsoleAppender">\n'
        "    <encoder><pattern>%m%n</pattern><charset>UTF-8</charset></encoder>\n"
        "  </appender>\n"
    )
    for logger, name in sorted(loggers.items()):
        out.write(
            f'  <logger name="{logger}" additivity="false" level="INFO">\n'
            f'    <appender-ref ref="{name}File"/>\n'
            "  </logger>\n"
        )
    console = _CONSOLE_LOGGERS_4X[role]
    if console:
        out.write(
            f'  <logger name="{console}" additivity="false" level="INFO">\n'
            '    <appender-ref ref="Console"/>\n'
            "  </logger>\n"
        )
    out.write(f'  <root level="INFO">\n    <appender-ref ref="{default_file}File"/>\n  </root>\n</configuration>\n')
    return out.getvalue()


def _conf_files(version: str, lib: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {"broker.conf": _BROKER_CONF.encode()}
    if is_5x(version):
        # The 5.x jars ship their own logback configs; the release keeps
        # copies in conf/ that the launchers point at.  Take them verbatim
        # from the jars we are bundling.
        for jar in sorted(lib.glob("rocketmq-*.jar")):
            with zipfile.ZipFile(jar) as zf:
                for entry in zf.namelist():
                    if entry.startswith("rmq.") and entry.endswith(".logback.xml") and "/" not in entry:
                        files.setdefault(entry, zf.read(entry))
        for role in ("namesrv", "broker", "tools"):
            if f"rmq.{role}.logback.xml" not in files:
                raise DistError(f"rmq.{role}.logback.xml not found in the {version} jars")
    else:
        for role in ("namesrv", "broker", "tools"):
            files[f"logback_{role}.xml"] = _logback_4x(role).encode()
    return files


# --------------------------------------------------------------------------
# zip
# --------------------------------------------------------------------------


def _recipe_digest(version: str) -> str:
    h = hashlib.sha256()
    h.update(f"{RECIPE_REVISION}\0{version}\0".encode())
    for name, text in sorted(_bin_files(version).items()):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    h.update(_BROKER_CONF.encode())
    if not is_5x(version):
        for role in sorted(_LOGBACK_4X):
            h.update(_logback_4x(role).encode())
    return h.hexdigest()


def _zip_info(name: str, mode: int, is_dir: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.create_system = 3  # unix, so unzip restores permissions
    info.external_attr = ((0o040000 if is_dir else 0o100000) | mode) << 16
    if is_dir:
        info.external_attr |= 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _write_zip(target: Path, folder: str, entries: dict[str, tuple[bytes | Path, int]]) -> None:
    """Write a deterministic zip: ``entries`` maps relative path -> (data, mode)."""
    dirs: set[str] = {folder + "/"}
    for rel in entries:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add(folder + "/" + "/".join(parts[:i]) + "/")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for d in sorted(dirs):
            zf.writestr(_zip_info(d, 0o755, is_dir=True), b"")
        for rel in sorted(entries):
            data, mode = entries[rel]
            payload = data.read_bytes() if isinstance(data, Path) else data
            zf.writestr(_zip_info(f"{folder}/{rel}", mode), payload, compresslevel=6)


def _sha512_file(path: Path) -> str:
    h = hashlib.sha512()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_dist(version: str = DEFAULT_VERSION, out: Path | str | None = None, *, force: bool = False) -> Dist:
    """Build (or reuse from cache) the binary release zip of ``version``.

    The zip and its ``.sha512`` are kept in ``<cache>/dist/<version>/``.
    With ``out``, they are also copied to ``<out>/rocketmq/<version>/`` (an
    Apache-mirror-like tree) and the returned paths point there.
    """
    workdir = cache_root() / "dist" / version
    lib = _mvn_copy_dependencies(SERVER_ARTIFACTS, version, workdir / "maven")
    name = zip_name(version)
    zip_path = workdir / name
    sha_path = workdir / f"{name}.sha512"
    stamp = workdir / ".recipe"
    recipe = _recipe_digest(version)
    if force or not (zip_path.is_file() and sha_path.is_file() and stamp.is_file() and stamp.read_text() == recipe):
        folder = release_folder_name(version)
        entries: dict[str, tuple[bytes | Path, int]] = {}
        for fname, text in _bin_files(version).items():
            entries[f"bin/{fname}"] = (text.encode(), 0o755)
        for fname, data in _conf_files(version, lib).items():
            entries[f"conf/{fname}"] = (data, 0o644)
        for jar in sorted(lib.glob("*.jar")):
            entries[f"lib/{jar.name}"] = (jar, 0o644)
        with tempfile.NamedTemporaryFile(dir=workdir, suffix=".zip.partial", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        try:
            _write_zip(tmp_path, folder, entries)
            digest = _sha512_file(tmp_path)
            tmp_path.replace(zip_path)
        finally:
            tmp_path.unlink(missing_ok=True)
        sha_path.write_text(sha512_line(digest, name))
        stamp.write_text(recipe)
    digest = sha_path.read_text().split()[0]
    dist = Dist(version, zip_path, sha_path, digest, release_folder_name(version))
    if out is not None:
        dest = Path(out) / "rocketmq" / version
        dest.mkdir(parents=True, exist_ok=True)
        zip_target, sha_target = dest / name, dest / sha_path.name
        if not (zip_target.is_file() and _sha512_file(zip_target) == digest):
            shutil.copyfile(zip_path, zip_target)
        if not (sha_target.is_file() and sha_target.read_text() == sha_path.read_text()):
            shutil.copyfile(sha_path, sha_target)
        dist = Dist(version, dest / name, dest / sha_path.name, digest, dist.folder)
    return dist


# --------------------------------------------------------------------------
# Java client
# --------------------------------------------------------------------------


def _javac() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "javac").is_file():
        return str(Path(java_home) / "bin" / "javac")
    found = shutil.which("javac")
    if found is None:
        raise DistError("javac not found (set JAVA_HOME or install a JDK)")
    return found


def build_client(version: str = DEFAULT_VERSION) -> str:
    """Compile ``java/RmqCheck.java`` against rocketmq-client ``version``.

    Returns a ``java -cp`` classpath (``classes:lib/*``); main class
    ``RmqCheck``.  Jars and classes are cached under ``<cache>/client/<v>``.
    """
    workdir = cache_root() / "client" / version
    lib = _mvn_copy_dependencies(CLIENT_ARTIFACTS, version, workdir / "maven")
    sources = sorted(_JAVA_SRC_DIR.glob("*.java"))
    if not sources:
        raise DistError(f"no Java sources in {_JAVA_SRC_DIR}")
    h = hashlib.sha256()
    for src in sources:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    classes = workdir / "classes"
    stamp = workdir / ".classes"
    classpath = f"{classes}{os.pathsep}{lib}{os.sep}*"
    if stamp.is_file() and stamp.read_text() == h.hexdigest() and classes.is_dir():
        return classpath
    staging = workdir / "classes.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cmd = [
        _javac(),
        "-nowarn",
        "-encoding",
        "UTF-8",
        "--release",
        "8",
        "-d",
        str(staging),
        "-cp",
        f"{lib}{os.sep}*",
        *map(str, sources),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DistError(f"javac failed:\n{proc.stdout}{proc.stderr}")
    shutil.rmtree(classes, ignore_errors=True)
    staging.rename(classes)
    stamp.write_text(h.hexdigest())
    return classpath


def client_command(classpath: str, *args: str, java: str = "java", heap: str = "128m") -> list[str]:
    """``java`` command line running ``RmqCheck`` with ``args``."""
    return [java, f"-Xms{heap}", f"-Xmx{heap}", "-cp", classpath, _CLIENT_MAIN, *args]


def keys_in(output: str, marker: str) -> list[str]:
    """Message keys from ``RmqCheck --verbose``: ``marker`` is KEY (produce) or GOT (consume)."""
    return [line.split()[1] for line in output.splitlines() if line.startswith(marker + " ")]


def commitlog_max_offset(broker_status: str) -> int:
    """``commitLogMaxOffset`` from ``mqadmin brokerStatus``: how far a broker's commit log reaches."""
    found = re.search(r"^\s*commitLogMaxOffset\s*:\s*(\d+)", broker_status, re.MULTILINE)
    if not found:
        raise DistError(f"brokerStatus shows no commitLogMaxOffset:\n{broker_status}")
    return int(found.group(1))


def consumer_offsets(consume_stats: str, topic: str, group: str) -> dict[int, tuple[int, int]]:
    """queue id -> (broker offset, consumer offset) from ``mqadmin brokerConsumeStats``.

    A broker that knows nothing of the group (e.g. a slave that has not synced
    yet) gives an empty map."""
    offsets = {}
    for line in consume_stats.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[0] == topic and fields[1] == group and fields[3].isdigit():
            offsets[int(fields[3])] = (int(fields[4]), int(fields[5]))
    return offsets


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=DEFAULT_VERSION, help=f"RocketMQ version (default {DEFAULT_VERSION})")
    parser.add_argument("--out", type=Path, help="mirror root: writes <out>/rocketmq/<v>/<zip>{,.sha512}")
    parser.add_argument("--force", action="store_true", help="rebuild the zip even if cached")
    parser.add_argument("--client", action="store_true", help="also build the RmqCheck client; prints its classpath")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        dist = build_dist(args.version, args.out, force=args.force)
        print(f"zip     {dist.zip_path}")
        print(f"sha512  {dist.sha512_path}")
        print(f"folder  {dist.folder}/")
        if args.client:
            print(f"client  {build_client(args.version)}")
    except DistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
