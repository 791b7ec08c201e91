"""Templates: rendered files carry the right values, scripts pass shellcheck, values are quoted."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

from components import controller_rendering, namesrv_rendering, rendering
from components.config import parse_config
from components.config_model import ReleaseSettings
from components.topology import plan_cluster
from tests.shell_checks import check_script
from tests.stacks import FIXED_ROLE_MODES, MODES, NAMESRV, aws_stack, hosts_stack, local_stack


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
            "namesrv", cfg, "h", "10.0.0.1", [rendering.HostFile("/x", "0644", f"a\n{rendering.HEREDOC}\n")]
        )


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


def test_a_new_data_volume_gets_selinux_labels_before_the_store_is_made() -> None:
    """A fresh filesystem carries no SELinux labels: on an SELinux host the prepare step relabels the
    mounted data volume, before it makes the store in it, so the store inherits the policy's label."""
    cfg = parse_config(aws_stack("multi-master"))
    with_volume = rendering.render_prepare_script("h", cfg.release, cfg.store_path, "vol-0abc")
    mount = with_volume.index('mountpoint -q "$DATA_MOUNT" || mount "$DATA_MOUNT"')
    guard = with_volume.index("if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then")
    relabel = with_volume.index('restorecon -R "$DATA_MOUNT"')
    store = with_volume.index('install -d -o rocketmq -g rocketmq -m 0750 "$STORE_PATH"')
    assert mount < guard < relabel < store
    # Without a volume of its own the store lives in directories the policy already labels.
    assert "restorecon" not in rendering.render_prepare_script("h", cfg.release, cfg.store_path, None)
