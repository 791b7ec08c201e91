"""Stack config `topics`, `consumerGroups` and `pruneTopics` -> validated, typed catalog.

Pure, like config.py (which calls `parse_topic_catalog` once): every bad entry raises one
ConfigError naming the key, e.g. `rocketmq:topics[2].readQueues`, before any resource exists.

What RocketMQ itself accepts, checked against its 4.9.7 and 5.4.0 jars:
- names: TopicValidator's `^[%|a-zA-Z0-9_-]+$`; topics at most 127 characters, groups at most
  120 (5.x `validateGroup`; `%RETRY%<group>` must also fit a topic's 127);
- system topics (TopicValidator's SYSTEM_TOPIC_SET, the `rmq_sys_` prefix) and system groups
  (MixAll's) are the brokers' own;
- `mqadmin updateSubGroup` sets only what SubscriptionGroupConfig holds (-m consumeFromMinEnable,
  -d consumeBroadcastEnable, -q retryQueueNums, -r retryMaxTimes, and in 5.x -o
  consumeMessageOrderly). Where a new consumer starts (CONSUME_FROM_LAST_OFFSET, ...) is the
  client's setConsumeFromWhere, not the group's, so it is refused here with that explanation;
- `message.type` is a 5.x topic attribute (`updateTopic -a +message.type=...`); 4.9.x has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from components import config_checks as check
from components.config import broker_group_name
from components.config_checks import ConfigError
from components.config_model import ReleaseSettings

DEFAULT_QUEUES = 8
MAX_QUEUES = 1024
# RocketMQ's PermName: 2 = write, 4 = read, 6 = read and write.
PERMS = {2: "write only", 4: "read only", 6: "read and write"}
DEFAULT_PERM = 6
MESSAGE_TYPES = ("NORMAL", "FIFO", "DELAY", "TRANSACTION")
DEFAULT_MESSAGE_TYPE = "NORMAL"
# SubscriptionGroupConfig's own defaults (the same in 4.9.7 and 5.4.0).
DEFAULT_CONSUME_FROM_MIN = True
DEFAULT_BROADCAST = True
DEFAULT_RETRY_QUEUES = 1
DEFAULT_RETRY_MAX_TIMES = 16
MAX_RETRY_QUEUES = 64
MAX_RETRY_TIMES = 1024

TOPIC_MAX_LENGTH = 127
GROUP_MAX_LENGTH = 120
_NAME_CHARS = re.compile(r"^[%|a-zA-Z0-9_-]+$")
_NAME_CHARS_TEXT = "letters, digits, _ - % |"

# TopicValidator.SYSTEM_TOPIC_SET of 4.9.7 and 5.4.0.
SYSTEM_TOPICS = frozenset(
    {
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "BenchmarkTest",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRACE_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
        "CHECKPOINT_TOPIC",
        "RMQ_SYS_ROCKSDB_TRANS_HALF_TOPIC",
        "RMQ_SYS_ROCKSDB_TRANS_OP_HALF_TOPIC",
    }
)
# rmq_sys_ is TopicValidator's system prefix; %RETRY%/%DLQ% are the brokers' per-group topics,
# %LMQ% light message queues; RMQ_SYS_ is the naming of RocketMQ's own system topics.
RESERVED_TOPIC_PREFIXES = ("rmq_sys_", "RMQ_SYS_", "%RETRY%", "%DLQ%", "%LMQ%")
# MixAll's groups (4.9.7 and 5.4.0) and its system group prefix.
SYSTEM_GROUPS = frozenset(
    {
        "DEFAULT_PRODUCER",
        "DEFAULT_CONSUMER",
        "TOOLS_CONSUMER",
        "SCHEDULE_CONSUMER",
        "FILTERSRV_CONSUMER",
        "__MONITOR_CONSUMER",
        "CLIENT_INNER_PRODUCER",
        "SELF_TEST_P_GROUP",
        "SELF_TEST_C_GROUP",
        "CID_ONS-HTTP-PROXY",
        "CID_ONSAPI_PERMISSION",
        "CID_ONSAPI_OWNER",
        "CID_ONSAPI_PULL",
    }
)
RESERVED_GROUP_PREFIXES = ("CID_RMQ_SYS_", "%RETRY%", "%DLQ%", "%LMQ%")

TOPIC_FIELDS = ("name", "readQueues", "writeQueues", "perm", "messageType", "brokerGroups")
GROUP_FIELDS = ("name", "consumeFromMinEnable", "retryQueueNums", "retryMaxTimes", "broadcast", "orderly")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    read_queues: int = DEFAULT_QUEUES
    write_queues: int = DEFAULT_QUEUES
    perm: int = DEFAULT_PERM
    message_type: str | None = None  # 5.x only (NORMAL unless set); None on 4.9.x
    broker_groups: tuple[str, ...] = ()  # empty: every group of the cluster (updateTopic -c)


@dataclass(frozen=True)
class ConsumerGroupSpec:
    name: str
    consume_from_min_enable: bool = DEFAULT_CONSUME_FROM_MIN
    broadcast: bool = DEFAULT_BROADCAST
    retry_queue_nums: int = DEFAULT_RETRY_QUEUES
    retry_max_times: int = DEFAULT_RETRY_MAX_TIMES
    orderly: bool | None = None  # 5.x only (false unless set); None on 4.9.x


@dataclass(frozen=True)
class TopicCatalogSettings:
    topics: tuple[TopicSpec, ...] = ()
    consumer_groups: tuple[ConsumerGroupSpec, ...] = ()
    prune: bool = False


def parse_topic_catalog(
    raw_topics: Any,
    raw_groups: Any,
    raw_prune: Any,
    *,
    release: ReleaseSettings,
    broker_groups: int,
    cluster_name: str,
) -> TopicCatalogSettings:
    is_5x = release.version_tuple >= (5, 0, 0)
    group_names = tuple(broker_group_name(i) for i in range(broker_groups))
    topics = [
        _topic(where, entry, release=release, is_5x=is_5x, group_names=group_names, cluster_name=cluster_name)
        for where, entry in _entries(
            "topics", raw_topics, TOPIC_FIELDS, "{name, readQueues?, writeQueues?, perm?, ...}"
        )
    ]
    groups = [
        _group(where, entry, release, is_5x)
        for where, entry in _entries("consumerGroups", raw_groups, GROUP_FIELDS, "{name, retryMaxTimes?, ...}")
    ]
    _unique("topics", [t.name for t in topics])
    _unique("consumerGroups", [g.name for g in groups])
    return TopicCatalogSettings(
        topics=tuple(topics),
        consumer_groups=tuple(groups),
        prune=check.boolean("pruneTopics", False if raw_prune is None else raw_prune),
    )


def _entries(key: str, raw: Any, fields: tuple[str, ...], shape: str) -> list[tuple[str, dict[str, Any]]]:
    value = check.structured(key, [] if raw is None else raw)
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list of {shape}; got {raw!r}")
    entries = []
    for index, entry in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(where, f"must be an object {shape}; got {entry!r}")
        extra = sorted(set(entry) - set(fields))
        if extra:
            hint = ""
            if extra[0] == "consumeFromWhere":
                hint = (
                    " (where a new consumer starts is its client's setConsumeFromWhere: a consumer group on the "
                    "broker has no such setting, and mqadmin updateSubGroup no such option; consumeFromMinEnable is "
                    "the group's)"
                )
            raise ConfigError(where, f"unknown field {extra[0]!r}{hint}; allowed: {', '.join(fields)}")
        if "name" not in entry:
            raise ConfigError(where, "needs a name")
        entries.append((where, entry))
    return entries


def _unique(key: str, names: list[str]) -> None:
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in first:
            raise ConfigError(
                f"{key}[{index}].name", f"{name!r} is declared twice (also {key}[{first[name]}]); names must be unique"
            )
        first[name] = index


def _name(key: str, raw: Any, max_length: int) -> str:
    if not isinstance(raw, str) or not _NAME_CHARS.fullmatch(raw) or len(raw) > max_length:
        raise ConfigError(
            key, f"must be 1-{max_length} characters of {_NAME_CHARS_TEXT} (as RocketMQ requires); got {raw!r}"
        )
    return raw


def _topic(
    where: str,
    entry: dict[str, Any],
    *,
    release: ReleaseSettings,
    is_5x: bool,
    group_names: tuple[str, ...],
    cluster_name: str,
) -> TopicSpec:
    name = _name(f"{where}.name", entry["name"], TOPIC_MAX_LENGTH)
    if name in SYSTEM_TOPICS or name.startswith(RESERVED_TOPIC_PREFIXES):
        raise ConfigError(
            f"{where}.name",
            f"{name!r} is a RocketMQ system topic name (reserved: {', '.join(sorted(SYSTEM_TOPICS))} and names "
            f"starting with {', '.join(RESERVED_TOPIC_PREFIXES)})",
        )
    if name in (cluster_name, *group_names):
        raise ConfigError(
            f"{where}.name",
            f"{name!r} is reserved: brokers keep a system topic named after their cluster and brokerName",
        )
    write = check.integer(f"{where}.writeQueues", entry.get("writeQueues", DEFAULT_QUEUES), 1, MAX_QUEUES)
    read = check.integer(f"{where}.readQueues", entry.get("readQueues", DEFAULT_QUEUES), 1, MAX_QUEUES)
    if read < write:
        raise ConfigError(
            f"{where}.readQueues",
            f"must be at least writeQueues ({write}): messages written to queues at or above readQueues are never "
            f"consumed (to shrink a topic, lower writeQueues first and readQueues once they are drained); got {read}",
        )
    perm = _perm(f"{where}.perm", entry.get("perm", DEFAULT_PERM))
    message_type = _message_type(f"{where}.messageType", entry.get("messageType"), release, is_5x)
    groups = _broker_groups(f"{where}.brokerGroups", entry.get("brokerGroups"), group_names)
    return TopicSpec(name, read, write, perm, message_type, groups)


def _perm(key: str, raw: Any) -> int:
    allowed = ", ".join(f"{number} ({what})" for number, what in PERMS.items())
    try:
        perm = check.integer(key, raw, min(PERMS), max(PERMS))
    except ConfigError:
        raise ConfigError(key, f"must be RocketMQ's permission number {allowed}; got {raw!r}") from None
    if perm not in PERMS:
        raise ConfigError(key, f"must be RocketMQ's permission number {allowed}; got {raw!r}")
    return perm


def _message_type(key: str, raw: Any, release: ReleaseSettings, is_5x: bool) -> str | None:
    if not is_5x:
        if raw is not None:
            raise ConfigError(
                key,
                f"is a RocketMQ 5.x topic attribute (message.type); version {release.version} has none: "
                "leave it out, or use a 5.x release",
            )
        return None
    value = DEFAULT_MESSAGE_TYPE if raw is None else raw
    if not isinstance(value, str) or value.upper() not in MESSAGE_TYPES:
        raise ConfigError(key, f"must be one of {', '.join(MESSAGE_TYPES)}; got {raw!r}")
    return value.upper()


def _broker_groups(key: str, raw: Any, group_names: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return ()
    value = check.structured(key, raw)
    if not isinstance(value, list) or not value:
        raise ConfigError(
            key,
            f"must be a non-empty list of brokerNames such as [broker-a] (leave it out for all groups); got {raw!r}",
        )
    chosen: list[str] = []
    for index, item in enumerate(value):
        if item not in group_names:
            raise ConfigError(
                f"{key}[{index}]", f"{item!r} is not a broker group of this cluster, which has {', '.join(group_names)}"
            )
        if item in chosen:
            raise ConfigError(f"{key}[{index}]", f"{item!r} is listed twice")
        chosen.append(item)
    return tuple(sorted(chosen))


def _group(where: str, entry: dict[str, Any], release: ReleaseSettings, is_5x: bool) -> ConsumerGroupSpec:
    name = _name(f"{where}.name", entry["name"], GROUP_MAX_LENGTH)
    if name in SYSTEM_GROUPS or name.startswith(RESERVED_GROUP_PREFIXES):
        raise ConfigError(
            f"{where}.name",
            f"{name!r} is a RocketMQ system group name (reserved: {', '.join(sorted(SYSTEM_GROUPS))} and names "
            f"starting with {', '.join(RESERVED_GROUP_PREFIXES)})",
        )

    def flag(field: str, default: bool) -> bool:
        return check.boolean(f"{where}.{field}", entry.get(field, default))

    orderly: bool | None = None
    if is_5x:
        orderly = flag("orderly", False)
    elif "orderly" in entry:
        raise ConfigError(
            f"{where}.orderly",
            f"is RocketMQ 5.x's consumeMessageOrderly; version {release.version} has no such group setting: "
            "leave it out, or use a 5.x release",
        )
    return ConsumerGroupSpec(
        name=name,
        consume_from_min_enable=flag("consumeFromMinEnable", DEFAULT_CONSUME_FROM_MIN),
        broadcast=flag("broadcast", DEFAULT_BROADCAST),
        retry_queue_nums=check.integer(
            f"{where}.retryQueueNums", entry.get("retryQueueNums", DEFAULT_RETRY_QUEUES), 1, MAX_RETRY_QUEUES
        ),
        retry_max_times=check.integer(
            f"{where}.retryMaxTimes", entry.get("retryMaxTimes", DEFAULT_RETRY_MAX_TIMES), 0, MAX_RETRY_TIMES
        ),
        orderly=orderly,
    )
