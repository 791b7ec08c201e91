"""Templates: rendered files carry the right values, scripts pass shellcheck, values are quoted."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

from components import rendering
from components.config import parse_config
from components.topology import plan_cluster
from tests.stacks import MODES, aws_stack, hosts_stack

NAMESRV = "10.0.0.1:9876;10.0.0.2:9876;10.0.0.3:9876"


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def _shellcheck() -> str:
    path = shutil.which("shellcheck")
    assert path, "shellcheck is missing: pip install -r requirements-dev.txt"
    return path


def _check_script(tmp_path: Path, name: str, script: str, shell: str = "bash") -> None:
    target = tmp_path / name
    target.write_text(script)
    result = subprocess.run([_shellcheck(), "-s", shell, "-S", "style", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("mode", MODES)
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


@pytest.mark.parametrize("mode", MODES)
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
    broker = rendering.render_unit("broker")
    assert "ExecStart=/usr/local/libexec/rocketmq/start broker" in broker
    assert "ExecStop=/bin/bash /opt/rocketmq/current/bin/mqshutdown broker" in broker
    assert "Restart=on-failure" in broker
    assert "LimitNOFILE=655350" in broker
    assert "WantedBy=multi-user.target" in broker
    assert "After=network-online.target rocketmq-namesrv.service" in broker
    namesrv = rendering.render_unit("namesrv")
    assert (
        "mqshutdown namesrv" in namesrv
        and "rocketmq-namesrv.service" not in namesrv.split("[Service]")[0].split("After=")[1]
    )


def test_strict_undefined() -> None:
    with pytest.raises(jinja2.UndefinedError):
        rendering.render("broker.conf.j2", cluster_name="x")


@pytest.mark.parametrize("mode", MODES)
def test_every_rendered_script_passes_shellcheck(mode: str, tmp_path: Path) -> None:
    for cfg in (
        parse_config(hosts_stack(mode, brokerHeap="512m", sha512="ab" * 64)),
        parse_config(aws_stack(mode, version="4.9.2")),
    ):
        plan = plan_cluster(cfg, zones=2)
        release = cfg.release
        _check_script(
            tmp_path, "prepare-aws.sh", rendering.render_prepare_script("h", release, cfg.store_path, "vol-0abc")
        )
        _check_script(tmp_path, "prepare.sh", rendering.render_prepare_script("h", release, cfg.store_path, None))
        _check_script(tmp_path, "install.sh", rendering.render_install_script("h", release))
        _check_script(tmp_path, "start.sh", rendering.render_start_script())
        _check_script(tmp_path, "namesrv.sh", rendering.render_namesrv_script(cfg, "h", "10.0.0.1"))
        for node in plan.broker_nodes:
            _check_script(tmp_path, "broker.sh", rendering.render_broker_script(cfg, node, "h", "10.0.0.2", NAMESRV))
        for role in ("namesrv", "broker"):
            _check_script(tmp_path, f"stop-{role}.sh", rendering.render_stop_command(role), shell="sh")
        _check_script(tmp_path, "run-as-root.sh", rendering.RUN_STDIN_AS_ROOT, shell="sh")


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
    """Runs the rendered start script with a fake RocketMQ whose launcher prints JAVA_OPT_EXT."""
    home = tmp_path / "rocketmq"
    (home / "bin").mkdir(parents=True)
    for launcher in ("mqnamesrv", "mqbroker"):
        (home / "bin" / launcher).write_text('echo "JAVA_OPT_EXT=$JAVA_OPT_EXT ARGS=$*"\n')
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal:       {memory_mb * 1024} kB\n")
    script = rendering.render_start_script().replace("/proc/meminfo", str(meminfo))
    script = script.replace("/sys/fs/cgroup/", str(tmp_path / "no-cgroup") + "/")
    script = script.replace("ROCKETMQ_HOME=/opt/rocketmq/current", f"ROCKETMQ_HOME={home}")
    start = tmp_path / "start"
    start.write_text(script)
    env = {"PATH": "/usr/bin:/bin", "JAVA_HOME": "/usr", "HEAP": heap, "NAMESRV_ADDR": NAMESRV}
    result = subprocess.run(["bash", str(start), role], capture_output=True, text=True, env=env, check=True)
    assert f"-Xms{expected_mb}m -Xmx{expected_mb}m -Xmn{expected_mb // 2}m" in result.stdout
    if role == "broker":
        assert f"-XX:MaxDirectMemorySize={expected_mb}m" in result.stdout
        assert f"ARGS=-c /etc/rocketmq/broker.conf -n {NAMESRV}" in result.stdout
