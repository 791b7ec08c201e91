"""Stack config validation: good stacks parse with documented defaults; every bad input fails
with one error naming the key, before any resource is registered."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.config import parse_config
from components.config_checks import ConfigError
from components.config_model import Mode
from tests.pulumi_harness import PRIVATE_KEY, RecordingMocks, run_main_program
from tests.stacks import HOSTS_BY_MODE, MODES, aws_stack, hosts_stack, local_stack
from tests.test_config_aws import BAD_INPUTS as AWS_BAD_INPUTS
from tests.test_config_topics import BAD_INPUTS as TOPIC_BAD_INPUTS
from tests.test_controller_mode import BAD_INPUTS as CONTROLLER_BAD_INPUTS
from tests.test_controllers_of_their_own import BAD_INPUTS as OWN_CONTROLLER_BAD_INPUTS
from tests.test_host_keys import BAD_INPUTS as HOST_KEY_BAD_INPUTS
from tests.test_metrics import BAD_INPUTS as METRICS_BAD_INPUTS
from tests.test_proxy import BAD_INPUTS as PROXY_BAD_INPUTS


@pytest.mark.parametrize(
    ("mode", "groups", "slaves", "name_servers"),
    [
        ("single-master", 1, 0, 1),
        ("multi-master", 2, 0, 3),
        ("master-slave-async", 2, 1, 3),
        ("master-slave-sync", 2, 1, 3),
    ],
)
def test_mode_defaults(mode: str, groups: int, slaves: int, name_servers: int) -> None:
    cfg = parse_config(aws_stack(mode))
    assert (cfg.broker_groups, cfg.slaves_per_group, cfg.name_servers) == (groups, slaves, name_servers)


def test_documented_defaults() -> None:
    cfg = parse_config(aws_stack("single-master"))
    assert cfg.mode is Mode.SINGLE_MASTER
    assert cfg.cluster_name == "DefaultCluster"
    assert cfg.flush_disk_type == "ASYNC_FLUSH"
    assert cfg.delete_when == "04"
    assert cfg.file_reserved_time == 48
    assert cfg.release.version == "5.4.0"
    assert cfg.release.zip_url == "https://archive.apache.org/dist/rocketmq/5.4.0/rocketmq-all-5.4.0-bin-release.zip"
    assert cfg.heap.broker is None and cfg.heap.name_server is None  # auto
    assert cfg.aws is not None and cfg.aws.os == "centos-stream-9" and cfg.aws.ssh_user == "ec2-user"
    assert cfg.aws.public_ip is True


def test_values_are_normalised() -> None:
    cfg = parse_config(
        aws_stack(
            "master-slave-sync",
            brokerGroups="3",
            slavesPerGroup=2,
            deleteWhen="4;16",
            brokerHeap="2G",
            sha512="AB" * 64,
            brokerProperties=json.dumps({"autoCreateTopicEnable": False, "sendMessageThreadPoolNums": 16}),
            os="rocky-9",
        )
    )
    assert cfg.broker_groups == 3 and cfg.slaves_per_group == 2
    assert parse_config(aws_stack("master-slave-sync", nameServers="auto")).name_servers == 3
    assert cfg.delete_when == "04;16"
    assert cfg.heap.broker == "2g"
    assert cfg.release.sha512 == "ab" * 64
    assert cfg.broker_properties == {"autoCreateTopicEnable": "false", "sendMessageThreadPoolNums": "16"}
    assert cfg.aws is not None and cfg.aws.ssh_user == "rocky"


def test_old_releases_need_jdk8() -> None:
    assert parse_config(aws_stack("single-master", version="4.9.2")).release.java_major == 8
    assert parse_config(aws_stack("single-master", version="4.9.8")).release.java_major == 17
    assert parse_config(aws_stack("single-master", version="5.3.3")).release.java_major == 17


@pytest.mark.parametrize("mode", ["single-master", "multi-master"])
def test_release_with_broken_slave_sync_is_fine_without_slaves(mode: str) -> None:
    assert parse_config(aws_stack(mode, version="5.5.0")).release.version == "5.5.0"


@pytest.mark.parametrize("version", ["5.4.0", "5.5.1", "4.9.7"])
def test_master_slave_modes_take_releases_that_sync_offsets(version: str) -> None:
    assert parse_config(aws_stack("master-slave-async", version=version)).release.version == version


@pytest.mark.parametrize("mode", MODES)
def test_hosts_stacks_parse(mode: str) -> None:
    cfg = parse_config(hosts_stack(mode))
    assert len(cfg.hosts) == len(HOSTS_BY_MODE[mode])
    assert cfg.aws is None


def _hosts_with(change: dict[str, Any], index: int = 0, mode: str = "master-slave-async") -> str:
    hosts = [dict(h) for h in HOSTS_BY_MODE[mode]]
    hosts[index].update(change)
    return json.dumps(hosts)


# (description, stack, key named in the error, phrase in the error)
BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown mode", aws_stack("dledger"), "rocketmq:mode", "must be one of single-master"),
    (
        "drain shorter than a route refresh",
        hosts_stack("multi-master", drainTimeoutSeconds=30),
        "rocketmq:drainTimeoutSeconds",
        "must be 0 (no draining) or at least 60",
    ),
    (
        "route refresh beyond what clients allow for",
        hosts_stack("multi-master", clientRouteRefreshSeconds=600),
        "rocketmq:clientRouteRefreshSeconds",
        "must be a whole number from 1 to 120",
    ),
    (
        "drain shorter than two route refreshes",
        hosts_stack("multi-master", clientRouteRefreshSeconds=45, drainTimeoutSeconds=80),
        "rocketmq:drainTimeoutSeconds",
        "must be 0 (no draining) or at least 90",
    ),
    (
        "drain timeout not a number",
        hosts_stack("multi-master", drainTimeoutSeconds="soon"),
        "rocketmq:drainTimeoutSeconds",
        "whole number",
    ),
    (
        "slaves in a master-only mode",
        aws_stack("multi-master", slavesPerGroup=1),
        "rocketmq:slavesPerGroup",
        "must be 0",
    ),
    (
        "no slaves in master-slave mode",
        aws_stack("master-slave-async", slavesPerGroup=0),
        "rocketmq:slavesPerGroup",
        "at least 1",
    ),
    ("two groups in single-master", aws_stack("single-master", brokerGroups=2), "rocketmq:brokerGroups", "must be 1"),
    ("zero groups", aws_stack("multi-master", brokerGroups=0), "rocketmq:brokerGroups", "from 1 to 26"),
    ("negative name servers", aws_stack("multi-master", nameServers=-1), "rocketmq:nameServers", "from 1 to 9"),
    ("non-integer groups", aws_stack("multi-master", brokerGroups="2.5"), "rocketmq:brokerGroups", "whole number"),
    ("boolean count", aws_stack("multi-master", nameServers=True), "rocketmq:nameServers", "whole number"),
    ("too many slaves", aws_stack("master-slave-async", slavesPerGroup=9), "rocketmq:slavesPerGroup", "from 0 to 8"),
    (
        "unknown flushDiskType",
        aws_stack("single-master", flushDiskType="FAST"),
        "rocketmq:flushDiskType",
        "ASYNC_FLUSH, SYNC_FLUSH",
    ),
    ("malformed version", aws_stack("single-master", version="5.3"), "rocketmq:version", "release number"),
    ("unsupported version", aws_stack("single-master", version="4.8.0"), "rocketmq:version", "5.x or 4.9.x"),
    (
        "release whose slaves lose consumer offsets, async",
        aws_stack("master-slave-async", version="5.5.0"),
        "rocketmq:version",
        "5.5.0 cannot be used in master-slave-async mode",
    ),
    (
        "release whose slaves lose consumer offsets, sync",
        aws_stack("master-slave-sync", version="5.5.0"),
        "rocketmq:version",
        "apache/rocketmq#10284",
    ),
    (
        "non-http mirror",
        aws_stack("single-master", mirror="ftp://mirror.example/apache"),
        "rocketmq:mirror",
        "http:// or https://",
    ),
    (
        "mirror with shell",
        aws_stack("single-master", mirror="https://m.example/$(reboot)"),
        "rocketmq:mirror",
        "plain characters",
    ),
    ("malformed sha512", aws_stack("single-master", sha512="abc123"), "rocketmq:sha512", "128 hex digits"),
    ("deleteWhen out of range", aws_stack("single-master", deleteWhen="25"), "rocketmq:deleteWhen", "00-23"),
    ("fileReservedTime zero", aws_stack("single-master", fileReservedTime=0), "rocketmq:fileReservedTime", "from 1 to"),
    (
        "managed key brokerRole",
        aws_stack("single-master", brokerProperties='{"brokerRole": "SLAVE"}'),
        "rocketmq:brokerProperties",
        "managed by this program",
    ),
    (
        "managed key brokerId",
        aws_stack("single-master", brokerProperties='{"brokerId": 3}'),
        "rocketmq:brokerProperties",
        "managed by this program",
    ),
    (
        "newline in a property",
        aws_stack("single-master", brokerProperties=json.dumps({"msgTraceTopicName": "a\nbrokerRole=SLAVE"})),
        "rocketmq:brokerProperties.msgTraceTopicName",
        "may only contain",
    ),
    (
        "quote in a property",
        aws_stack("single-master", brokerProperties=json.dumps({"msgTraceTopicName": "x'; rm -rf /"})),
        "rocketmq:brokerProperties.msgTraceTopicName",
        "may only contain",
    ),
    (
        "bad property name",
        aws_stack("single-master", brokerProperties='{"1abc": 1}'),
        "rocketmq:brokerProperties",
        "property names",
    ),
    (
        "properties not a map",
        aws_stack("single-master", brokerProperties='["a"]'),
        "rocketmq:brokerProperties",
        "must be a map",
    ),
    (
        "quote in clusterName",
        aws_stack("single-master", clusterName='Prod"Cluster'),
        "rocketmq:clusterName",
        "letters, digits",
    ),
    (
        "newline in clusterName",
        aws_stack("single-master", clusterName="a\nb"),
        "rocketmq:clusterName",
        "letters, digits",
    ),
    ("bad heap", aws_stack("single-master", brokerHeap="lots"), "rocketmq:brokerHeap", "'auto' or a JVM size"),
    ("tiny heap", aws_stack("single-master", nameServerHeap="16m"), "rocketmq:nameServerHeap", "at least 64m"),
    ("unknown target", aws_stack("single-master", target="gcp"), "rocketmq:target", "aws, hosts, local"),
    (
        "private key for target local",
        local_stack("single-master", sshPrivateKey=PRIVATE_KEY),
        "rocketmq:sshPrivateKey",
        "is not used for target local",
    ),
    (
        "missing private key",
        {k: v for k, v in aws_stack("single-master").items() if k != "sshPrivateKey"},
        "rocketmq:sshPrivateKey",
        "is required",
    ),
    (
        "store outside the data volume",
        aws_stack("single-master", storePath="/var/lib/store"),
        "rocketmq:storePath",
        "/data/rocketmq/",
    ),
    (
        "store on a system path",
        hosts_stack("single-master", storePath="/etc"),
        "rocketmq:storePath",
        "dedicated directory",
    ),
    ("mistyped key", aws_stack("single-master", brokerGroup=2), "rocketmq:brokerGroup", "not a setting"),
    ("hosts missing", {**hosts_stack("single-master"), "hosts": None}, "rocketmq:hosts", "is required"),
    ("hosts empty", hosts_stack("single-master", hosts=[]), "rocketmq:hosts", "non-empty list"),
    (
        "duplicate host name",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"name": "peer2"}))),
        "rocketmq:hosts",
        "share the name",
    ),
    (
        "duplicate host address",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"address": "192.0.2.12"}))),
        "rocketmq:hosts",
        "share the address",
    ),
    (
        "too few broker hosts",
        hosts_stack("master-slave-async", hosts=HOSTS_BY_MODE["master-slave-async"][:3]),
        "rocketmq:hosts",
        "broker-b/1 not placed",
    ),
    (
        "too few name servers",
        hosts_stack("multi-master", hosts=HOSTS_BY_MODE["multi-master"][:2], brokerGroups=2),
        "rocketmq:hosts",
        "must match",
    ),
    (
        "broker placed twice",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"broker": "broker-a/1"}, index=1))),
        "rocketmq:hosts",
        "placed on both",
    ),
    (
        "broker not in the mode",
        hosts_stack(
            "single-master", hosts=[{"name": "p1", "address": "192.0.2.1", "nameServer": True, "broker": "broker-a/1"}]
        ),
        "rocketmq:hosts",
        "does not have",
    ),
    (
        "bad placement",
        hosts_stack(
            "single-master", hosts=[{"name": "p1", "address": "192.0.2.1", "nameServer": True, "broker": "a0"}]
        ),
        "rocketmq:hosts[0].broker",
        "brokerName/brokerId",
    ),
    (
        "host with nothing to do",
        hosts_stack(
            "master-slave-async",
            hosts=[*HOSTS_BY_MODE["master-slave-async"], {"name": "idle", "address": "192.0.2.99"}],
        ),
        "rocketmq:hosts[4]",
        "carries nothing",
    ),
    (
        "shell in host address",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"address": "peer1;reboot"}))),
        "rocketmq:hosts[0].address",
        "IP address or DNS name",
    ),
    (
        "hostname as private address",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"privateAddress": "peer1.local"}))),
        "rocketmq:hosts[0].privateAddress",
        "IPv4 address",
    ),
    (
        "unknown host field",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"role": "master"}))),
        "rocketmq:hosts[0]",
        "unknown field 'role'",
    ),
    (
        "bad ssh port",
        hosts_stack("master-slave-async", hosts=json.loads(_hosts_with({"port": 70000}))),
        "rocketmq:hosts[0].port",
        "from 1 to 65535",
    ),
    (
        "malformed hosts JSON",
        {**hosts_stack("single-master"), "hosts": "[{name: peer1"},
        "rocketmq:hosts",
        "not valid JSON",
    ),
]


ALL_BAD_INPUTS = (
    BAD_INPUTS
    + AWS_BAD_INPUTS
    + TOPIC_BAD_INPUTS
    + METRICS_BAD_INPUTS
    + PROXY_BAD_INPUTS
    + CONTROLLER_BAD_INPUTS
    + OWN_CONTROLLER_BAD_INPUTS
    + HOST_KEY_BAD_INPUTS
)


@pytest.mark.parametrize(("description", "stack", "key", "phrase"), ALL_BAD_INPUTS, ids=[c[0] for c in ALL_BAD_INPUTS])
def test_bad_input_is_refused_with_the_key(description: str, stack: dict[str, Any], key: str, phrase: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(stack)
    message = str(raised.value)
    assert message.startswith(f"{key}: "), message
    assert phrase in message, message
    assert "\n" not in message.strip()


def test_there_are_enough_bad_input_cases() -> None:
    assert len(BAD_INPUTS) >= 25


@pytest.mark.parametrize(("description", "stack", "key", "phrase"), ALL_BAD_INPUTS, ids=[c[0] for c in ALL_BAD_INPUTS])
def test_program_registers_nothing_on_bad_input(description: str, stack: dict[str, Any], key: str, phrase: str) -> None:
    secrets = ["sshPrivateKey"] if "sshPrivateKey" in stack else []
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError) as raised:
        run_main_program(stack, secrets, mocks=mocks)
    assert str(raised.value).startswith(f"{key}: ")
    assert mocks.resources == [] and mocks.calls == []
    assert PRIVATE_KEY.strip() not in str(raised.value)


def test_plaintext_private_key_is_refused() -> None:
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError, match=r"rocketmq:sshPrivateKey: must be stored as a secret"):
        run_main_program(aws_stack("single-master"), secret_keys=[], mocks=mocks)
    assert mocks.resources == []


def test_good_stack_through_main_registers_resources() -> None:
    # The counterpart of the refusals above: the same path does register a cluster when the input is good.
    run = run_main_program(hosts_stack("single-master"), ["sshPrivateKey"])
    # prepare, firewall, install, name server and broker, each with its rolling restart, and the group drain
    assert len(run.commands) == 8
    assert run.outputs["namesrvAddr"] == "192.0.2.11:9876"


@pytest.mark.parametrize("mode", MODES)
def test_local_stacks_need_no_key_and_no_hosts(mode: str) -> None:
    cfg = parse_config(local_stack(mode), secret_keys=frozenset())
    assert cfg.target == "local" and cfg.hosts == () and cfg.aws is None
    assert cfg.store_path == "/data/rocketmq/store"
