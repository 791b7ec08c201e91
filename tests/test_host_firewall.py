"""Host firewalls on target hosts: who may reach each port (pure), the script that applies it with
firewalld (run here against a stand-in firewall-cmd that keeps rules as firewalld does), its place
in the program, and the settings refused before anything is created."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_config
from components.config_checks import ConfigError
from components.firewall_rules import (
    Audience,
    FirewallRule,
    FirewallSources,
    cluster_sources,
    firewall_rules,
    port_audiences,
    render_firewall_script,
)
from components.topology import PlannedHost, plan_cluster
from tests.pulumi_harness import run_main_program
from tests.shell_checks import check_script
from tests.stacks import HOSTS_BY_MODE, aws_stack, hosts_stack

ASYNC = "master-slave-async"
CLIENTS = "203.0.113.0/24"
PROMETHEUS = "198.51.100.7/32"
# HOSTS_BY_MODE[ASYNC]: four hosts, peer4 with a private address of its own.
CLUSTER = {"192.0.2.11/32", "192.0.2.12/32", "192.0.2.13/32", "192.0.2.14/32", "10.0.0.14/32"}


def _async_stack(**overrides: Any) -> dict[str, Any]:
    return hosts_stack(
        ASYNC, metrics=True, clientCidrs=json.dumps([CLIENTS]), metricsCidrs=json.dumps([PROMETHEUS]), **overrides
    )


def _rules_by_port(host: PlannedHost, sources: FirewallSources) -> dict[int, set[str]]:
    by_port: dict[int, set[str]] = {}
    for rule in firewall_rules(host, sources):
        by_port.setdefault(rule.port, set()).add(rule.source)
    return by_port


def test_each_port_lets_in_only_who_needs_it() -> None:
    cfg = parse_config(_async_stack())
    assert cfg.host_firewall is not None
    sources = FirewallSources(
        cluster_sources(cfg.hosts), cfg.host_firewall.client_cidrs, cfg.host_firewall.metrics_cidrs
    )
    assert set(sources.cluster) == CLUSTER
    peer1 = next(h for h in plan_cluster(cfg).hosts if h.key == "peer1")  # name server, broker-a/0
    by_port = _rules_by_port(peer1, sources)
    assert set(by_port) == set(peer1.listen_ports)  # every port RocketMQ opens here, and no other
    clients_and_cluster = CLUSTER | {CLIENTS}
    assert by_port[9876] == by_port[10911] == by_port[10909] == clients_and_cluster
    assert by_port[8081] == by_port[8080] == clients_and_cluster  # the proxy inside the broker
    assert by_port[10912] == CLUSTER  # HA: the group's slaves, never clients
    assert by_port[5557] == {PROMETHEUS}


def test_without_metrics_cidrs_the_exporter_stays_closed() -> None:
    cfg = parse_config(hosts_stack(ASYNC, metrics=True))
    assert cfg.host_firewall is not None and cfg.host_firewall.client_cidrs == ()
    sources = FirewallSources(cluster_sources(cfg.hosts), (), ())
    for host in plan_cluster(cfg).hosts:
        by_port = _rules_by_port(host, sources)
        assert 5557 not in by_port and all(sources == CLUSTER for sources in by_port.values()), host.key


def test_controllers_and_proxies_of_their_own() -> None:
    hosts = [
        *HOSTS_BY_MODE["master-slave-auto"],
        {"name": "ctl", "address": "192.0.2.20", "controller": True},
        {"name": "gw", "address": "192.0.2.21", "proxy": True},
    ]
    cfg = parse_config(hosts_stack("master-slave-auto", hosts, proxy="cluster", clientCidrs=json.dumps([CLIENTS])))
    planned = {h.key: h for h in plan_cluster(cfg).hosts}
    assert port_audiences(planned["ctl"]) == ((9878, Audience.CLUSTER),)
    assert dict(port_audiences(planned["gw"])) == {8081: Audience.CLIENTS, 8080: Audience.CLIENTS}
    assert cfg.host_firewall is not None
    sources = FirewallSources(cluster_sources(cfg.hosts), cfg.host_firewall.client_cidrs, ())
    assert CLIENTS not in _rules_by_port(planned["ctl"], sources)[9878]


def test_a_dns_name_is_no_firewall_source() -> None:
    hosts = [
        {
            "name": "peer1",
            "address": "mq1.example.com",
            "privateAddress": "10.0.0.1",
            "nameServer": True,
            "broker": "broker-a/0",
        }
    ]
    cfg = parse_config(hosts_stack("single-master", hosts))
    assert cluster_sources(cfg.hosts) == ("10.0.0.1/32",)


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"clientCidrs": json.dumps(["10.0.0.0/33"])}, "clientCidrs", "IPv4 CIDR"),
        ({"metrics": True, "metricsCidrs": json.dumps(["0.0.0.0/0"])}, "metricsCidrs", "whole internet"),
    ],
)
def test_bad_sources_are_refused_on_hosts(overrides: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        parse_config(hosts_stack(ASYNC, **overrides))
    assert refused.value.key.startswith(f"rocketmq:{key}")


def _fake_firewalld(tmp_path: Path) -> dict[str, str]:
    """A PATH where systemctl says firewalld runs and firewall-cmd keeps runtime and permanent rich
    rules in files, adding and removing as firewalld does (repeats change nothing)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text('#!/bin/bash\n[[ "$*" == "is-active --quiet firewalld" ]]\n')
    (bin_dir / "firewall-cmd").write_text(
        """#!/bin/bash
set -euo pipefail
store=$FAKE_DIR/runtime
[[ $1 == -q ]] && shift
if [[ $1 == --permanent ]]; then store=$FAKE_DIR/permanent; shift; fi
touch "$store"
for arg in "$@"; do
  rule=${arg#*=}
  case $arg in
    --add-rich-rule=*) grep -qxF "$rule" "$store" || echo "$rule" >>"$store" ;;
    --remove-rich-rule=*) { grep -vxF "$rule" "$store" || true; } >"$store.new"; mv "$store.new" "$store" ;;
    *) exit 2 ;;
  esac
done
echo called >>"$FAKE_DIR/calls"
"""
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_DIR": str(tmp_path)}


def _run(script: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["bash", "-s", *args], input=script, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _rich(rule: FirewallRule) -> str:
    return f'rule family="ipv4" source address="{rule.source}" port port="{rule.port}" protocol="tcp" accept'


def _kept(tmp_path: Path, store: str) -> set[str]:
    path = tmp_path / store
    return set(path.read_text().splitlines()) if path.exists() else set()


def test_the_script_opens_closes_and_forgets_with_firewalld(tmp_path: Path) -> None:
    env = _fake_firewalld(tmp_path)
    state = tmp_path / "etc" / "firewall.rules"
    first = (FirewallRule("10.0.0.1/32", 9876), FirewallRule("10.0.0.2/32", 9876), FirewallRule(CLIENTS, 10911))
    script = render_firewall_script("peer1", first, str(state))
    check_script(tmp_path, "firewall.sh", script)
    assert "firewalld lets in 3 source/port pairs; closed 0" in _run(script, env)
    assert _kept(tmp_path, "permanent") == _kept(tmp_path, "runtime") == {_rich(r) for r in first}
    assert (tmp_path / "calls").read_text().count("called") == 2  # one call each for permanent and runtime

    # A host left the cluster: its rule closes, the others stay; running it again changes nothing.
    second = render_firewall_script("peer1", first[1:], str(state))
    for _ in range(2):
        _run(second, env)
        assert _kept(tmp_path, "permanent") == _kept(tmp_path, "runtime") == {_rich(r) for r in first[1:]}
    assert state.read_text().splitlines() == [f"{r.source} {r.port}" for r in first[1:]]

    # Destroy closes what the program opened, and only that.
    (tmp_path / "permanent").write_text((tmp_path / "permanent").read_text() + "someone else's rule\n")
    _run(second, env, "delete")
    assert _kept(tmp_path, "permanent") == {"someone else's rule"} and _kept(tmp_path, "runtime") == set()
    assert not state.exists()


def test_the_script_uses_ufw_where_it_is_active(tmp_path: Path) -> None:
    env = _fake_firewalld(tmp_path)
    bin_dir = tmp_path / "bin"
    (bin_dir / "systemctl").write_text("#!/bin/bash\nexit 3\n")  # no firewalld
    # ufw's own syntax: `allow|delete allow proto tcp from SRC to any port N`; rules kept in a file.
    (bin_dir / "ufw").write_text(
        """#!/bin/bash
set -euo pipefail
rules=$FAKE_DIR/ufw
touch "$rules"
if [[ $1 == status ]]; then echo "Status: active"; exit 0; fi
if [[ $1 == delete ]]; then action=delete; shift; else action=add; fi
[[ "$1 $2 $3 $4 $6 $7 $8" == "allow proto tcp from to any port" ]] || exit 2
if [[ $action == add ]]; then
  grep -qxF "$5 $9" "$rules" || echo "$5 $9" >>"$rules"
else
  { grep -vxF "$5 $9" "$rules" || true; } >"$rules.new"; mv "$rules.new" "$rules"
fi
"""
    )
    (bin_dir / "ufw").chmod(0o755)
    state = tmp_path / "firewall.rules"
    rules = (FirewallRule("10.0.0.1/32", 9876), FirewallRule(CLIENTS, 9876))
    assert "ufw lets in 2 source/port pairs" in _run(render_firewall_script("peer1", rules, str(state)), env)
    assert _kept(tmp_path, "ufw") == {"10.0.0.1/32 9876", f"{CLIENTS} 9876"}
    _run(render_firewall_script("peer1", rules[:1], str(state)), env)
    assert _kept(tmp_path, "ufw") == {"10.0.0.1/32 9876"}
    _run(render_firewall_script("peer1", rules[:1], str(state)), env, "delete")
    assert _kept(tmp_path, "ufw") == set() and not state.exists()


def test_without_an_active_firewall_nothing_is_touched(tmp_path: Path) -> None:
    env = _fake_firewalld(tmp_path)
    (tmp_path / "bin" / "systemctl").write_text("#!/bin/bash\nexit 3\n")  # firewalld inactive
    state = tmp_path / "firewall.rules"
    out = _run(render_firewall_script("peer1", (FirewallRule(CLIENTS, 9876),), str(state)), env)
    assert "no active firewalld or ufw" in out and not (tmp_path / "calls").exists()
    assert state.read_text() == f"{CLIENTS} 9876\n"  # closed later should firewalld come on


def test_hosts_open_their_firewall_before_the_release_is_installed() -> None:
    stack = _async_stack()
    run = run_main_program(stack, ["sshPrivateKey"])
    for name in ("peer1", "peer2", "peer3", "peer4"):
        step = run.mocks.named(f"rocketmq-{name}-firewall")
        assert "firewall-cmd" in step.inputs["stdin"] and step.inputs["delete"].endswith("-s delete; fi")
        assert f"rocketmq-{name}-firewall" in run.mocks.depends_on(run.mocks.named(f"rocketmq-{name}-install"))
    peer4 = run.mocks.named("rocketmq-peer4-firewall").inputs["stdin"]
    assert f"\n{CLIENTS} 10911\n" in peer4 and " 9876\n" not in peer4  # no name server there
    aws = run_main_program(aws_stack(ASYNC), ["sshPrivateKey"])
    assert not [c.name for c in aws.commands if c.name.endswith("-firewall")]  # the security group does it
