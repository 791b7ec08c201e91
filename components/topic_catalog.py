"""TopicCatalog: the stack's topics and consumer groups, declared with mqadmin on a master host.

One remote Command per topic and per group, each run once every broker group is healthy. A
Command reruns only when its script changes (the topic's settings, the name servers, the host),
so a no-change `up` runs nothing. Its `delete` is fixed when it last ran: with pruneTopics on,
the same script deletes the topic or group from the cluster; with it off, a topic or group
removed from the config only leaves Pulumi's state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.config_model import ClusterConfig
from components.config_topics import ConsumerGroupSpec, TopicSpec
from components.remote import root_script
from components.rendering import DELETE_FROM_STDIN
from components.rocketmq_host import RocketMqHost
from components.tls_settings import cluster_info_ca
from components.topic_rendering import render_group_script, render_topic_script

TopicLayout = dict[str, dict[str, dict[str, int]]]


def topic_layout(topics: Sequence[TopicSpec], broker_names: Sequence[str]) -> TopicLayout:
    """The `topics` output: name -> {brokerName: {"read": n, "write": n}}, from the config alone."""
    return {
        topic.name: {
            name: {"read": topic.read_queues, "write": topic.write_queues}
            for name in (topic.broker_groups or broker_names)
        }
        for topic in topics
    }


@dataclass(frozen=True)
class TopicCatalogArgs:
    cfg: ClusterConfig
    broker_names: Sequence[str]  # every broker group of the plan
    admin_host: RocketMqHost  # a master's host: its mqadmin declares everything
    namesrv_addr: pulumi.Input[str]
    masters: Mapping[str, pulumi.Input[str]]  # brokerName -> its master's endpoint, for `updateTopic -b`
    brokers: Sequence[pulumi.Resource]  # every BrokerPair: nothing is declared before all are healthy


class TopicCatalog(pulumi.ComponentResource):
    def __init__(self, name: str, args: TopicCatalogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:TopicCatalog", name, None, opts)
        self.topic_commands: dict[str, remote.Command] = {
            topic.name: self._topic(args, topic) for topic in args.cfg.topics
        }
        self.group_commands: dict[str, remote.Command] = {
            group.name: self._group(args, group) for group in args.cfg.consumer_groups
        }
        self.topics: TopicLayout = topic_layout(args.cfg.topics, args.broker_names)
        self.register_outputs({"topics": self.topics, "consumerGroups": [g.name for g in args.cfg.consumer_groups]})

    def _command(self, name: str, args: TopicCatalogArgs, script: pulumi.Input[str]) -> remote.Command:
        return root_script(
            name,
            args.admin_host.connection,
            script,
            parent=self,
            depends_on=args.brokers,
            delete=DELETE_FROM_STDIN if args.cfg.prune_topics else None,
        )

    def _topic(self, args: TopicCatalogArgs, topic: TopicSpec) -> remote.Command:
        chosen = topic.broker_groups

        def render(values: list[str]) -> str:
            return render_topic_script(
                topic,
                host_label=args.admin_host.key,
                cluster_name=args.cfg.cluster_name,
                namesrv_addr=values[0],
                broker_names=chosen or args.broker_names,
                broker_addresses=dict(zip(chosen, values[1:], strict=True)),
                cluster_info_ca=cluster_info_ca(args.cfg.tls),
            )

        script = pulumi.Output.all(args.namesrv_addr, *[args.masters[g] for g in chosen]).apply(render)
        return self._command(f"rocketmq-topic-{topic.name}", args, script)

    def _group(self, args: TopicCatalogArgs, group: ConsumerGroupSpec) -> remote.Command:
        script = pulumi.Output.from_input(args.namesrv_addr).apply(
            lambda namesrv: render_group_script(
                group,
                host_label=args.admin_host.key,
                cluster_name=args.cfg.cluster_name,
                namesrv_addr=namesrv,
                broker_names=args.broker_names,
            )
        )
        return self._command(f"rocketmq-group-{group.name}", args, script)
