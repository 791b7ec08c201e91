"""Render the scripts that declare topics and consumer groups with mqadmin (pure, no Pulumi).

Each script applies one topic or group and reads it back; given `delete` as its first argument
it removes it instead, which is what the Command's `delete` runs when pruneTopics is on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.config_topics import ConsumerGroupSpec, TopicSpec
from components.rendering import ADMIN_LOCK, CLUSTER_INFO, MQADMIN, render
from components.tls_settings import CLUSTER_INFO_CA_VARIABLE

# How long the name servers may take to show a topic's new route (brokers register it at once,
# but a name server that missed the registration waits for the next one, every 30 s).
ROUTE_TIMEOUT_SECONDS = 120


def expected_route(topic: TopicSpec, broker_names: Sequence[str]) -> list[str]:
    """`brokerName readQueues writeQueues perm` per group the topic lives on, as the check compares."""
    return [f"{name} {topic.read_queues} {topic.write_queues} {topic.perm}" for name in broker_names]


def render_topic_script(
    topic: TopicSpec,
    *,
    host_label: str,
    cluster_name: str,
    namesrv_addr: str,
    broker_names: Sequence[str],
    broker_addresses: Mapping[str, str],
    mqadmin: str = MQADMIN,
    route_timeout_seconds: int = ROUTE_TIMEOUT_SECONDS,
    lock_path: str = ADMIN_LOCK,
    cluster_info_ca: str = "",
) -> str:
    """`broker_names`: where the topic lives (every group, or the chosen ones); `broker_addresses`:
    the master endpoint of each chosen group ("": the master the name servers list when the step
    runs, in master-slave-auto), empty for every group (updateTopic -c); `cluster_info_ca`: the CA
    cluster-info checks the name servers against (rocketmq:tls), "" for plaintext."""
    if topic.broker_groups and set(broker_addresses) != set(topic.broker_groups):
        raise ValueError(f"topic {topic.name}: master addresses for {sorted(broker_addresses)}, not its groups")
    return render(
        "topic.sh.j2",
        topic=topic,
        host_label=host_label,
        cluster_name=cluster_name,
        namesrv_addr=namesrv_addr,
        masters=[(name, broker_addresses[name]) for name in sorted(broker_addresses)],
        cluster_info=CLUSTER_INFO,
        cluster_info_ca=cluster_info_ca,
        cluster_info_ca_variable=CLUSTER_INFO_CA_VARIABLE,
        expected=expected_route(topic, broker_names),
        route_timeout_seconds=route_timeout_seconds,
        mqadmin=mqadmin,
        lock_path=lock_path,
    )


def expected_group_config(group: ConsumerGroupSpec, broker_names: Sequence[str]) -> list[str]:
    """`brokerName field value` lines as `mqadmin getConsumerConfig` prints SubscriptionGroupConfig."""
    fields = {
        "consumeFromMinEnable": group.consume_from_min_enable,
        "consumeBroadcastEnable": group.broadcast,
        "retryQueueNums": group.retry_queue_nums,
        "retryMaxTimes": group.retry_max_times,
    }
    if group.orderly is not None:
        fields["consumeMessageOrderly"] = group.orderly
    return [f"{name} {field} {_text(value)}" for name in broker_names for field, value in fields.items()]


def render_group_script(
    group: ConsumerGroupSpec,
    *,
    host_label: str,
    cluster_name: str,
    namesrv_addr: str,
    broker_names: Sequence[str],
    mqadmin: str = MQADMIN,
    route_timeout_seconds: int = ROUTE_TIMEOUT_SECONDS,
    lock_path: str = ADMIN_LOCK,
) -> str:
    return render(
        "consumer-group.sh.j2",
        group=group,
        host_label=host_label,
        cluster_name=cluster_name,
        namesrv_addr=namesrv_addr,
        flags={
            "-m": _text(group.consume_from_min_enable),
            "-d": _text(group.broadcast),
            "-q": group.retry_queue_nums,
            "-r": group.retry_max_times,
            **({"-o": _text(group.orderly)} if group.orderly is not None else {}),
        },
        expected=expected_group_config(group, broker_names),
        route_timeout_seconds=route_timeout_seconds,
        mqadmin=mqadmin,
        lock_path=lock_path,
    )


def _text(value: bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
