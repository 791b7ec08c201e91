"""Stack config `topics`, `consumerGroups` and `pruneTopics`: documented defaults, RocketMQ's own
rules for names and settings, and every bad entry refused with the key before any resource."""

from __future__ import annotations

import json
from typing import Any

from components.config import parse_config
from components.config_topics import ConsumerGroupSpec, TopicSpec
from tests.stacks import hosts_stack

TOPICS: list[dict[str, Any]] = [
    {"name": "Orders", "readQueues": 16, "writeQueues": 16},
    {"name": "Audit", "perm": 4, "brokerGroups": ["broker-b"]},
    {"name": "Payments", "messageType": "TRANSACTION"},
]
GROUPS: list[dict[str, Any]] = [{"name": "order-service", "retryMaxTimes": 5}, {"name": "ledger", "orderly": True}]


def test_defaults_follow_rocketmq() -> None:
    cfg = parse_config(hosts_stack("multi-master", topics='[{"name": "T"}]', consumerGroups='[{"name": "g"}]'))
    assert cfg.topics == (TopicSpec("T", 8, 8, 6, "NORMAL", ()),)
    assert cfg.consumer_groups == (ConsumerGroupSpec("g", True, True, 1, 16, False),)
    assert cfg.prune_topics is False
    none = parse_config(hosts_stack("multi-master"))
    assert (none.topics, none.consumer_groups, none.prune_topics) == ((), (), False)


def test_values_are_parsed() -> None:
    stack = hosts_stack(
        "master-slave-async", topics=json.dumps(TOPICS), consumerGroups=json.dumps(GROUPS), pruneTopics="true"
    )
    cfg = parse_config(stack)
    assert cfg.topics == (
        TopicSpec("Orders", 16, 16, 6, "NORMAL", ()),
        TopicSpec("Audit", 8, 8, 4, "NORMAL", ("broker-b",)),
        TopicSpec("Payments", 8, 8, 6, "TRANSACTION", ()),
    )
    assert cfg.consumer_groups == (
        ConsumerGroupSpec("order-service", retry_max_times=5, orderly=False),
        ConsumerGroupSpec("ledger", orderly=True),
    )
    assert cfg.prune_topics is True


def test_rocketmq_4_has_no_message_type_or_orderly_setting() -> None:
    cfg = parse_config(
        hosts_stack(
            "multi-master",
            version="4.9.7",
            topics='[{"name": "T", "readQueues": "4", "writeQueues": 4}]',
            consumerGroups='[{"name": "g", "broadcast": false, "consumeFromMinEnable": "false"}]',
        )
    )
    assert cfg.topics == (TopicSpec("T", 4, 4, 6, None, ()),)
    assert cfg.consumer_groups == (ConsumerGroupSpec("g", False, False, 1, 16, None),)


def _topics(*entries: dict[str, Any], mode: str = "master-slave-async", **overrides: Any) -> dict[str, Any]:
    return hosts_stack(mode, topics=json.dumps(list(entries)), **overrides)


def _groups(*entries: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return hosts_stack("master-slave-async", consumerGroups=json.dumps(list(entries)), **overrides)


# (description, stack, key named in the error, phrase in the error), as in test_config.py
# Run by tests/test_config.py with the other bad inputs: refused with the key, nothing registered.
BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("topics not a list", hosts_stack("single-master", topics='{"name": "T"}'), "rocketmq:topics", "must be a list"),
    ("topic not an object", _topics("T"), "rocketmq:topics[0]", "must be an object"),  # type: ignore[arg-type]
    ("topic without name", _topics({"readQueues": 4}), "rocketmq:topics[0]", "needs a name"),
    ("unknown topic field", _topics({"name": "T", "queues": 4}), "rocketmq:topics[0]", "unknown field 'queues'"),
    ("topic name with a dot", _topics({"name": "a.b"}), "rocketmq:topics[0].name", "letters, digits, _ - % |"),
    ("topic name with shell", _topics({"name": "T;reboot"}), "rocketmq:topics[0].name", "as RocketMQ requires"),
    ("topic name too long", _topics({"name": "T" * 128}), "rocketmq:topics[0].name", "1-127 characters"),
    ("empty topic name", _topics({"name": ""}), "rocketmq:topics[0].name", "1-127 characters"),
    ("system topic", _topics({"name": "TBW102"}), "rocketmq:topics[0].name", "system topic"),
    ("schedule topic", _topics({"name": "SCHEDULE_TOPIC_XXXX"}), "rocketmq:topics[0].name", "system topic"),
    ("rmq_sys_ topic", _topics({"name": "rmq_sys_wheel"}), "rocketmq:topics[0].name", "system topic"),
    ("RMQ_SYS_ topic", _topics({"name": "RMQ_SYS_MINE"}), "rocketmq:topics[0].name", "system topic"),
    ("retry topic", _topics({"name": "%RETRY%g"}), "rocketmq:topics[0].name", "system topic"),
    ("dead letter topic", _topics({"name": "%DLQ%g"}), "rocketmq:topics[0].name", "system topic"),
    ("topic named as a brokerName", _topics({"name": "broker-a"}), "rocketmq:topics[0].name", "is reserved"),
    ("topic named as the cluster", _topics({"name": "DefaultCluster"}), "rocketmq:topics[0].name", "is reserved"),
    (
        "duplicate topic",
        _topics({"name": "T"}, {"name": "U"}, {"name": "T"}),
        "rocketmq:topics[2].name",
        "declared twice (also topics[0])",
    ),
    ("zero read queues", _topics({"name": "T", "readQueues": 0}), "rocketmq:topics[0].readQueues", "from 1 to 1024"),
    (
        "text write queues",
        _topics({"name": "T", "writeQueues": "many"}),
        "rocketmq:topics[0].writeQueues",
        "whole number",
    ),
    (
        "fewer read than write queues",
        _topics({"name": "T", "readQueues": 4, "writeQueues": 8}),
        "rocketmq:topics[0].readQueues",
        "at least writeQueues (8)",
    ),
    ("perm 7", _topics({"name": "T", "perm": 7}), "rocketmq:topics[0].perm", "2 (write only), 4 (read only), 6"),
    ("perm as letters", _topics({"name": "T", "perm": "RW"}), "rocketmq:topics[0].perm", "permission number"),
    (
        "unknown message type",
        _topics({"name": "T", "messageType": "BATCH"}),
        "rocketmq:topics[0].messageType",
        "NORMAL, FIFO, DELAY, TRANSACTION",
    ),
    (
        "message type on 4.9.x",
        _topics({"name": "T", "messageType": "FIFO"}, version="4.9.7"),
        "rocketmq:topics[0].messageType",
        "version 4.9.7 has none",
    ),
    (
        "unknown broker group",
        _topics({"name": "T", "brokerGroups": ["broker-a", "broker-c"]}),
        "rocketmq:topics[0].brokerGroups[1]",
        "which has broker-a, broker-b",
    ),
    (
        "broker group twice",
        _topics({"name": "T", "brokerGroups": ["broker-a", "broker-a"]}),
        "rocketmq:topics[0].brokerGroups[1]",
        "listed twice",
    ),
    (
        "empty broker groups",
        _topics({"name": "T", "brokerGroups": []}),
        "rocketmq:topics[0].brokerGroups",
        "non-empty list",
    ),
    ("group without name", _groups({"retryMaxTimes": 3}), "rocketmq:consumerGroups[0]", "needs a name"),
    (
        "group name too long",
        _groups({"name": "g" * 121}),
        "rocketmq:consumerGroups[0].name",
        "1-120 characters",
    ),
    ("group name with space", _groups({"name": "my group"}), "rocketmq:consumerGroups[0].name", "letters"),
    ("system group", _groups({"name": "TOOLS_CONSUMER"}), "rocketmq:consumerGroups[0].name", "system group"),
    ("CID_RMQ_SYS_ group", _groups({"name": "CID_RMQ_SYS_X"}), "rocketmq:consumerGroups[0].name", "system group"),
    (
        "duplicate group",
        _groups({"name": "g"}, {"name": "g"}),
        "rocketmq:consumerGroups[1].name",
        "declared twice",
    ),
    (
        "consume-from-where policy",
        _groups({"name": "g", "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET"}),
        "rocketmq:consumerGroups[0]",
        "setConsumeFromWhere",
    ),
    (
        "zero retry queues",
        _groups({"name": "g", "retryQueueNums": 0}),
        "rocketmq:consumerGroups[0].retryQueueNums",
        "from 1 to 64",
    ),
    (
        "negative retries",
        _groups({"name": "g", "retryMaxTimes": -1}),
        "rocketmq:consumerGroups[0].retryMaxTimes",
        "from 0 to 1024",
    ),
    (
        "broadcast not a boolean",
        _groups({"name": "g", "broadcast": "yes"}),
        "rocketmq:consumerGroups[0].broadcast",
        "true or false",
    ),
    (
        "orderly on 4.9.x",
        _groups({"name": "g", "orderly": False}, version="4.9.7"),
        "rocketmq:consumerGroups[0].orderly",
        "version 4.9.7 has no such group setting",
    ),
    (
        "pruneTopics not a boolean",
        hosts_stack("single-master", pruneTopics="sometimes"),
        "rocketmq:pruneTopics",
        "true or false",
    ),
]
