"""Host firewalls (target hosts): who may reach which port of a host, as plain data, and the script
that applies it with firewalld or ufw, whichever is active on the host (neither: nothing to do).

Pure: the plan (components/topology.py) says which roles a host runs; this says who reaches each
of their ports. Applications reach the name servers, brokers and proxies (clientCidrs, and the
cluster's own hosts); only the cluster's hosts reach the brokers' HA ports and the controllers;
only metricsCidrs reach the Prometheus exporters.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from components.config_model import HostSpec
from components.rendering import render
from components.topology import PlannedHost, broker_ports


class Audience(StrEnum):
    CLIENTS = "clients"  # applications, and the cluster's hosts (mqadmin, brokers to name servers)
    CLUSTER = "cluster"  # the cluster's hosts only
    METRICS = "metrics"  # Prometheus servers (metricsCidrs) only


@dataclass(frozen=True)
class FirewallSources:
    """Who is who: the cluster's host addresses and the stack's clientCidrs and metricsCidrs."""

    cluster: tuple[str, ...]
    clients: tuple[str, ...]
    metrics: tuple[str, ...]

    def of(self, audience: Audience) -> tuple[str, ...]:
        if audience is Audience.CLUSTER:
            return self.cluster
        if audience is Audience.CLIENTS:
            return (*self.cluster, *self.clients)
        return self.metrics


@dataclass(frozen=True, order=True)
class FirewallRule:
    """TCP connections from `source` (an IPv4 CIDR) to `port` are let in."""

    source: str
    port: int


def port_audiences(host: PlannedHost) -> tuple[tuple[int, Audience], ...]:
    """Every port RocketMQ opens on `host` (PlannedHost.listen_ports), with who may reach it."""
    ports: list[tuple[int, Audience]] = []
    if host.name_server:
        ports.append((host.name_server_port, Audience.CLIENTS))
    if host.controller_port is not None:
        ports.append((host.controller_port, Audience.CLUSTER))
    if host.broker is not None:
        fast, listen, ha = broker_ports(host.broker.listen_port)
        ports += [(fast, Audience.CLIENTS), (listen, Audience.CLIENTS), (ha, Audience.CLUSTER)]
        if host.broker.metrics_port is not None:
            ports.append((host.broker.metrics_port, Audience.METRICS))
        if host.broker.proxy_ports is not None:
            ports += [
                (host.broker.proxy_ports.grpc, Audience.CLIENTS),
                (host.broker.proxy_ports.remoting, Audience.CLIENTS),
            ]
    if host.proxy_ports is not None:
        ports += [(host.proxy_ports.grpc, Audience.CLIENTS), (host.proxy_ports.remoting, Audience.CLIENTS)]
        if host.metrics_port is not None:
            ports.append((host.metrics_port, Audience.METRICS))
    return tuple(ports)


def cluster_sources(hosts: Iterable[HostSpec]) -> tuple[str, ...]:
    """Each host's addresses as /32 CIDRs: its private address, and its address when that is an
    IPv4 address too (a DNS name cannot go into a firewall rule)."""
    sources: set[str] = set()
    for spec in hosts:
        sources.add(f"{spec.private_address}/32")
        with contextlib.suppress(ValueError):  # a DNS name or an IPv6 address
            sources.add(f"{ipaddress.IPv4Address(spec.address)}/32")
    return tuple(sorted(sources))


def firewall_rules(host: PlannedHost, sources: FirewallSources) -> tuple[FirewallRule, ...]:
    """The rules `host` needs, sorted and without repeats."""
    return tuple(
        sorted(
            {FirewallRule(source, port) for port, audience in port_audiences(host) for source in sources.of(audience)}
        )
    )


# Where a host keeps the rules the program opened, to close them when no longer wanted.
FIREWALL_STATE = "/etc/rocketmq/firewall.rules"


def render_firewall_script(host_label: str, rules: tuple[FirewallRule, ...], state_path: str = FIREWALL_STATE) -> str:
    """Opens `rules` and closes the ones an earlier run opened that are no longer wanted; run with
    the argument `delete`, closes every rule it opened."""
    return render("firewall.sh.j2", host_label=host_label, rules=rules, state_path=state_path)
