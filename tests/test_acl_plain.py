"""rocketmq:acl on RocketMQ 4.9.x (ACL 1.0): what the config refuses there, the plain_acl.yml each
broker host gets (the users, and the brokers' own addresses let in), how the brokers find it, the
logging that would show its secret keys kept quiet, and the pinned model."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.acl_admin_identity import CHANGED_MODEL, _AdminIdentityProvider
from components.acl_rendering import render_credentials_script, render_plain_acl
from components.acl_settings import PLAIN_ACL_FILE, TOOLS_YML
from components.config import parse_config
from components.config_checks import ConfigError
from components.rendering import render_broker_script, render_install_script, render_start_script
from components.topology import plan_cluster
from tests.program_commands import SECRET_SIG, broker_commands, broker_conf
from tests.pulumi_harness import DYNAMIC_TYPE, run_main_program
from tests.shell_checks import check_script
from tests.stacks import local_stack
from tests.test_acl import ADMIN_PASSWORD, SECRET_KEYS, _acl_stack

USERS: dict[str, dict[str, Any]] = {
    "orders-app": {"password": "app-Pa55word#1", "topics": {"orders": "PUB|SUB", "audit": "DENY"}, "groups": {"billing": "SUB"}},
    "reader-any": {"password": "rdr-Pa55word#3", "topics": {"*": "SUB"}, "groups": {"*": "SUB"}},
    "ops-team": {"password": "ops-Pa55word%2", "admin": True},
}  # fmt: skip


def _stack(**overrides: Any) -> dict[str, Any]:
    """tests/test_acl.py's stack, on 4.9.7 in multi-master, with users ACL 1.0 can hold."""
    return _acl_stack("multi-master", **{"version": "4.9.7", "aclUsers": json.dumps(USERS), **overrides})


def test_acl_true_on_4_9_sets_up_acl_1_0() -> None:
    acl = parse_config(_stack()).acl
    assert acl is not None and acl.model == 1 and acl.enforced
    assert [u.name for u in acl.users] == list(USERS)
    prepared = parse_config(_stack(acl="prepare")).acl
    assert prepared is not None and prepared.model == 1 and not prepared.enforced
    newer = parse_config(_stack(version="5.4.0")).acl
    assert newer is not None and newer.model == 2


def _user(**spec: Any) -> str:
    return json.dumps({"orders-app": {"password": "app-Pa55word#1", **spec}})


BAD = [
    ({"aclUsers": json.dumps({"ops": USERS["ops-team"]})}, "aclUsers", "needs names of 7 or more characters"),
    ({"aclAdminUser": "admin"}, "aclAdminUser", "needs names of 7 or more characters"),
    ({"aclUsers": _user(topics={"audit-*": "PUB"})}, "aclUsers.orders-app.topics", "grants whole topic names"),
    ({"aclUsers": _user(groups={"billing-*": "SUB"})}, "aclUsers.orders-app.groups", "grants whole group names"),
]


@pytest.mark.parametrize(("overrides", "key", "message"), BAD, ids=[b[2] + "-" + b[1] for b in BAD])
def test_what_acl_1_0_cannot_hold_is_refused_naming_the_key(overrides: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(_stack(**overrides))
    assert refused.value.key == f"rocketmq:{key}" and message in str(refused.value), str(refused.value)
    assert ADMIN_PASSWORD not in str(refused.value) and "Pa55word" not in str(refused.value)


def test_target_local_refuses_acl_1_0_whose_trusted_addresses_every_client_shares() -> None:
    stack = local_stack("multi-master", version="4.9.7", acl=True, aclAdminPassword=ADMIN_PASSWORD)
    with pytest.raises(ConfigError, match=r"^rocketmq:acl: true on RocketMQ 4.9.x \(ACL 1.0\) lets the brokers' own"):
        parse_config(stack)


def test_plain_acl_yml_holds_the_admin_the_users_and_the_brokers_addresses() -> None:
    acl = parse_config(_stack()).acl
    assert acl is not None
    data = yaml.safe_load(render_plain_acl(acl, ["192.0.2.12", "192.0.2.11", "192.0.2.12"]))
    assert data["globalWhiteRemoteAddresses"] == ["192.0.2.11", "192.0.2.12"]
    accounts = {a["accessKey"]: a for a in data["accounts"]}
    assert accounts["rocketmq-admin"] == {
        "accessKey": "rocketmq-admin",
        "secretKey": ADMIN_PASSWORD,
        "admin": True,
        "defaultTopicPerm": "PUB|SUB",
        "defaultGroupPerm": "SUB",
    }
    assert accounts["orders-app"] == {
        "accessKey": "orders-app",
        "secretKey": "app-Pa55word#1",
        "admin": False,
        "defaultTopicPerm": "DENY",
        "defaultGroupPerm": "DENY",
        "topicPerms": ["orders=PUB|SUB", "audit=DENY"],
        "groupPerms": ["billing=SUB"],
    }
    # A grant on * is the account's default; nothing else is listed.
    reader = accounts["reader-any"]
    assert (reader["defaultTopicPerm"], reader["defaultGroupPerm"]) == ("SUB", "SUB")
    assert "topicPerms" not in reader and "groupPerms" not in reader
    assert accounts["ops-team"]["admin"] is True


def test_brokers_read_the_programs_users_file_and_check_only_when_enforced(tmp_path: Path) -> None:
    for acl, enabled in (("true", "true"), ("prepare", "false")):
        cfg = parse_config(_stack(acl=acl))
        node = plan_cluster(cfg).groups[0].master
        script = render_broker_script(cfg, node, "peer1", "192.0.2.11", "192.0.2.11:9876")
        assert f"\naclEnable={enabled}\n" in script
        assert "authenticationEnabled" not in script and ADMIN_PASSWORD not in script
        assert "RuntimeDirectory" not in script  # no credentials to merge into broker.conf
    start = render_start_script(cfg.release, plain_acl=True)
    # Resolved against ROCKETMQ_HOME (/opt/rocketmq/current) and normalized, as 4.9.7's MixAll.dealFilePath does.
    option = re.search(r"JAVA_OPT_EXT\+=\" \"(-Drocketmq\.acl\.plain\.file=(\S+))\n", start)
    assert option is not None, start
    assert Path("/opt/rocketmq/current", option.group(2)).resolve() == Path(PLAIN_ACL_FILE)
    assert "broker-auth.conf" not in start
    check_script(tmp_path, "start.sh", start)
    assert "rocketmq.acl.plain.file" not in render_start_script(cfg.release)


def test_the_install_keeps_the_brokers_from_logging_the_users_file(tmp_path: Path) -> None:
    release = parse_config(_stack()).release
    script = render_install_script("peer1", release, plain_acl=True)
    check_script(tmp_path, "install.sh", script)
    assert "quiet_chatty_logger" not in render_install_script("peer1", release)
    # The function against the release's own file: RocketmqCommon goes to WARN, nothing else changes.
    original = (
        '<configuration>\n    <logger name="RocketmqBroker" additivity="false">\n        <level value="INFO"/>\n'
        '    </logger>\n    <logger name="RocketmqCommon" additivity="false">\n        <level value="INFO"/>\n'
        '        <appender-ref ref="RocketmqBrokerAppender"/>\n    </logger>\n</configuration>\n'
    )
    conf = tmp_path / "conf" / "logback_broker.xml"
    conf.parent.mkdir()
    conf.write_text(original)
    function = script[script.index("quiet_chatty_logger() {") :]
    function = function[: function.index("\n}\n") + 3]
    for _ in range(2):  # idempotent
        done = _run_bash(f'{function}die() {{ echo "$*" >&2; exit 1; }}\ntarget={tmp_path}\nquiet_chatty_logger\n')
        assert done.returncode == 0, done.stderr
    assert conf.read_text() == original.replace(
        '"RocketmqCommon" additivity="false">\n        <level value="INFO"/>',
        '"RocketmqCommon" additivity="false">\n        <level value="WARN"/>',
    )
    conf.write_text("<configuration/>\n")  # a release without that logger: refused, not silently loud
    refused = _run_bash(f'{function}die() {{ echo "$*" >&2; exit 1; }}\ntarget={tmp_path}\nquiet_chatty_logger\n')
    assert refused.returncode == 1 and "could not set the RocketmqCommon logger to WARN" in refused.stderr


def _run_bash(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)


def test_credentials_give_broker_hosts_the_users_file_and_mqadmin_its_logging(tmp_path: Path) -> None:
    acl = parse_config(_stack()).acl
    assert acl is not None
    on_broker = render_credentials_script("peer1", acl, trusted_addresses=["192.0.2.11"])
    elsewhere = render_credentials_script("peer3", acl)
    for script in (on_broker, elsewhere):
        check_script(tmp_path, "acl-credentials.sh", script)
        assert "broker-auth.conf 0600" not in script and f"install_file {TOOLS_YML} 0600" in script
        assert (
            "ln -sfn /opt/rocketmq/current/conf/logback_tools.xml /etc/rocketmq/mqadmin/conf/logback_tools.xml"
            in script
        )
    assert "app-Pa55word#1" in on_broker and f'mv -f "$staged" {PLAIN_ACL_FILE}' in on_broker
    assert "app-Pa55word#1" not in elsewhere and f'mv -f "$staged" {PLAIN_ACL_FILE}' not in elsewhere


def test_the_program_writes_the_users_file_on_broker_hosts_and_runs_no_users_steps() -> None:
    run = run_main_program(_stack(), SECRET_KEYS)
    assert [c.name for c in run.commands if c.name.endswith("-acl-users")] == []
    credentials = {c.name: c for c in run.commands if c.name.endswith("-acl-credentials")}
    assert len(credentials) == 3
    for name, step in credentials.items():
        stdin = step.inputs["stdin"]
        assert SECRET_SIG in stdin, name
        holds_users = "globalWhiteRemoteAddresses:\n- '192.0.2.11'\n- '192.0.2.12'\n" in stdin["value"]
        assert holds_users == ("peer3" not in name), name  # peer3 runs a name server only
    for command in broker_commands(run):
        assert broker_conf(command)["aclEnable"] == "true"
    (pinned,) = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name == "rocketmq-acl-admin"]
    assert pinned.inputs["model"] == 1


def test_a_release_change_across_acl_models_is_refused_by_the_pin() -> None:
    provider = _AdminIdentityProvider()
    old = {"fingerprint": "f", "model": 1}
    assert provider.check(old, {"fingerprint": "f", "model": 1}).failures == []
    # ACL 1.0's admin lives in the users file, which the brokers read again: another one is taken.
    assert provider.check(old, {"fingerprint": "other", "model": 1}).failures == []
    changed = provider.check({"fingerprint": "f", "model": 2}, {"fingerprint": "other", "model": 2}).failures
    assert [f.property for f in changed] == ["fingerprint"]
    refused = provider.check(old, {"fingerprint": "f", "model": 2}).failures
    assert [(f.property, f.reason) for f in refused] == [("model", CHANGED_MODEL)]
    assert "rocketmq:version" in CHANGED_MODEL and "rocketmq:acl" in CHANGED_MODEL
    # A pin made before the model was pinned is ACL 2.0's.
    assert provider.check({"fingerprint": "f"}, {"fingerprint": "f", "model": 2}).failures == []
    assert provider.check({"fingerprint": "f"}, {"fingerprint": "f", "model": 1}).failures != []
