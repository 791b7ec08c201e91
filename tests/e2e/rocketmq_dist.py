#!/usr/bin/env python3
"""What the e2e tests need of RocketMQ releases: Apache's binary release zip, built by the
product's :mod:`localhosts.release_dist` (Apache's tree from ``../shared/vendor/`` plus Maven
Central's jars; ``target: local`` serves the same zip); ``tests/e2e/java/RmqCheck.java``, a
tiny produce/consume client compiled against ``rocketmq-client`` (see :func:`build_client`); and
``java-sdk/ProxyCheck.java``, a round trip through the 5.x proxy with RocketMQ 5's gRPC SDK (see
:func:`build_sdk_client`).

CLI::

    python3 tests/e2e/rocketmq_dist.py --version 5.4.0 --out DIR [--client]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the product's modules are two levels up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localhosts.release_dist import (
    CLIENT_ARTIFACTS,
    DEFAULT_VERSION,
    GROUP_ID,
    Dist,
    DistError,
    _mvn_copy_dependencies,
    _pom,
    build_dist,
    cache_root,
    gpg_sha512_text,
    is_5x,
    release_folder_name,
    sha512_of,
    vendor_dir,
    zip_name,
)
from localhosts.system import exclusive

__all__ = [
    "DEFAULT_VERSION",
    "Dist",
    "DistError",
    "build_client",
    "build_dist",
    "build_sdk_client",
    "cache_root",
    "client_command",
    "commitlog_max_offset",
    "consumer_offsets",
    "gpg_sha512_text",
    "is_5x",
    "keys_in",
    "main",
    "release_folder_name",
    "sdk_client_command",
    "sha512_of",
    "vendor_dir",
    "zip_name",
]

_JAVA_SRC_DIR = Path(__file__).resolve().parent / "java"
_CLIENT_MAIN = "RmqCheck"
_SDK_SRC_DIR = Path(__file__).resolve().parent / "java-sdk"
_SDK_CLIENT_MAIN = "ProxyCheck"
# RocketMQ 5's Java SDK (gRPC, through the proxy); one shaded jar on Maven Central.
SDK_CLIENT_VERSION = "5.0.8"


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
    # 4.9.x keeps the client's request signing (AclClientRPCHook) in rocketmq-acl; 5.x in the client.
    artifacts = [*CLIENT_ARTIFACTS, *([] if is_5x(version) else ["rocketmq-acl"])]
    modules = [f"{GROUP_ID}:{m}:{version}" for m in artifacts]
    return _compiled(_JAVA_SRC_DIR, f"rocketmq-client-{version}", modules, cache_root() / "client" / version)


def build_sdk_client(version: str = SDK_CLIENT_VERSION) -> str:
    """Compile ``java-sdk/ProxyCheck.java`` against RocketMQ 5's gRPC SDK, rocketmq-client-java
    ``version``: a ``java -cp`` classpath, main class ``ProxyCheck``, cached as build_client's."""
    modules = [f"{GROUP_ID}:rocketmq-client-java:{version}"]
    return _compiled(_SDK_SRC_DIR, f"rocketmq-client-java-{version}", modules, cache_root() / "sdk-client" / version)


def _compiled(sources_dir: Path, name: str, modules: list[str], workdir: Path) -> str:
    with exclusive(workdir / ".build.lock"):  # test workers share the cache
        return _compiled_locked(sources_dir, name, modules, workdir)


def _compiled_locked(sources_dir: Path, name: str, modules: list[str], workdir: Path) -> str:
    lib = _mvn_copy_dependencies(_pom(name, modules), workdir / "maven")
    sources = sorted(sources_dir.glob("*.java"))
    if not sources:
        raise DistError(f"no Java sources in {sources_dir}")
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


# The test clients' JVMs: the quick JIT alone and the single-threaded collector. They send and read
# a few thousand messages at most, and share 2 cores with every broker of two lifecycles.
_CLIENT_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def client_command(
    classpath: str,
    *args: str,
    java: str = "java",
    heap: str = "128m",
    route_refresh_seconds: int | None = None,
    start_attempts: int | None = None,
    jvm_options: Sequence[str] = (),
) -> list[str]:
    """``java`` command line running ``RmqCheck`` with ``args``; its clients refresh topic routes
    every ``route_refresh_seconds`` (RocketMQ's default, 30 s, if None), a consumer is started at
    most ``start_attempts`` times (RmqCheck's 10 if None), and ``jvm_options`` come first (TLS)."""
    options = [*jvm_options]
    options += [] if route_refresh_seconds is None else [f"-Drmqcheck.routeRefreshMs={route_refresh_seconds * 1000}"]
    options += [] if start_attempts is None else [f"-Drmqcheck.startAttempts={start_attempts}"]
    return [java, f"-Xms{heap}", f"-Xmx{heap}", *_CLIENT_JVM_OPTIONS, *options, "-cp", classpath, _CLIENT_MAIN, *args]


def sdk_client_command(classpath: str, *args: str, java: str = "java", heap: str = "128m") -> list[str]:
    """``java`` command line running ``ProxyCheck`` (the 5.x SDK) with ``args``; its log goes to
    the temporary directory, not the user's home."""
    log_root = Path(tempfile.gettempdir()) / "rocketmq-pulumi-sdk-client-logs"
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *_CLIENT_JVM_OPTIONS,
        f"-Drocketmq.log.root={log_root}",
        "-cp",
        classpath,
        _SDK_CLIENT_MAIN,
        *args,
    ]


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
        if dist.missing_jars:
            print(f"missing {' '.join(dist.missing_jars)} (not on Maven Central)")
        if args.client:
            print(f"client  {build_client(args.version)}")
    except DistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
