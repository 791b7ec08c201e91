"""BrokerPair: one broker group (brokerName), its master and its slaves, as systemd services,
each checked to appear in `mqadmin clusterList` with its name, id and address.

Each broker is two steps: configure (write its files; start it when it is not running, in
parallel on a new cluster) and a rolling restart (restart it only when configure left it running
older files). The rolling restarts form one chain across the whole cluster, slaves before their
master, each waiting until its broker is registered again (and a slave has caught up with its
master) before the next one starts: at most one broker of the cluster is down at a time.

In master-slave-auto the controllers elect the master and give the ids: a broker is checked by
name and address, and a step whose broker is master when it runs hands the role over first."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from components.acl_rendering import render_acl_users_script
from components.config_model import ClusterConfig
from components.remote import root_script
from components.rendering import render_broker_rollout, render_broker_script, render_stop_command
from components.rocketmq_host import RocketMqHost
from components.service_steps import script_digest
from components.topology import BrokerGroup, BrokerNode, endpoint


@dataclass(frozen=True)
class BrokerPairArgs:
    cfg: ClusterConfig
    group: BrokerGroup
    hosts: Mapping[str, RocketMqHost]
    namesrv_addr: pulumi.Input[str]
    name_servers: Sequence[pulumi.Resource]
    # The rolling restart before this group's (the previous group's, or the name servers').
    rollout_after: Sequence[pulumi.Resource] = field(default_factory=tuple)
    # master-slave-auto: the controllers' address:port list, the brokers' controllerAddr.
    controller_addr: pulumi.Input[str] = ""


class BrokerPair(pulumi.ComponentResource):
    def __init__(self, name: str, args: BrokerPairArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:BrokerPair", name, None, opts)

        def at(node: BrokerNode, port: int) -> pulumi.Output[str]:
            """address:port of ``node``'s host, as clients inside the cluster's network reach it."""
            return args.hosts[node.host].private_address.apply(lambda address: endpoint(address, port))

        self.master: pulumi.Output[str] = at(args.group.master, args.group.master.listen_port)
        self.slaves: pulumi.Output[list[str]] = pulumi.Output.all(*[at(n, n.listen_port) for n in args.group.slaves])
        # Where Prometheus scrapes each broker of the group (none without rocketmq:metrics).
        self.metrics_targets: pulumi.Output[list[str]] = pulumi.Output.all(
            *[at(n, n.metrics_port) for n in args.group.nodes if n.metrics_port is not None]
        )

        # What the 5.x SDKs connect to: the proxy in the group's master (none without proxy local).
        # Not the slaves': a local proxy answers a route query with its own broker's topic config,
        # which a slave copies only about once a minute (the SDK refuses a route without it).
        master_proxy = args.group.master.proxy_ports
        self.proxy_endpoints: pulumi.Output[list[str]] = pulumi.Output.all(
            *([at(args.group.master, master_proxy.grpc)] if master_proxy is not None else [])
        )

        scripts = {node: self._script(args, node) for node in args.group.nodes}
        configured = {node: self._configure(name, args, node, scripts[node]) for node in args.group.nodes}
        self.rollouts: list[remote.Command] = []
        previous = list(args.rollout_after)
        for node in (*args.group.slaves, args.group.master):  # slaves first: they serve while the master restarts
            rollout = self._rollout(name, args, node, scripts[node], [configured[node], *previous])
            self.rollouts.append(rollout)
            previous = [rollout]
        # rocketmq:acl 2.0: each broker keeps its own users, set once it runs with authentication on
        # (ACL 1.0's users file is the host's credentials step).
        rollout_of = dict(zip((*args.group.slaves, args.group.master), self.rollouts, strict=True))
        keeps_users = args.cfg.acl is not None and args.cfg.acl.model == 2
        users = [self._acl_users(name, args, node, rollout_of[node]) for node in args.group.nodes if keeps_users]
        # Dependents (topics, consumer groups) wait for every step of every broker.
        self.services: list[remote.Command] = [*configured.values(), *self.rollouts, *users]
        # Every replica's address; in master-slave-auto the master is whichever replica the
        # controllers elected, as the group's latest rolling-restart step to run found it.
        self.replicas: pulumi.Output[list[str]] = pulumi.Output.all(*[at(n, n.listen_port) for n in args.group.nodes])
        if args.group.master.elected:
            self.master = _latest_master(self.rollouts)
        self.register_outputs(
            {
                "brokerName": args.group.broker_name,
                "master": self.master,
                "slaves": self.slaves,
                "replicas": self.replicas,
                "metricsTargets": self.metrics_targets,
                "proxyEndpoints": self.proxy_endpoints,
            }
        )

    @staticmethod
    def _script(args: BrokerPairArgs, node: BrokerNode) -> pulumi.Output[str]:
        host = args.hosts[node.host]
        return pulumi.Output.all(host.private_address, args.namesrv_addr, args.controller_addr, host.trusted_ca).apply(
            lambda values: render_broker_script(
                args.cfg, node, host.key, values[0], values[1], controller_addr=values[2], trusted_ca=values[3]
            )
        )

    def _configure(
        self, name: str, args: BrokerPairArgs, node: BrokerNode, script: pulumi.Output[str]
    ) -> remote.Command:
        host = args.hosts[node.host]
        return root_script(
            f"{name}-{node.broker_id}",
            host.connection,
            script,
            parent=self,
            depends_on=[host.installed, *args.name_servers],
            triggers=host.machine_triggers,
            delete=render_stop_command("broker"),
        )

    def _rollout(
        self,
        name: str,
        args: BrokerPairArgs,
        node: BrokerNode,
        script: pulumi.Output[str],
        after: Sequence[pulumi.Resource],
    ) -> remote.Command:
        host = args.hosts[node.host]
        # In master-slave-auto the step finds the group's master itself when it runs.
        master = None if node.is_master or node.elected else self.master
        rollout = pulumi.Output.all(host.private_address, args.namesrv_addr, master, args.controller_addr).apply(
            lambda values: render_broker_rollout(
                args.cfg, node, host.key, values[0], values[1], master_endpoint=values[2], controller_addr=values[3]
            )
        )
        return root_script(
            f"{name}-{node.broker_id}-rollout",
            host.connection,
            rollout,
            parent=self,
            depends_on=list(after),
            triggers=[*host.restart_triggers("broker"), script_digest(script)],
        )

    def _acl_users(self, name: str, args: BrokerPairArgs, node: BrokerNode, rollout: remote.Command) -> remote.Command:
        """The declared users and grants, on this broker (the script holds passwords: a secret)."""
        host = args.hosts[node.host]
        script = pulumi.Output.all(host.private_address, args.namesrv_addr).apply(
            lambda values: render_acl_users_script(
                args.cfg,
                node,
                host_label=host.key,
                namesrv_addr=values[1],
                broker_endpoint=endpoint(values[0], node.listen_port),
            )
        )
        return root_script(
            f"{name}-{node.broker_id}-acl-users",
            host.connection,
            pulumi.Output.secret(script),
            parent=self,
            depends_on=[rollout],
            triggers=host.machine_triggers,
        )


# What a master-slave-auto rolling-restart step prints last (templates/rollout.sh.j2).
_MASTER_NOW = re.compile(r"^master-now (\d+) (\S+)$", re.MULTILINE)


def latest_master(outputs: Sequence[str]) -> str:
    """The master the latest of a group's rolling-restart steps to run reported ("" when none has)."""
    seen = [(int(m.group(1)), m.group(2)) for text in outputs for m in _MASTER_NOW.finditer(text or "")]
    return max(seen)[1] if seen else ""


def _latest_master(rollouts: Sequence[remote.Command]) -> pulumi.Output[str]:
    """The controllers may elect another master at any time: this is the master as of the last `up`
    that ran one of the group's steps."""
    return pulumi.Output.all(*[rollout.stdout for rollout in rollouts]).apply(latest_master)
