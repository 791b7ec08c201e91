"""Templates: rendered files carry the right values, scripts pass shellcheck, values are quoted."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import jinja2
import pytest

from components import controller_rendering, namesrv_rendering, rendering
from components.config import parse_config
from components.config_model import ReleaseSettings
from components.topology import plan_cluster
from tests.e2e import rocketmq_dist
from tests.shell_checks import check_script
from tests.stacks import FIXED_ROLE_MODES, MODES, aws_stack, hosts_stack, local_stack

NAMESRV = "10.0.0.1:9876;10.0.0.2:9876;10.0.0.3:9876"


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("mode", FIXED_ROLE_MODES)
def test_broker_conf_per_role(mode: str) -> None:
    cfg = parse_config(hosts_stack(mode, flushDiskType="SYNC_FLUSH", fileReservedTime=72, clusterName="Prod"))
    plan = plan_cluster(cfg)
    for node in plan.broker_nodes:
        conf = _props(rendering.render_broker_conf(cfg, node, "10.0.0.9", NAMESRV))
        assert conf["brokerClusterName"] == "Prod"
        assert conf["brokerName"] == node.broker_name
        assert conf["brokerId"] == str(node.broker_id)
        expected_role = (
            "SLAVE" if node.broker_id else ("SYNC_MASTER" if mode == "master-slave-sync" else "ASYNC_MASTER")
        )
        assert conf["brokerRole"] == expected_role
        assert conf["flushDiskType"] == "SYNC_FLUSH"
        assert conf["deleteWhen"] == "04"
        assert conf["fileReservedTime"] == "72"
        assert conf["namesrvAddr"] == NAMESRV
        assert conf["brokerIP1"] == conf["brokerIP2"] == "10.0.0.9"
        assert conf["listenPort"] == "10911"
        assert conf["storePathRootDir"] == "/data/rocketmq/store"


@pytest.mark.parametrize("mode", FIXED_ROLE_MODES)
def test_slaves_serve_reads_in_master_slave_modes(mode: str) -> None:
    cfg = parse_config(hosts_stack(mode))
    for node in plan_cluster(cfg).broker_nodes:
        conf = _props(rendering.render_broker_conf(cfg, node, "10.0.0.9", NAMESRV))
        assert conf.get("slaveReadEnable") == ("true" if cfg.mode.has_slaves else None)


def test_users_may_turn_slave_reads_off() -> None:
    cfg = parse_config(hosts_stack("master-slave-async", brokerProperties='{"slaveReadEnable": false}'))
    text = rendering.render_broker_conf(cfg, plan_cluster(cfg).broker_nodes[1], "10.0.0.9", NAMESRV)
    assert text.count("slaveReadEnable") == 1 and "slaveReadEnable=false" in text


def test_extra_properties_are_appended_sorted() -> None:
    cfg = parse_config(
        hosts_stack("single-master", brokerProperties=json.dumps({"zeta": 1, "autoCreateTopicEnable": False}))
    )
    node = plan_cluster(cfg).broker_nodes[0]
    text = rendering.render_broker_conf(cfg, node, "10.0.0.9", NAMESRV)
    assert text.index("autoCreateTopicEnable=false") < text.index("zeta=1")


def test_unit_files() -> None:
    broker = rendering.render_unit("broker", "/data/rocketmq/store")
    assert "ExecStart=/usr/local/libexec/rocketmq/start broker" in broker
    assert "ExecStop=-/bin/sh /opt/rocketmq/current/bin/mqshutdown broker" in broker
    assert "Restart=on-failure" in broker
    assert "LimitNOFILE=655350" in broker
    assert "WantedBy=multi-user.target" in broker
    assert "After=network-online.target rocketmq-namesrv.service" in broker
    assert "RequiresMountsFor=/data/rocketmq/store" in broker
    namesrv = rendering.render_unit("namesrv", "/data/rocketmq/store")
    assert "RequiresMountsFor" not in namesrv
    assert (
        "mqshutdown namesrv" in namesrv
        and "rocketmq-namesrv.service" not in namesrv.split("[Service]")[0].split("After=")[1]
    )


def test_strict_undefined() -> None:
    with pytest.raises(jinja2.UndefinedError):
        rendering.render("broker.conf.j2", cluster_name="x")


CONTROLLERS = controller_rendering.ControllerPeers(("10.0.0.1:9878", "10.0.0.3:9878", "10.0.0.4:9878"))


@pytest.mark.parametrize("mode", MODES)
def test_every_rendered_script_passes_shellcheck(mode: str, tmp_path: Path) -> None:
    oldest = "5.0.0" if mode == "master-slave-auto" else "4.9.2"  # controllers came with 5.x
    for cfg in (
        parse_config(hosts_stack(mode, brokerHeap="512m", sha512="ab" * 64)),
        parse_config(aws_stack(mode, version=oldest)),
    ):
        plan = plan_cluster(cfg, zones=2)
        release = cfg.release
        check_script(
            tmp_path, "prepare-aws.sh", rendering.render_prepare_script("h", release, cfg.store_path, "vol-0abc")
        )
        check_script(tmp_path, "prepare.sh", rendering.render_prepare_script("h", release, cfg.store_path, None))
        with_key = rendering.render_prepare_script(
            "h", release, cfg.store_path, "vol-0abc", authorized_key=("ec2-user", "ssh-ed25519 AAAA me@host")
        )
        check_script(tmp_path, "prepare-key.sh", with_key)
        check_script(tmp_path, "install.sh", rendering.render_install_script("h", release))
        check_script(tmp_path, "start.sh", rendering.render_start_script(release))
        check_script(tmp_path, "mqadmin.sh", rendering.render_mqadmin(release))
        controllers = CONTROLLERS if cfg.mode.elects_masters else None
        controller_port = 9878 if controllers else None
        controller_addr = controllers.controller_addr if controllers else ""
        namesrv = namesrv_rendering.render_namesrv_script(
            cfg, "h", "10.0.0.1", controllers=controllers, controller_port=controller_port
        )
        check_script(tmp_path, "namesrv.sh", namesrv)
        rollout = namesrv_rendering.render_namesrv_rollout(cfg, "h", "10.0.0.1", controller_port=controller_port)
        check_script(tmp_path, "namesrv-rollout.sh", rollout)
        for node in plan.broker_nodes:
            script = rendering.render_broker_script(
                cfg, node, "h", "10.0.0.2", NAMESRV, controller_addr=controller_addr
            )
            check_script(tmp_path, "broker.sh", script)
            master = None if node.is_master or node.elected else "10.0.0.3:10911"
            rollout = rendering.render_broker_rollout(
                cfg, node, "h", "10.0.0.2", NAMESRV, master_endpoint=master, controller_addr=controller_addr
            )
            check_script(tmp_path, "broker-rollout.sh", rollout)
        for role in ("namesrv", "broker"):
            check_script(tmp_path, f"stop-{role}.sh", rendering.render_stop_command(role), shell="sh")
        check_script(tmp_path, "run-as-root.sh", rendering.RUN_STDIN_AS_ROOT, shell="sh")


def test_config_values_reach_the_shell_quoted() -> None:
    cfg = parse_config(hosts_stack("master-slave-async"))
    node = plan_cluster(cfg).broker_nodes[0]
    script = rendering.render_broker_script(cfg, node, "peer1", "10.0.0.1", NAMESRV)
    # The ';' list is one quoted word, never a command separator.
    assert f"NAMESRV_ADDR='{NAMESRV}'" in script
    install = rendering.render_install_script("peer1", cfg.release)
    assert "ZIP_URL=https://archive.apache.org/dist/rocketmq/5.4.0/rocketmq-all-5.4.0-bin-release.zip" in install
    assert "PINNED_SHA512=''" in install


def test_service_script_carries_files_verbatim() -> None:
    cfg = parse_config(hosts_stack("single-master"))
    node = plan_cluster(cfg).broker_nodes[0]
    script = rendering.render_broker_script(cfg, node, "peer1", "10.0.0.1", "10.0.0.1:9876")
    conf = rendering.render_broker_conf(cfg, node, "10.0.0.1", "10.0.0.1:9876")
    assert f"install_file /etc/rocketmq/broker.conf 0644 <<'{rendering.HEREDOC}'\n{conf}{rendering.HEREDOC}\n" in script
    assert 'NAMESRV_ADDR="10.0.0.1:9876"' in script  # broker.env
    assert 'HEAP="auto"' in script


def test_here_document_terminator_in_content_is_refused() -> None:
    cfg = parse_config(hosts_stack("single-master"))
    with pytest.raises(ValueError, match="here-document"):
        rendering._service_script(
            "namesrv", "h", "10.0.0.1", 60, [rendering.HostFile("/x", "0644", f"a\n{rendering.HEREDOC}\n")]
        )
    assert cfg  # the config itself is fine; only the content is refused


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
    assert out.startswith("JAVA_HOME=/usr/lib/jvm/jdk ARGS=-Xms64m -Xmx128m -Xmn32m ")
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


def test_planned_ports_reach_the_confs_and_the_checks() -> None:
    cfg = parse_config(local_stack("master-slave-async", nameServers=1, brokerGroups=1))
    plan = plan_cluster(cfg)
    (ns_host,) = plan.name_server_hosts
    namesrv = f"127.0.0.1:{ns_host.name_server_port}"
    script = namesrv_rendering.render_namesrv_script(cfg, ns_host.key, "127.0.0.1", ns_host.name_server_port)
    assert _props(namesrv_rendering.render_namesrv_conf(cfg, ns_host.name_server_port)) == {"listenPort": "19876"}
    assert "install_file /etc/rocketmq/namesrv.conf 0644" in script
    assert '/dev/tcp/$1/19876"' in script and "9876\"'" not in script.replace("19876", "")
    for node in plan.broker_nodes:
        conf = _props(rendering.render_broker_conf(cfg, node, "127.0.0.1", namesrv))
        assert conf["listenPort"] == str(node.listen_port) and conf["brokerIP1"] == conf["brokerIP2"] == "127.0.0.1"
        broker = rendering.render_broker_script(cfg, node, node.host, "127.0.0.1", namesrv)
        assert f'BROKER_ENDPOINT="$ADDRESS:{node.listen_port}"' in broker


def test_name_server_reads_its_port_from_namesrv_conf() -> None:
    start = rendering.render_start_script(ReleaseSettings())
    assert 'bin/mqnamesrv" -c /etc/rocketmq/namesrv.conf' in start
    cfg = parse_config(hosts_stack("single-master"))
    assert "listenPort=9876\n" in namesrv_rendering.render_namesrv_script(cfg, "peer1", "192.0.2.11")


@pytest.mark.parametrize("mode", FIXED_ROLE_MODES)
def test_a_restarted_master_waits_for_clients_before_the_next_restart(mode: str) -> None:
    """Clients learn a restarted master's route only at their next refresh: another master restarting
    before that would leave them nowhere to send. Slaves and a cluster's only group need no wait."""
    cfg = parse_config(hosts_stack(mode))
    for node in plan_cluster(cfg).broker_nodes:
        rollout = rendering.render_broker_rollout(
            cfg, node, "n1", "10.0.0.9", NAMESRV, master_endpoint=None if node.is_master else "10.0.0.8:10911"
        )
        waits = "sleep 40" in rollout  # clients' default route refresh (30 s) and a margin
        assert waits == (node.is_master and cfg.broker_groups > 1), (mode, node.label)


def test_a_restarted_name_server_knows_its_brokers_again_before_the_next_restart() -> None:
    """A name server learns brokers only from their registrations (every 30 s); clients that ask it
    sooner hold partial routes until their next refresh. Its rollout waits for both."""
    cfg = parse_config(hosts_stack("multi-master", clientRouteRefreshSeconds=5))
    rollout = namesrv_rendering.render_namesrv_rollout(cfg, "n1", "10.0.0.9")
    before = rollout.index("registered=$(known_brokers)")
    restart = rollout.index('systemctl restart "$UNIT"')
    known_again = rollout.index('grep -vxF -f <(known_brokers) <<<"$registered"')
    settle = rollout.index("sleep 15")  # the clients' route refresh and a margin
    assert before < restart < known_again < settle
    assert f'{rendering.CLUSTER_INFO} "$ADDRESS:9876"' in rollout
    assert "brokerPermission" not in rollout


@pytest.mark.parametrize("mode", FIXED_ROLE_MODES)
def test_a_master_takes_no_writes_for_a_route_refresh_before_it_stops(mode: str) -> None:
    """A send that reaches a stopping master can wait out its whole timeout: with other groups to
    take them, producers are moved off first (read-only, then one route refresh), then it restarts."""
    cfg = parse_config(hosts_stack(mode, clientRouteRefreshSeconds=12))
    for node in plan_cluster(cfg).broker_nodes:
        rollout = rendering.render_broker_rollout(
            cfg, node, "n1", "10.0.0.9", NAMESRV, master_endpoint=None if node.is_master else "10.0.0.8:10911"
        )
        restart = rollout.index('systemctl restart "$UNIT"')
        read_only = rollout.find("-k brokerPermission -v 4")
        if node.is_master and cfg.broker_groups > 1:
            wait = rollout.index("sleep 22", read_only)
            assert 0 <= read_only < wait < restart, (mode, node.label)
            assert rollout.index('wipeWritePerm -b "$BROKER_NAME"') < restart
        else:
            assert read_only == -1, (mode, node.label)
