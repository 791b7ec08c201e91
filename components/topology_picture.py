"""ClusterPlan -> a picture of the topology, as Mermaid text and as Graphviz DOT.

Pure, no Pulumi: it shows what a config would build before `pulumi up`, and the same plan and
config always give the same text. Both renderers draw one neutral `Picture`: hosts grouped by
zone, what each host carries, and arrows between hosts.

To draw a new role once the plan has it (proxies, controllers): add a function to ROLE_LINES
saying what a host carries, give it a colour in KIND_COLOURS if it should stand out, and, if it
talks to other roles in a way worth drawing, add a function to ARROW_SOURCES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from components.config_model import ClusterConfig
from components.topology import ClusterPlan, PlannedHost


@dataclass(frozen=True)
class Box:
    """One host: its title line, one line per thing it carries, and a kind for its colour."""

    ident: str
    title: str
    lines: tuple[str, ...]
    kind: str
    row: int  # the row of the DOT grid; zones are its columns


@dataclass(frozen=True)
class Zone:
    """Hosts drawn together; label None for hosts whose zone the program does not know."""

    ident: str
    label: str | None
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str
    strong: bool  # drawn bold (a send waits for it) rather than dashed


@dataclass(frozen=True)
class Picture:
    title: str
    zones: tuple[Zone, ...]
    arrows: tuple[Arrow, ...]


def _ident(host_key: str) -> str:
    # Host names are [a-z0-9-], so this is one-to-one; the prefix keeps names like `end` from
    # being read as Mermaid keywords.
    return "host_" + host_key.replace("-", "_")


# ---------------------------------------------------------------- what each host carries


def _name_server_lines(host: PlannedHost) -> list[str]:
    lines = [f"name server :{host.name_server_port}"] if host.name_server else []
    if host.controller_port is not None:
        lines.append(f"controller :{host.controller_port}")
    return lines


def _broker_lines(host: PlannedHost) -> list[str]:
    if host.broker is None:
        return []
    role = "replica (elected)" if host.broker.elected else host.broker.role
    lines = [f"{host.broker.label} {role} :{host.broker.listen_port}"]
    if host.broker.proxy_ports is not None:
        lines.append(f"proxy gRPC :{host.broker.proxy_ports.grpc}")
    return lines


def _proxy_lines(host: PlannedHost) -> list[str]:
    return [f"proxy gRPC :{host.proxy_ports.grpc}"] if host.proxy_ports is not None else []


ROLE_LINES: tuple[Callable[[PlannedHost], list[str]], ...] = (_name_server_lines, _broker_lines, _proxy_lines)


def _kind(host: PlannedHost) -> str:
    if host.broker is not None:
        return "replica" if host.broker.elected else "master" if host.broker.is_master else "slave"
    if host.proxy_ports is not None:
        return "proxy"
    if host.name_server:
        return "nameserver"
    return "controller" if host.own_controller else "other"


# ---------------------------------------------------------------- arrows between hosts


def _replication_arrows(plan: ClusterPlan) -> list[Arrow]:
    """Each slave copies its master's commit log; in SYNC_MASTER groups a send waits for it. In
    master-slave-auto the arrows start at replica 0, the master until the controllers elect another,
    and a send waits for every replica in the sync state set."""
    arrows = []
    for group in plan.groups:
        sync = group.master.role == "SYNC_MASTER" or group.master.elected
        for slave in group.slaves:
            arrows.append(Arrow(_ident(group.master.host), _ident(slave.host), "sync" if sync else "async", sync))
    return arrows


ARROW_SOURCES: tuple[Callable[[ClusterPlan], list[Arrow]], ...] = (_replication_arrows,)


# ---------------------------------------------------------------- the picture


def _title_of(host: PlannedHost, cfg: ClusterConfig) -> str:
    if cfg.target == "hosts":
        spec = next(s for s in cfg.hosts if s.name == host.key)
        private = f" (private {spec.private_address})" if spec.private_address != spec.address else ""
        return f"{spec.name} {spec.address}{private}"
    if cfg.target == "local":
        return f"{host.key} nspawn machine, ssh 127.0.0.1:{host.ssh_port}"
    assert cfg.aws is not None
    instance_type = cfg.aws.name_server_instance_type
    if host.broker is not None:
        instance_type = cfg.aws.broker_instance_type
    elif host.proxy_ports is not None:
        instance_type = cfg.aws.proxy_instance_type
    return f"{host.key} {instance_type}"


def _zone_label(slot: int, cfg: ClusterConfig) -> str:
    # Real zone names are only known once the region is asked, at deploy time; given subnets
    # are used in their listed order.
    label = f"zone {slot + 1}"
    if cfg.aws is not None and cfg.aws.subnet_ids:
        label += f" ({cfg.aws.subnet_ids[slot % len(cfg.aws.subnet_ids)]})"
    return label


def picture(plan: ClusterPlan, cfg: ClusterConfig) -> Picture:
    group_index = {group.broker_name: index for index, group in enumerate(plan.groups)}

    def order(host: PlannedHost) -> tuple[int, int]:
        return (group_index[host.broker.broker_name] + 1, host.broker.broker_id) if host.broker else (0, 0)

    boxes: dict[int | None, list[Box]] = {}
    for host in sorted(plan.hosts, key=order):
        lines = tuple(line for describe in ROLE_LINES for line in describe(host))
        # Grid rows (DOT): hosts without a broker on top, then a row per group with slaves (its
        # replication arrows run along it), or a single row of masters.
        row = 0 if host.broker is None else order(host)[0] if plan.mode.has_slaves else 1
        box = Box(_ident(host.key), _title_of(host, cfg), lines, _kind(host), row)
        boxes.setdefault(host.zone_slot if cfg.target == "aws" else None, []).append(box)
    zones = tuple(
        Zone("hosts", None, tuple(members))
        if slot is None
        else Zone(f"zone_{slot + 1}", _zone_label(slot, cfg), tuple(members))
        for slot, members in sorted(boxes.items(), key=lambda item: -1 if item[0] is None else item[0])
    )
    arrows = tuple(arrow for source in ARROW_SOURCES for arrow in source(plan))
    return Picture(f"{plan.cluster_name}: {plan.mode.value} on {cfg.target}", zones, arrows)


KIND_COLOURS = {
    "master": ("#fde2c8", "#c0600a"),
    "slave": ("#dbe9f6", "#2a6fb0"),
    "replica": ("#f6f0d2", "#8a7410"),
    "nameserver": ("#e3f1dc", "#3d8b2f"),
    "proxy": ("#efe3f6", "#7a3fa0"),
    "controller": ("#e0e0e0", "#505050"),
}


# ---------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(plan: ClusterPlan, cfg: ClusterConfig) -> str:
    """A Mermaid flowchart (no ``` fence): one subgraph per zone, one node per host."""
    pic = picture(plan, cfg)
    out = ["flowchart LR", f'  subgraph cluster["{_mermaid_text(pic.title)}"]']
    for zone in pic.zones:
        indent = "    "
        if zone.label is not None:
            out.append(f'    subgraph {zone.ident}["{_mermaid_text(zone.label)}"]')
            indent = "      "
        for box in zone.boxes:
            label = "<br/>".join(_mermaid_text(t) for t in (box.title, *box.lines))
            out.append(f'{indent}{box.ident}["{label}"]')
        if zone.label is not None:
            out.append("    end")
    out.append("  end")
    for arrow in pic.arrows:
        link = "==>" if arrow.strong else "-.->"
        out.append(f"  {arrow.source} {link}|{arrow.label}| {arrow.target}")
    for kind, (fill, stroke) in KIND_COLOURS.items():
        members = [box.ident for zone in pic.zones for box in zone.boxes if box.kind == kind]
        if members:
            out.append(f"  classDef {kind} fill:{fill},stroke:{stroke},color:#222")
            out.append(f"  class {','.join(members)} {kind}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Graphviz


def _dot_text(*lines: str) -> str:
    """A quoted DOT string, one line per argument."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


def graphviz_dot(plan: ClusterPlan, cfg: ClusterConfig) -> str:
    """The same picture for `dot -Tsvg`: zones side by side as columns, name servers on top, then
    one row per broker group; arrows do not move hosts (constraint=false), the rows do."""
    pic = picture(plan, cfg)
    out = [
        "digraph rocketmq {",
        f"  graph [label={_dot_text(pic.title)}, labelloc=t, fontname=Helvetica, fontsize=16, newrank=true, nodesep=0.4];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11, fillcolor="#f2f2f2"];',
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    for zone in pic.zones:
        indent = "  "
        if zone.label is not None:
            out.append(f"  subgraph cluster_{zone.ident} {{")
            out.append(f'    graph [label={_dot_text(zone.label)}, style="rounded,dashed", color="#888888"];')
            indent = "    "
        for box in zone.boxes:
            colours = ""
            if box.kind in KIND_COLOURS:
                fill, stroke = KIND_COLOURS[box.kind]
                colours = f', fillcolor="{fill}", color="{stroke}"'
            out.append(f"{indent}{box.ident} [label={_dot_text(box.title, *box.lines)}{colours}];")
        if zone.label is not None:
            out.append("  }")
    for arrow in pic.arrows:
        style = "bold" if arrow.strong else "dashed"
        out.append(
            f"  {arrow.source} -> {arrow.target} [label={_dot_text(arrow.label)}, style={style}, constraint=false];"
        )
    # The grid: each row one rank, ordered by zone along invisible edges, each row below the last.
    rows: dict[int, list[str]] = {}
    for zone in pic.zones:
        for box in zone.boxes:
            rows.setdefault(box.row, []).append(box.ident)
    heads = [members[0] for _, members in sorted(rows.items())]
    for _, members in sorted(rows.items()):
        if len(members) > 1:
            out.append(f"  {{ rank=same; {' -> '.join(members)} [style=invis]; }}")
    if len(heads) > 1:
        out.append(f"  {' -> '.join(heads)} [style=invis];")
    out.append("}")
    return "\n".join(out) + "\n"
