"""E2E scenario: topics and consumer groups declared in the stack, on a running cluster whose
brokers do not create topics themselves (autoCreateTopicEnable=false).

Declared topics get their queues on the groups asked for, a declared group carries its settings to
every master, messages flow through both, a no-change `up` runs nothing, more queues are an
update in place, a removed topic stays in the cluster until pruneTopics is on, and then goes.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tests.e2e.cluster_harness import PulumiStack, mqadmin, wait_until
from tests.e2e.testhosts import Host, TestNetwork
from tests.e2e.traffic import consume, produce

DECLARED, SPARE, GROUP = "E2E_DECLARED", "E2E_SPARE", "e2e-declared"


def parse_topic_route(output: str) -> dict[str, tuple[int, int, int]]:
    """brokerName -> (readQueues, writeQueues, perm) from `mqadmin topicRoute`; {} when it has none."""
    text = re.sub(r"\s", "", output)
    route = {}
    for item in re.findall(r'\{[^{}]*"readQueueNums"[^{}]*\}', text):
        fields = dict(re.findall(r'"(\w+)":"?([^,"}]*)', item))
        route[fields["brokerName"]] = (
            int(fields["readQueueNums"]),
            int(fields["writeQueueNums"]),
            int(fields["perm"]),
        )
    return route


def parse_group_config(output: str) -> dict[str, dict[str, str]]:
    """brokerName -> SubscriptionGroupConfig fields from `mqadmin getConsumerConfig`; {} for no group."""
    configs: dict[str, dict[str, str]] = {}
    broker = None
    for line in output.splitlines():
        header = re.fullmatch(r"=+[^=:]+:([^=]+)=+", line.strip())
        if header:
            broker = header.group(1)
            configs[broker] = {}
        elif broker and "=" in line:
            name, _, value = line.partition("=")
            configs[broker][name.strip()] = value.strip()
    return configs


def topic_route(net: TestNetwork, host: Host, namesrv: str, topic: str) -> dict[str, tuple[int, int, int]]:
    return parse_topic_route(mqadmin(net, host, namesrv, "topicRoute", "-t", topic))


def group_config(net: TestNetwork, host: Host, namesrv: str, group: str) -> dict[str, dict[str, str]]:
    return parse_group_config(mqadmin(net, host, namesrv, "getConsumerConfig", "-g", group))


def topics_and_groups_as_code(
    net: TestNetwork, stack: PulumiStack, *, probe: Host, namesrv: str, classpath: str, messages: int
) -> dict[str, float]:
    """Runs the scenario; returns how long each `up` took, in seconds."""
    timings: dict[str, float] = {}

    def up(step: str, *extra: str) -> None:
        started = time.monotonic()
        stack.up(*extra)
        timings[step] = round(time.monotonic() - started, 1)

    def route(topic: str) -> dict[str, tuple[int, int, int]]:
        return topic_route(net, probe, namesrv, topic)

    broker_conf = net.ssh(probe, "cat /etc/rocketmq/broker.conf", check=True).stdout
    assert "autoCreateTopicEnable=false" in broker_conf, "the lifecycle should start with autoCreateTopicEnable=false"

    # -- declare two topics (one on every group, one on broker-a only) and a group
    declared: dict[str, Any] = {"name": DECLARED}
    spare: dict[str, Any] = {"name": SPARE, "readQueues": 2, "writeQueues": 2, "brokerGroups": ["broker-a"]}
    stack.set_config({"topics": [declared, spare], "consumerGroups": [{"name": GROUP, "retryMaxTimes": 3}]})
    up("declare")
    both = {"broker-a": {"read": 8, "write": 8}, "broker-b": {"read": 8, "write": 8}}
    assert stack.outputs()["topics"] == {DECLARED: both, SPARE: {"broker-a": {"read": 2, "write": 2}}}
    assert route(DECLARED) == {"broker-a": (8, 8, 6), "broker-b": (8, 8, 6)}
    assert route(SPARE) == {"broker-a": (2, 2, 6)}
    configs = group_config(net, probe, namesrv, GROUP)
    assert set(configs) == {"broker-a", "broker-b"}, configs
    for config in configs.values():
        assert config["retryMaxTimes"] == "3" and config["retryQueueNums"] == "1", config
        assert config["consumeMessageOrderly"] == "false", config

    # -- nothing changed: nothing runs
    up("no change", "--expect-no-changes")

    # -- messages through the declared topic and group
    produce(net, classpath, namesrv, DECLARED, messages)
    consume(net, classpath, namesrv, DECLARED, group=GROUP, count=messages)

    # -- more queues: updated in place
    declared = {"name": DECLARED, "readQueues": 16, "writeQueues": 16}
    stack.set_config({"topics": [declared, spare]})
    up("more queues")
    assert route(DECLARED) == {"broker-a": (16, 16, 6), "broker-b": (16, 16, 6)}

    # -- removed without pruneTopics: only Pulumi forgets it
    stack.set_config({"topics": [declared]})
    up("forget a topic")
    assert route(SPARE) == {"broker-a": (2, 2, 6)}

    # -- pruneTopics on (recorded by rerunning the declared ones), then a removed topic and group go
    stack.set_config({"pruneTopics": True})
    up("prune on")
    stack.set_config({"topics": [], "consumerGroups": []})
    up("prune a topic and a group")
    wait_until(lambda: route(DECLARED) == {}, 60, f"{DECLARED} to leave the name servers")
    assert group_config(net, probe, namesrv, GROUP) == {}
    assert route(SPARE) == {"broker-a": (2, 2, 6)}, "a topic the stack no longer manages was touched"
    assert stack.outputs()["topics"] == {}
    print(f"topics scenario, seconds per up: {timings}")
    return timings
