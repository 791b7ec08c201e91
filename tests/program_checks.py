"""Checks of a whole program run under mocks that the tests of every target share: the brokers'
settings and the `brokers` output, and the private key kept secret."""

from __future__ import annotations

import json

from tests.program_commands import broker_commands, broker_conf, connection
from tests.pulumi_harness import PRIVATE_KEY, ProgramRun

EXPECTED_MASTER_ROLE = {
    "single-master": "ASYNC_MASTER",
    "multi-master": "ASYNC_MASTER",
    "master-slave-async": "ASYNC_MASTER",
    "master-slave-sync": "SYNC_MASTER",
}


def check_brokers(run: ProgramRun, mode: str, groups: int, slaves: int, address_of: dict[str, str]) -> None:
    confs = [broker_conf(c) for c in broker_commands(run)]
    assert len(confs) == groups * (slaves + 1)
    if mode == "master-slave-auto":
        check_elected_brokers(run, confs, groups, slaves)
        return
    seen = set()
    for conf in confs:
        broker_id = int(conf["brokerId"])
        seen.add((conf["brokerName"], broker_id))
        assert conf["brokerRole"] == ("SLAVE" if broker_id else EXPECTED_MASTER_ROLE[mode])
        assert conf["namesrvAddr"] == run.outputs["namesrvAddr"]
        assert conf["brokerIP1"] in address_of.values()
    assert seen == {(f"broker-{chr(97 + g)}", i) for g in range(groups) for i in range(slaves + 1)}
    brokers = run.outputs["brokers"]
    assert sorted(brokers) == [f"broker-{chr(97 + g)}" for g in range(groups)]
    for name, entry in brokers.items():
        master_conf = next(c for c in confs if c["brokerName"] == name and c["brokerId"] == "0")
        assert entry["master"] == f"{master_conf['brokerIP1']}:10911"
        slave_ips = sorted(f"{c['brokerIP1']}:10911" for c in confs if c["brokerName"] == name and c["brokerId"] != "0")
        assert sorted(entry["slaves"]) == slave_ips


def check_elected_brokers(run: ProgramRun, confs: list[dict[str, str]], groups: int, slaves: int) -> None:
    """master-slave-auto: every replica starts as a slave without an id; the controllers, one in
    each name server, elect the master and give the ids."""
    controllers = ";".join(a.replace(":9876", ":9878") for a in run.outputs["nameServers"])
    for conf in confs:
        assert (conf["brokerId"], conf["brokerRole"], conf["enableControllerMode"]) == ("-1", "SLAVE", "true")
        assert conf["controllerAddr"] == controllers
        assert conf["allAckInSyncStateSet"] == "true"
        assert conf["namesrvAddr"] == run.outputs["namesrvAddr"]
    brokers = run.outputs["brokers"]
    assert sorted(brokers) == [f"broker-{chr(97 + g)}" for g in range(groups)]
    for name, entry in brokers.items():
        replicas = sorted(f"{c['brokerIP1']}:10911" for c in confs if c["brokerName"] == name)
        assert sorted(entry["replicas"]) == replicas and len(replicas) == slaves + 1
        assert "slaves" not in entry and entry["master"] in ("", *replicas)  # "": no step has run (mocks)


def check_secrets(run: ProgramRun) -> None:
    key_material = PRIVATE_KEY.strip().splitlines()[1]
    for command in run.commands:
        assert connection(command)["privateKey"] == PRIVATE_KEY
        for field in ("stdin", "create", "delete"):
            assert key_material not in str(command.inputs.get(field, ""))
    assert key_material not in json.dumps(run.outputs)
    for resource in run.mocks.resources:
        if resource.typ != "command:remote:Command":
            assert key_material not in json.dumps(resource.inputs, default=str), resource.name
