"""Topics and consumer groups as code under Pulumi mocks: the TopicCatalog's commands, their
dependencies on the brokers, what a change reruns, and the `topics` output (the scripts
themselves: tests/test_topic_catalog.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime import mocks as pulumi_mocks

from components.rendering import DELETE_FROM_STDIN
from components.topic_catalog import topic_layout
from tests.pulumi_harness import PRIVATE_KEY, ProgramRun, run_main_program
from tests.stacks import HOSTS_BY_MODE, hosts_stack

TOPICS: list[dict[str, Any]] = [
    {"name": "Orders", "readQueues": 16, "writeQueues": 16},
    {"name": "Audit", "perm": 4, "brokerGroups": ["broker-b"]},
    {"name": "Payments", "messageType": "TRANSACTION"},
]
GROUPS: list[dict[str, Any]] = [{"name": "order-service", "retryMaxTimes": 5}, {"name": "ledger", "orderly": True}]


def catalog_stack(topics: list[dict[str, Any]] = TOPICS, **overrides: Any) -> dict[str, Any]:
    return hosts_stack("master-slave-async", topics=json.dumps(topics), consumerGroups=json.dumps(GROUPS), **overrides)


@pytest.fixture
def dependencies(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[str, list[str]]]:
    """name -> (urn, urns it depends on), as registered with the engine."""
    seen: dict[str, tuple[str, list[str]]] = {}
    original: Any = pulumi_mocks.MockMonitor.RegisterResource  # untyped in the SDK

    def record(self: Any, request: Any) -> Any:
        response = original(self, request)
        seen[request.name] = (response.urn, list(request.dependencies))
        return response

    monkeypatch.setattr(pulumi_mocks.MockMonitor, "RegisterResource", record)
    return seen


def _by_name(run: ProgramRun) -> dict[str, Any]:
    return {c.name: c for c in run.commands}


def test_one_command_per_topic_and_group_on_a_master_host(dependencies: dict[str, tuple[str, list[str]]]) -> None:
    run = run_main_program(catalog_stack(), ["sshPrivateKey"])
    commands = _by_name(run)
    catalog = sorted(n for n in commands if n.startswith(("rocketmq-topic-", "rocketmq-group-")))
    assert catalog == [
        "rocketmq-group-ledger",
        "rocketmq-group-order-service",
        "rocketmq-topic-Audit",
        "rocketmq-topic-Orders",
        "rocketmq-topic-Payments",
    ]
    broker_a_master = next(h for h in HOSTS_BY_MODE["master-slave-async"] if h.get("broker") == "broker-a/0")
    broker_b_master = next(h for h in HOSTS_BY_MODE["master-slave-async"] if h.get("broker") == "broker-b/0")
    for name in catalog:
        command = commands[name]
        assert command.inputs["connection"]["value"]["host"] == broker_a_master["address"]
        assert command.inputs["create"].endswith("exec sudo -n /bin/bash -s; fi")
        assert "delete" not in command.inputs  # pruneTopics is off: removing it only forgets it
        assert "HOST_LABEL=peer1" in command.inputs["stdin"]
        assert "exec 9>/run/rocketmq-catalog.lock\nflock 9\n" in command.inputs["stdin"]  # one at a time
        assert f"NAMESRV_ADDR='{run.outputs['namesrvAddr']}'" in command.inputs["stdin"]

    orders = commands["rocketmq-topic-Orders"].inputs["stdin"]
    assert 'update_topic -c "$CLUSTER_NAME"' in orders and "-r 16 -w 16 -p 6 -a +message.type=NORMAL" in orders
    assert "'broker-a 16 16 6'" in orders and "'broker-b 16 16 6'" in orders
    audit = commands["rocketmq-topic-Audit"].inputs["stdin"]
    assert (
        f"update_topic -b {broker_b_master['address']}:10911" in audit and "-c " not in audit.split("update_topic()")[1]
    )
    assert "'broker-b 8 8 4'" in audit and "broker-a 8" not in audit
    assert "+message.type=TRANSACTION" in commands["rocketmq-topic-Payments"].inputs["stdin"]
    assert "-r 5" in commands["rocketmq-group-order-service"].inputs["stdin"]
    assert "-o true" in commands["rocketmq-group-ledger"].inputs["stdin"]

    # Each waits for every broker of every group (configured and rolled out), not only for broker-a's.
    broker_urns = {
        urn for name, (urn, _) in dependencies.items() if name.startswith(("rocketmq-broker-a-", "rocketmq-broker-b-"))
    }
    assert len(broker_urns) == 8
    for name in catalog:
        assert broker_urns <= set(dependencies[name][1]), name


def test_topics_output_comes_from_the_config() -> None:
    run = run_main_program(catalog_stack(), ["sshPrivateKey"])
    both = {"broker-a": {"read": 8, "write": 8}, "broker-b": {"read": 8, "write": 8}}
    assert run.outputs["topics"] == {
        "Orders": {"broker-a": {"read": 16, "write": 16}, "broker-b": {"read": 16, "write": 16}},
        "Audit": {"broker-b": {"read": 8, "write": 8}},
        "Payments": both,
    }
    assert topic_layout([], ["broker-a"]) == {}


def test_no_topics_no_commands() -> None:
    run = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    assert not [c for c in run.commands if c.name.startswith(("rocketmq-topic-", "rocketmq-group-"))]
    assert run.outputs["topics"] == {}
    assert run.mocks.of_type("rocketmq:index:TopicCatalog")


def test_pruning_deletes_through_the_same_script() -> None:
    run = run_main_program(catalog_stack(pruneTopics=True), ["sshPrivateKey"])
    for name, command in _by_name(run).items():
        if name.startswith(("rocketmq-topic-", "rocketmq-group-")):
            assert command.inputs["delete"] == DELETE_FROM_STDIN, name
            assert "if [[ ${1:-} == delete ]]" in command.inputs["stdin"]


def test_changes_rerun_only_what_changed() -> None:
    before = _by_name(run_main_program(catalog_stack(), ["sshPrivateKey"]))
    more_queues = [{**TOPICS[0], "readQueues": 32, "writeQueues": 32}, *TOPICS[1:]]
    after = _by_name(run_main_program(catalog_stack(more_queues), ["sshPrivateKey"]))
    changed = {n for n, c in after.items() if c.inputs != before[n].inputs}
    assert changed == {"rocketmq-topic-Orders"}

    # Turning pruneTopics on changes only the catalog's `delete`, so those Commands update once.
    pruning = _by_name(run_main_program(catalog_stack(pruneTopics=True), ["sshPrivateKey"]))
    for name, command in pruning.items():
        same_script = command.inputs["stdin"] == before[name].inputs["stdin"]
        assert same_script, name
        assert (command.inputs.get("delete") != before[name].inputs.get("delete")) == name.startswith(
            ("rocketmq-topic-", "rocketmq-group-")
        )


def test_private_key_stays_out_of_catalog_scripts() -> None:
    run = run_main_program(catalog_stack(), ["sshPrivateKey"])
    key_material = PRIVATE_KEY.strip().splitlines()[1]
    for command in run.commands:
        assert key_material not in command.inputs.get("stdin", "")
