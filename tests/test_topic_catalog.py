"""Topics and consumer groups as code: the rendered mqadmin scripts (quoted, shellcheck-clean, and
run against a stand-in mqadmin that prints what RocketMQ 4.9.7 and 5.4.0 print). The TopicCatalog
under Pulumi mocks: tests/test_topic_catalog_program.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config_topics import ConsumerGroupSpec, TopicSpec
from components.rendering import DELETE_FROM_STDIN
from components.topic_rendering import render_group_script, render_topic_script
from tests.e2e.topics_scenario import parse_group_config, parse_topic_route
from tests.shell_checks import check_script

NAMESRV = "10.0.0.1:9876;10.0.0.2:9876"
# ------------------------------------------------------------------- rendered scripts

# What `mqadmin topicRoute` prints (TopicRouteData.toJson(true) of the release's own jars).
ROUTE_5 = """{
\t"brokerDatas":[
\t\t{
\t\t\t"brokerAddrs":{
\t\t\t\t0:"10.0.0.1:10911",
\t\t\t\t1:"10.0.0.3:10911"
\t\t\t},
\t\t\t"brokerName":"broker-a",
\t\t\t"cluster":"DefaultCluster",
\t\t\t"enableActingMaster":false
\t\t}
\t],
\t"filterServerTable":{
\t\t
\t},
\t"queueDatas":[
\t\t{
\t\t\t"brokerName":"broker-a",
\t\t\t"perm":6,
\t\t\t"readQueueNums":8,
\t\t\t"topicSysFlag":0,
\t\t\t"writeQueueNums":8
\t\t},
\t\t{
\t\t\t"brokerName":"broker-b",
\t\t\t"perm":6,
\t\t\t"readQueueNums":8,
\t\t\t"topicSysFlag":0,
\t\t\t"writeQueueNums":8
\t\t}
\t]
}
"""
ROUTE_4 = """{
\t"brokerDatas":[
\t\t{
\t\t\t"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.3:10911"
\t\t\t},
\t\t\t"brokerName":"broker-a",
\t\t\t"cluster":"DefaultCluster"
\t\t}
\t],
\t"filterServerTable":{},
\t"queueDatas":[
\t\t{
\t\t\t"brokerName":"broker-a",
\t\t\t"perm":6,
\t\t\t"readQueueNums":8,
\t\t\t"topicSysFlag":0,
\t\t\t"writeQueueNums":8
\t\t},
\t\t{
\t\t\t"brokerName":"broker-b",
\t\t\t"perm":6,
\t\t\t"readQueueNums":8,
\t\t\t"topicSysFlag":0,
\t\t\t"writeQueueNums":8
\t\t}
\t]
}
"""
NO_ROUTE = "org.apache.rocketmq.tools.command.SubCommandException: TopicRouteSubCommand command failed\n"


def consumer_config(version: str, retry_max_times: int = 16) -> str:
    """What `mqadmin getConsumerConfig` prints: every SubscriptionGroupConfig field, per broker."""
    fields: list[tuple[str, Any]] = [
        ("groupName", "g"),
        ("consumeEnable", "true"),
        ("consumeFromMinEnable", "true"),
        ("consumeBroadcastEnable", "true"),
    ]
    if version == "5":
        fields.append(("consumeMessageOrderly", "false"))
    fields += [("retryQueueNums", 1), ("retryMaxTimes", retry_max_times), ("brokerId", 0)]
    if version == "5":
        fields += [
            ("groupRetryPolicy", "GroupRetryPolicy{type=CUSTOMIZED, customizedRetryPolicy=null}"),
            ("attributes", "{}"),
        ]
    text = ""
    for broker in ("broker-a", "broker-b"):
        text += f"=============================DefaultCluster:{broker}=============================\n"
        text += "".join(f"{name:<40}=  {value}\n" for name, value in fields)
    return text


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A `runuser` and an `mqadmin` that log their arguments and print the given outputs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "runuser").write_text('#!/bin/bash\nshift 3\nexec "$@"\n')
    (bin_dir / "mqadmin").write_text(
        "#!/bin/bash\n"
        'printf "%s\\n" "$*" >>"$STAND_IN/calls"\n'
        "case $1 in\n"
        '  updateTopic|updateSubGroup) echo "create to 10.0.0.1:10911 success." ;;\n'
        '  deleteTopic|deleteSubGroup) cat "$STAND_IN/delete" ;;\n'
        '  topicRoute) cat "$STAND_IN/route" ;;\n'
        '  getConsumerConfig) cat "$STAND_IN/group" ;;\n'
        "esac\n"
    )
    for name in ("runuser", "mqadmin"):
        (bin_dir / name).chmod(0o755)
    (tmp_path / "delete").write_text("delete topic [T] from cluster [DefaultCluster] success.\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STAND_IN": str(tmp_path)}

    def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-s", *args], input=script, text=True, env=env, capture_output=True)

    def calls() -> list[str]:
        path = tmp_path / "calls"
        return path.read_text().splitlines() if path.exists() else []

    yield {
        "dir": tmp_path,
        "run": run,
        "calls": calls,
        "paths": {"mqadmin": str(bin_dir / "mqadmin"), "lock_path": str(tmp_path / "lock")},
    }


@pytest.mark.parametrize("route", [ROUTE_5, ROUTE_4], ids=["5.4.0", "4.9.7"])
def test_e2e_reads_routes_and_group_configs_as_the_scripts_do(route: str) -> None:
    assert parse_topic_route(route) == {"broker-a": (8, 8, 6), "broker-b": (8, 8, 6)}
    assert parse_topic_route(NO_ROUTE) == {}
    configs = parse_group_config(consumer_config("5", retry_max_times=3))
    assert set(configs) == {"broker-a", "broker-b"}
    assert configs["broker-b"]["retryMaxTimes"] == "3" and configs["broker-b"]["consumeMessageOrderly"] == "false"
    assert parse_group_config("") == {}


def _topic_script(topic: TopicSpec, **kwargs: Any) -> str:
    defaults: dict[str, Any] = {
        "host_label": "peer1",
        "cluster_name": "DefaultCluster",
        "namesrv_addr": NAMESRV,
        "broker_names": ["broker-a", "broker-b"],
        "broker_addresses": {},
        "route_timeout_seconds": 0,
    }
    return render_topic_script(topic, **{**defaults, **kwargs})


def _group_script(group: ConsumerGroupSpec, **kwargs: Any) -> str:
    defaults: dict[str, Any] = {
        "host_label": "peer1",
        "cluster_name": "DefaultCluster",
        "namesrv_addr": NAMESRV,
        "broker_names": ["broker-a", "broker-b"],
        "route_timeout_seconds": 0,
    }
    return render_group_script(group, **{**defaults, **kwargs})


@pytest.mark.parametrize("route", [ROUTE_5, ROUTE_4], ids=["5.4.0", "4.9.7"])
def test_topic_script_updates_the_cluster_and_reads_the_route_back(stand_in: dict[str, Any], route: str) -> None:
    (stand_in["dir"] / "route").write_text(route)
    script = _topic_script(TopicSpec("Orders", 8, 8, 6, "FIFO"), **stand_in["paths"])
    result = stand_in["run"](script)
    assert result.returncode == 0, result.stderr
    assert "topic Orders: route shows broker-a 8 8 6,broker-b 8 8 6" in result.stdout
    assert stand_in["calls"]() == [
        f"updateTopic -c DefaultCluster -t Orders -r 8 -w 8 -p 6 -a +message.type=FIFO -n {NAMESRV}",
        f"topicRoute -t Orders -n {NAMESRV}",
    ]


def test_topic_on_chosen_groups_goes_to_their_masters(stand_in: dict[str, Any]) -> None:
    (stand_in["dir"] / "route").write_text(ROUTE_4)
    topic = TopicSpec("Orders", 8, 8, 6, None, ("broker-a", "broker-b"))
    masters = {"broker-b": "10.0.0.2:10911", "broker-a": "10.0.0.1:10911"}
    result = stand_in["run"](_topic_script(topic, broker_addresses=masters, **stand_in["paths"]))
    assert result.returncode == 0, result.stderr
    updates = [c for c in stand_in["calls"]() if c.startswith("updateTopic")]
    assert updates == [
        f"updateTopic -b 10.0.0.1:10911 -t Orders -r 8 -w 8 -p 6 -n {NAMESRV}",  # 4.9.x: no -a
        f"updateTopic -b 10.0.0.2:10911 -t Orders -r 8 -w 8 -p 6 -n {NAMESRV}",
    ]


@pytest.mark.parametrize(
    ("topic", "route"),
    [
        (TopicSpec("Orders", 16, 16), ROUTE_5),  # the route still has 8 queues
        (TopicSpec("Orders", 8, 8, 4), ROUTE_5),  # another perm
        (TopicSpec("Orders"), NO_ROUTE),  # no route at all
    ],
)
def test_topic_script_fails_naming_the_topic_when_the_route_differs(
    stand_in: dict[str, Any], topic: TopicSpec, route: str
) -> None:
    (stand_in["dir"] / "route").write_text(route)
    result = stand_in["run"](_topic_script(topic, **stand_in["paths"]))
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert error.startswith("rocketmq[peer1]: ERROR: topic Orders: after 0s the route on the name servers shows [")
    assert f"the config asks for [broker-a {topic.read_queues} {topic.write_queues} {topic.perm}," in error


def test_topic_script_fails_when_update_fails(stand_in: dict[str, Any]) -> None:
    (stand_in["dir"] / "bin" / "mqadmin").write_text("#!/bin/bash\necho 'connect to 10.0.0.1:9876 failed'\n")
    result = stand_in["run"](_topic_script(TopicSpec("Orders"), **stand_in["paths"]))
    assert result.returncode == 1
    assert "ERROR: updateTopic Orders -c DefaultCluster failed: connect to 10.0.0.1:9876 failed" in result.stderr


def test_delete_mode_deletes_from_the_cluster(stand_in: dict[str, Any]) -> None:
    result = stand_in["run"](_topic_script(TopicSpec("Orders"), **stand_in["paths"]), "delete")
    assert result.returncode == 0, result.stderr
    assert stand_in["calls"]() == [f"deleteTopic -c DefaultCluster -t Orders -n {NAMESRV}"]
    (stand_in["dir"] / "delete").write_text("SubCommandException: DeleteTopicSubCommand command failed\n")
    result = stand_in["run"](_topic_script(TopicSpec("Orders"), **stand_in["paths"]), "delete")
    assert result.returncode == 1 and "deleting topic Orders from cluster DefaultCluster failed" in result.stderr

    (stand_in["dir"] / "delete").write_text("delete subscription group [g] from broker [x] in cluster [y] success.\n")
    result = stand_in["run"](_group_script(ConsumerGroupSpec("g"), **stand_in["paths"]), "delete")
    assert result.returncode == 0, result.stderr
    assert stand_in["calls"]()[-1] == f"deleteSubGroup -c DefaultCluster -g g -n {NAMESRV}"


@pytest.mark.parametrize("version", ["5", "4"])
def test_group_script_updates_every_master_and_reads_it_back(stand_in: dict[str, Any], version: str) -> None:
    (stand_in["dir"] / "group").write_text(consumer_config(version, retry_max_times=5))
    group = ConsumerGroupSpec("g", retry_max_times=5, orderly=False if version == "5" else None)
    result = stand_in["run"](_group_script(group, **stand_in["paths"]))
    assert result.returncode == 0, result.stderr
    orderly = " -o false" if version == "5" else ""
    assert stand_in["calls"]() == [
        f"updateSubGroup -c DefaultCluster -g g -m true -d true -q 1 -r 5{orderly} -n {NAMESRV}",
        f"getConsumerConfig -g g -n {NAMESRV}",
    ]


def test_group_script_fails_naming_the_group_when_a_broker_differs(stand_in: dict[str, Any]) -> None:
    (stand_in["dir"] / "group").write_text(consumer_config("5", retry_max_times=16))
    result = stand_in["run"](
        _group_script(ConsumerGroupSpec("g", retry_max_times=5, orderly=False), **stand_in["paths"])
    )
    assert result.returncode == 1
    assert "ERROR: consumer group g: after 0s the brokers show [" in result.stderr
    assert "broker-a retryMaxTimes 16" in result.stderr and "broker-a retryMaxTimes 5" in result.stderr


def test_values_are_quoted_for_the_shell() -> None:
    # parse_config refuses such names; the scripts quote whatever they are given all the same.
    hostile = TopicSpec("T$(reboot)", 8, 8, 6, "NORMAL", ("broker-a",))
    script = _topic_script(hostile, broker_addresses={"broker-a": "10.0.0.1:10911;reboot"})
    assert "TOPIC='T$(reboot)'" in script
    assert f"NAMESRV_ADDR='{NAMESRV}'" in script
    assert "update_topic -b '10.0.0.1:10911;reboot'" in script
    assert "'broker-a 8 8 6'" in script
    group = _group_script(ConsumerGroupSpec("g|x%1"), cluster_name="Prod")
    assert "GROUP='g|x%1'" in group and "CLUSTER_NAME=Prod" in group


def test_scripts_pass_shellcheck(tmp_path: Path) -> None:
    check_script(tmp_path, "topic-cluster.sh", _topic_script(TopicSpec("Orders", 8, 8, 6, "NORMAL")))
    topic = TopicSpec("Audit", 8, 8, 4, None, ("broker-a",))
    check_script(tmp_path, "topic-chosen.sh", _topic_script(topic, broker_addresses={"broker-a": "10.0.0.1:10911"}))
    check_script(tmp_path, "group-5.sh", _group_script(ConsumerGroupSpec("g", orderly=True)))
    check_script(tmp_path, "group-4.sh", _group_script(ConsumerGroupSpec("g")))
    check_script(tmp_path, "delete.sh", f"{DELETE_FROM_STDIN}\n", shell="sh")  # run by the login shell
