"""Rendered host scripts run here, against stand-ins for what they call: the start script sizes
heaps and cleans GC logs, the install script reads both SHA-512 formats, the mqadmin wrapper, the
JDK flags of 4.9.x, and the failure report of a service that does not become healthy."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from components import rendering
from components.config import parse_config
from components.config_model import ReleaseSettings
from tests.e2e import rocketmq_dist
from tests.stacks import NAMESRV, hosts_stack


@pytest.mark.parametrize(
    ("memory_mb", "role", "heap", "expected_mb"),
    [
        (2048, "namesrv", "auto", 256),
        (2048, "broker", "auto", 512),
        (512, "broker", "auto", 256),  # floor
        (65536, "namesrv", "auto", 4096),  # ceiling
        (65536, "broker", "auto", 8192),
        (2048, "broker", "1g", 1024),
        (2048, "namesrv", "200m", 200),
    ],
)
def test_start_script_sizes_the_heap(tmp_path: Path, memory_mb: int, role: str, heap: str, expected_mb: int) -> None:
    release = parse_config(hosts_stack("single-master")).release
    out = _run_start_script(tmp_path, release, role, heap, memory_mb=memory_mb)
    assert f"-Xms{expected_mb}m -Xmx{expected_mb}m -Xmn{expected_mb // 2}m" in out
    if role == "broker":
        assert f"-XX:MaxDirectMemorySize={expected_mb}m" in out
        assert f"ARGS=-c /etc/rocketmq/broker.conf -n {NAMESRV}" in out


# What `gpg --print-md SHA512` printed for a file holding the 8 bytes "rocketmq" (Apache's format).
GPG_SHA512_OF_ROCKETMQ = """\
rocketmq-all-5.4.0-bin-release.zip: EAE4D97D 597350BB 52291752 6382DF4F BDB03943
                                    4DECC3AB C7EF5FE8 7AF7C3E8 524E125B D7422BE1
                                    47284400 B8CE9565 08B04541 0AA1A2B7 8F1F0139
                                    36EE79E5
"""
SHA512_OF_ROCKETMQ = hashlib.sha512(b"rocketmq").hexdigest()


def _bash_function(script: str, name: str) -> str:
    """The text of one function of a rendered script, to run it alone."""
    start = script.index(f"{name}() {{")
    return script[start : script.index("\n}\n", start) + 3]


@pytest.mark.parametrize(
    "sha512_file",
    [GPG_SHA512_OF_ROCKETMQ, f"{SHA512_OF_ROCKETMQ}  rocketmq-all-5.4.0-bin-release.zip\n"],
    ids=["gpg --print-md (Apache)", "sha512sum"],
)
def test_install_script_reads_both_sha512_formats(tmp_path: Path, sha512_file: str) -> None:
    script = rendering.render_install_script("h", parse_config(hosts_stack("single-master")).release)
    published = tmp_path / "release.zip.sha512"
    published.write_text(sha512_file)
    read = _bash_function(script, "read_sha512")
    result = subprocess.run(
        ["bash", "-c", f'{read}\nread_sha512 "$1"', "_", str(published)], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == SHA512_OF_ROCKETMQ


def test_test_mirror_writes_apaches_sha512_format() -> None:
    assert rocketmq_dist.gpg_sha512_text(SHA512_OF_ROCKETMQ, "rocketmq-all-5.4.0-bin-release.zip") == (
        GPG_SHA512_OF_ROCKETMQ
    )


@pytest.mark.parametrize(
    ("version", "expect_flags"),
    [("4.9.7", True), ("4.9.3", True), ("4.9.2", False), ("5.4.0", False)],  # 4.9.2 runs on JDK 8
)
def test_jdk_module_flags_only_for_4_9_on_jdk_17(tmp_path: Path, version: str, expect_flags: bool) -> None:
    release = parse_config(hosts_stack("multi-master", version=version)).release
    flags = "--add-opens=java.base/java.nio=ALL-UNNAMED"
    assert (flags in rendering.render_start_script(release)) is expect_flags
    assert (flags in rendering.render_mqadmin(release)) is expect_flags
    out = _run_start_script(tmp_path, release, "broker", "1g")
    assert (flags in out) is expect_flags
    if expect_flags:
        assert out.index("-Xmx1024m") < out.index(flags), "the flags ride in JAVA_OPT_EXT"


def test_mqadmin_runs_apaches_tools_sh_with_a_small_heap(tmp_path: Path) -> None:
    home = tmp_path / "rocketmq"
    (home / "bin").mkdir(parents=True)
    # A stand-in for tools.sh that prints the arguments it gets: JVM options, then the main class.
    (home / "bin" / "tools.sh").write_text('echo "JAVA_HOME=$JAVA_HOME ARGS=$*"\n')
    java_env = tmp_path / "java.env"
    java_env.write_text('JAVA_HOME="/usr/lib/jvm/jdk"\n')
    release = parse_config(hosts_stack("single-master")).release
    script = rendering.render_mqadmin(release).replace("/etc/rocketmq/java.env", str(java_env))
    script = script.replace(f"ROCKETMQ_HOME={rendering.ROCKETMQ_HOME}", f"ROCKETMQ_HOME={home}")
    wrapper = tmp_path / "mqadmin"
    wrapper.write_text(script)
    out = subprocess.run(["bash", str(wrapper), "clusterList", "-n", NAMESRV], capture_output=True, text=True).stdout
    assert out.startswith(
        "JAVA_HOME=/usr/lib/jvm/jdk ARGS=-Xms64m -Xmx128m -Xmn32m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
    )
    assert out.rstrip().endswith(f"org.apache.rocketmq.tools.command.MQAdminStartup clusterList -n {NAMESRV}")
    assert "rmq.tools.logback.xml" in out


def test_start_script_removes_gc_logs_of_dead_jvms_only(tmp_path: Path) -> None:
    shm = tmp_path / "shm"
    shm.mkdir()
    alive = os.getpid()
    dead = _dead_pid()
    kept = [shm / f"rmq_srv_gc_{alive}_2026-11-25_12-00-00.log.0", shm / "other_file"]
    removed = [
        shm / f"rmq_srv_gc_{dead}_2026-11-25_11-00-00.log.0",
        shm / f"rmq_srv_gc_{dead}_2026-11-25_11-00-00.log.1",
    ]
    for path in kept + removed:
        path.write_text("gc")
    _run_start_script(tmp_path, parse_config(hosts_stack("single-master")).release, "namesrv", "128m", shm=shm)
    assert all(p.exists() for p in kept)
    assert not any(p.exists() for p in removed)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _run_start_script(
    tmp_path: Path, release: ReleaseSettings, role: str, heap: str, *, memory_mb: int = 2048, shm: Path | None = None
) -> str:
    """Runs the rendered start script with a fake RocketMQ whose launchers print what they get."""
    home = tmp_path / "rocketmq"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    for launcher in ("mqnamesrv", "mqbroker"):
        (home / "bin" / launcher).write_text('echo "JAVA_OPT_EXT=$JAVA_OPT_EXT ARGS=$*"\n')
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal:       {memory_mb * 1024} kB\n")
    script = rendering.render_start_script(release).replace("/proc/meminfo", str(meminfo))
    script = script.replace("/sys/fs/cgroup/", str(tmp_path / "no-cgroup") + "/")
    script = script.replace(f"ROCKETMQ_HOME={rendering.ROCKETMQ_HOME}", f"ROCKETMQ_HOME={home}")
    script = script.replace("/dev/shm/", f"{shm or tmp_path / 'no-shm'}/")
    start = tmp_path / "start"
    start.write_text(script)
    env = {"PATH": "/usr/bin:/bin", "JAVA_HOME": "/usr", "HEAP": heap, "NAMESRV_ADDR": NAMESRV}
    return subprocess.run(["bash", str(start), role], capture_output=True, text=True, env=env, check=True).stdout


def test_failure_report_shows_what_explains_it(tmp_path: Path) -> None:
    """An unhealthy broker's report carries the previous stop's exception from the journal,
    store.log's errors and broker.log's tail, with fake systemctl/journalctl on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    journal = "\n".join(
        [
            "2026-11-25T10:00:00 h java[10]: Exception in thread Thread-1 java.lang.reflect.InaccessibleObjectException: "
            'Unable to make public java.lang.Object java.nio.DirectByteBuffer.attachment() accessible: module java.base does not "opens java.nio"',
            *[f"2026-11-25T10:0{i}:00 h systemd[1]: Started broker run {i}." for i in range(1, 40)],
        ]
    )
    (tmp_path / "journal").write_text(journal + "\n")
    (bin_dir / "journalctl").write_text(
        f'#!/bin/bash\nif [[ " $* " == *" -n "* ]]; then tail -n 15 {tmp_path}/journal; else cat {tmp_path}/journal; fi\n'
    )
    (bin_dir / "systemctl").write_text("#!/bin/bash\necho 'Active: activating (auto-restart) (Result: exit-code)'\n")
    for tool in ("journalctl", "systemctl"):
        (bin_dir / tool).chmod(0o755)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "broker.log").write_text(
        "".join(f"INFO line {i}\n" for i in range(100)) + "INFO last shutdown abnormally\n"
    )
    (logs / "store.log").write_text(
        "INFO ok\nERROR load exception java.lang.NullPointerException at IndexFile.destroy\nINFO more\n"
    )
    lib = rendering.render("_lib.sh.j2")
    result = subprocess.run(
        [
            "bash",
            "-c",
            f'HOST_LABEL=h\n{lib}\nshow_service_logs rocketmq-broker.service "$1" broker.log store.log',
            "_",
            str(logs),
        ],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    report = result.stderr
    assert "Result: exit-code" in report
    assert 'does not "opens java.nio"' in report  # the previous stop's exception, far back in the journal
    assert "Started broker run 39." in report and "Started broker run 20." not in report  # tail only
    assert "IndexFile.destroy" in report  # store.log
    assert "last shutdown abnormally" in report and "INFO line 50" not in report  # broker.log, trimmed
    assert len(report.splitlines()) < 120
