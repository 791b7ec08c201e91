"""rocketmq:acl (RocketMQ's ACL 2.0): the settings parsed and refused, the files and scripts it
renders, the users script run here against a stand-in mqadmin that keeps users and grants as a
broker does, and the steps' place in the program, their scripts secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.acl_rendering import (
    render_acl_users_script,
    render_broker_auth,
    render_credentials_script,
    render_proxy_auth,
    render_tools_yml,
)
from components.acl_settings import (
    AUTH_BROKER_PROPERTIES,
    AUTH_PROXY_SETTINGS,
    BROKER_AUTH_CONF,
    PROXY_AUTH_CONF,
    TOOLS_YML,
)
from components.config import parse_config
from components.config_checks import ConfigError
from components.config_model import AclGrant
from components.rendering import (
    ADMIN_LOCK,
    PROXY_CONF,
    render_broker_script,
    render_mqadmin,
    render_proxy_conf,
    render_start_script,
    render_unit,
)
from components.topology import plan_cluster
from tests.host_scripts import mqadmin_stand_ins
from tests.program_commands import SECRET_SIG, broker_commands, broker_conf, written_file
from tests.pulumi_harness import run_main_program
from tests.shell_checks import check_script
from tests.stacks import HOSTS_BY_MODE, aws_stack, hosts_stack, local_stack

ADMIN_PASSWORD = "Adm1n-pass!word"
APP_PASSWORD = "app-Pa55word#1"
USERS: dict[str, dict[str, Any]] = {
    "orders-app": {"password": APP_PASSWORD, "topics": {"orders": "PUB", "audit-*": "pub|sub"}, "groups": {"billing": "SUB"}},
    "ops": {"password": "ops-Pa55word%2", "admin": True},
}  # fmt: skip
SECRET_KEYS = ["sshPrivateKey", "aclAdminPassword", "aclUsers"]


def _acl_stack(mode: str = "master-slave-async", **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "proxy": "none",
        "acl": True,
        "aclAdminPassword": ADMIN_PASSWORD,
        "aclUsers": json.dumps(USERS),
        **overrides,
    }
    return hosts_stack(mode, **settings)


def test_users_and_grants_are_read_as_rocketmq_writes_them() -> None:
    acl = parse_config(_acl_stack()).acl
    assert acl is not None and acl.admin_user == "rocketmq-admin" and acl.admin_password == ADMIN_PASSWORD
    app, ops = acl.users
    assert (app.name, app.admin, app.password) == ("orders-app", False, APP_PASSWORD)
    assert app.grants == (
        AclGrant("Topic:orders", ("Pub",), "Allow"),
        AclGrant("Topic:audit-*", ("Pub", "Sub"), "Allow"),
        AclGrant("Group:billing", ("Sub",), "Allow"),
    )
    assert ops.admin and ops.grants == ()
    assert ADMIN_PASSWORD not in repr(acl) and APP_PASSWORD not in repr(acl)
    assert parse_config(hosts_stack("single-master", acl=False)).acl is None


def _without_acl(stack: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stack.items() if not key.startswith("acl")}


@pytest.mark.parametrize("stack", [hosts_stack("master-slave-async"), aws_stack("single-master")], ids=["hosts", "aws"])
@pytest.mark.parametrize("acl", [None, "auto"], ids=["unset", "auto"])
def test_acl_is_on_by_default_on_aws_and_hosts_and_wants_the_admin_password(
    stack: dict[str, Any], acl: str | None
) -> None:
    stack = _without_acl(stack) | ({} if acl is None else {"acl": acl})
    # A stack made before access control was on by default stops here, before any resource.
    with pytest.raises(ConfigError) as refused:
        parse_config(stack)
    assert refused.value.key == "rocketmq:aclAdminPassword"
    message = str(refused.value)
    assert "is on by default for RocketMQ 5.3.0 and later" in message and "rocketmq:acl false" in message
    on = parse_config({**stack, "aclAdminPassword": ADMIN_PASSWORD}).acl
    assert on is not None and on.admin_password == ADMIN_PASSWORD
    assert parse_config({**stack, "acl": False}).acl is None


@pytest.mark.parametrize(
    "stack",
    [
        local_stack("master-slave-async"),  # this machine's loopback only
        _without_acl(hosts_stack("multi-master", version="4.9.7")),  # ACL 1.0: only when asked for
        _without_acl(hosts_stack("multi-master", version="5.2.0")),
    ],
    ids=["local", "4.9.7", "5.2.0"],
)
def test_acl_is_off_by_default_where_the_program_does_not_set_it_up(stack: dict[str, Any]) -> None:
    assert parse_config(stack).acl is None
    with pytest.raises(ConfigError, match=r"^rocketmq:aclAdminPassword: is used only with acl: true; acl is off"):
        parse_config({**stack, "aclAdminPassword": ADMIN_PASSWORD})


BAD_ACL = [
    ({"version": "4.9.7", "mode": "multi-master"}, "aclUsers.orders-app.topics", "4.9.x (ACL 1.0) grants whole topic names"),
    ({"version": "5.2.0"}, "acl", "true is set up for RocketMQ 4.9.x (ACL 1.0) and 5.3.0 or later"),
    ({"aclAdminPassword": ""}, "aclAdminPassword", "is required with acl: true"),
    ({"aclAdminPassword": "short"}, "aclAdminPassword", "8 to 128 printable ASCII"),
    ({"aclAdminPassword": "has a blank"}, "aclAdminPassword", "without blanks"),
    ({"aclAdminPassword": 'quote"inside'}, "aclAdminPassword", "quotes"),
    ({"aclAdminPassword": "-looks-like-an-option"}, "aclAdminPassword", "not starting with -"),
    ({"aclAdminUser": "-dash"}, "aclAdminUser", "1-64 letters"),
    ({"aclUsers": json.dumps(["orders-app"])}, "aclUsers", "must map user names"),
    ({"aclUsers": json.dumps({"bad name": USERS["ops"]})}, "aclUsers", "has the user name 'bad name'"),
    ({"aclUsers": json.dumps({"rocketmq-admin": USERS["ops"]})}, "aclUsers.rocketmq-admin", "the program's own admin"),
    ({"aclUsers": json.dumps({"x": {"topics": {"t": "PUB"}}})}, "aclUsers.x.password", "is required"),
    ({"aclUsers": json.dumps({"x": {"password": "p@ssw0rd-ok", "role": "PUB"}})}, "aclUsers.x", "has role"),
    ({"aclUsers": json.dumps({"x": {"password": "p@ssw0rd-ok", "topics": {"t": "WRITE"}}})}, "aclUsers.x.topics", "allowed: PUB, SUB"),
    ({"aclUsers": json.dumps({"x": {"password": "p@ssw0rd-ok", "groups": {"g": "PUB"}}})}, "aclUsers.x.groups", "allowed: SUB, DENY"),
    ({"aclUsers": json.dumps({"x": {"password": "p@ssw0rd-ok", "topics": {"a b": "PUB"}}})}, "aclUsers.x.topics", "a topic name, a prefix"),
    ({"aclUsers": json.dumps({"x": {"password": "p@ssw0rd-ok"}})}, "aclUsers.x", "may do nothing"),
    ({"aclUsers": json.dumps({"x": {"password": "p@ssw0rd-ok", "admin": True, "topics": {"t": "PUB"}}})}, "aclUsers.x", "is an admin"),
    ({"aclUsers": json.dumps({"x": {"password": "tiny", "admin": True}})}, "aclUsers.x.password", "8 to 128"),
    ({"acl": False}, "aclAdminPassword", "is used only with acl: true"),
    ({"acl": False, "aclAdminPassword": ""}, "aclUsers", "is used only with acl: true"),
    ({"acl": "yes"}, "acl", "must be auto, true, false or prepare"),
    ({"acl": "prepare", "version": "5.2.0"}, "acl", "prepare is set up for RocketMQ 4.9.x"),
    ({"acl": "prepare", "aclAdminPassword": ""}, "aclAdminPassword", "is required with acl: prepare"),
    ({"brokerProperties": json.dumps({"authenticationEnabled": "false"})}, "brokerProperties", "managed by this program"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "key", "message"), BAD_ACL)
def test_bad_acl_settings_are_refused_naming_the_key(overrides: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(_acl_stack(**overrides))
    assert refused.value.key == f"rocketmq:{key}" and message in str(refused.value), str(refused.value)
    for password in (ADMIN_PASSWORD, APP_PASSWORD, "short", "tiny", "has a blank"):
        assert password not in str(refused.value)


def test_acl_with_pulumi_yaml_defaults_needs_only_the_admin_password_as_a_secret() -> None:
    stack = _acl_stack(aclUsers="{}", aclAdminUser="rocketmq-admin")
    acl = parse_config(stack, secret_keys=frozenset({"rocketmq:sshPrivateKey", "rocketmq:aclAdminPassword"})).acl
    assert acl is not None and acl.users == ()


@pytest.mark.parametrize("key", ["aclAdminPassword", "aclUsers"])
def test_passwords_must_be_stored_as_secrets(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"rocketmq:{key}: holds passwords, so it must be a secret"):
        parse_config(_acl_stack(), secret_keys=frozenset(f"rocketmq:{k}" for k in SECRET_KEYS if k != key))


def test_brokers_turn_acl_on_without_a_password_in_broker_conf(tmp_path: Path) -> None:
    cfg = parse_config(_acl_stack())
    node = plan_cluster(cfg).groups[0].master
    script = render_broker_script(cfg, node, "peer1", "192.0.2.11", "192.0.2.11:9876")
    assert ADMIN_PASSWORD not in script
    for key, value in AUTH_BROKER_PROPERTIES.items():
        assert f"\n{key}={value}\n" in script
    assert "RuntimeDirectory=rocketmq-broker\nRuntimeDirectoryMode=0700\n" in script

    start = render_start_script(cfg.release, acl=True)
    assert f'cat /etc/rocketmq/broker.conf {BROKER_AUTH_CONF} >"$conf"' in start and '-c "$conf"' in start
    check_script(tmp_path, "start.sh", start)
    # Without acl the start script and the units stay as they were: no restart for clusters without it.
    plain = render_start_script(cfg.release)
    assert BROKER_AUTH_CONF not in plain and "-c /etc/rocketmq/broker.conf -n" in plain
    assert "RuntimeDirectory" not in render_unit("broker", cfg.store_path)
    assert "RuntimeDirectory" not in render_unit("namesrv", cfg.store_path, acl=True)


def test_proxies_check_clients_against_the_brokers_users(tmp_path: Path) -> None:
    acl = {key: value for key, value in _acl_stack().items() if key.startswith("acl")}
    cfg = parse_config(aws_stack("multi-master", proxy="cluster", **acl))
    ports = next(h.proxy_ports for h in plan_cluster(cfg).hosts if h.proxy_ports is not None)
    conf = json.loads(render_proxy_conf(cfg, ports, metrics=False))
    assert {key: conf[key] for key in AUTH_PROXY_SETTINGS} == AUTH_PROXY_SETTINGS
    assert "innerClientAuthenticationCredentials" not in conf
    assert "RuntimeDirectory=rocketmq-proxy\n" in render_unit("proxy", cfg.store_path, acl=True)
    start = render_start_script(cfg.release, acl=True)
    check_script(tmp_path, "start.sh", start)
    # The merge the start runs, here: the config and the credentials in one file only its owner reads.
    (tmp_path / "proxy.json").write_text(json.dumps(conf))
    (tmp_path / "proxy-auth.json").write_text(json.dumps({"innerClientAuthenticationCredentials": "{}"}))
    merge = start[start.index("merge_proxy_credentials() {") :]
    merge = merge[: merge.index("\n}\n") + 3].replace(PROXY_AUTH_CONF, str(tmp_path / "proxy-auth.json"))
    argv = [str(tmp_path / "proxy.json"), str(tmp_path / "out.json")]
    done = subprocess.run(
        ["bash", "-c", f'{merge}merge_proxy_credentials "$1" "$2"', "_", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == {**conf, "innerClientAuthenticationCredentials": "{}"}
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o600


def test_the_credentials_files_hold_the_admin_for_broker_and_mqadmin(tmp_path: Path) -> None:
    acl = parse_config(_acl_stack()).acl
    assert acl is not None
    auth = dict(line.split("=", 1) for line in render_broker_auth(acl).splitlines())
    assert json.loads(auth["initAuthenticationUser"]) == {"username": "rocketmq-admin", "password": ADMIN_PASSWORD}
    assert json.loads(auth["innerClientAuthenticationCredentials"]) == {
        "accessKey": "rocketmq-admin",
        "secretKey": ADMIN_PASSWORD,
    }
    assert render_tools_yml(acl) == f"accessKey: 'rocketmq-admin'\nsecretKey: '{ADMIN_PASSWORD}'\n"
    script = render_credentials_script("peer1", acl)
    check_script(tmp_path, "acl-credentials.sh", script)
    assert json.loads(render_proxy_auth(acl)) == {
        "innerClientAuthenticationCredentials": auth["innerClientAuthenticationCredentials"]
    }
    for path in (BROKER_AUTH_CONF, PROXY_AUTH_CONF, TOOLS_YML):
        assert f"install_file {path} 0600" in script
    assert f"chown rocketmq:rocketmq {BROKER_AUTH_CONF} {PROXY_AUTH_CONF} {TOOLS_YML}" in script
    # mqadmin reads the admin's key from there when it exists, else the release's sample as before.
    assert f"if [[ -r {TOOLS_YML} ]]; then" in render_mqadmin(parse_config(_acl_stack()).release)


def _users_script(tmp_path: Path, users: dict[str, Any]) -> str:
    cfg = parse_config(_acl_stack(aclUsers=json.dumps(users)))
    script = render_acl_users_script(
        cfg,
        plan_cluster(cfg).groups[0].master,
        host_label="peer1",
        namesrv_addr="192.0.2.11:9876",
        broker_endpoint="192.0.2.11:10911",
        state_dir=str(tmp_path),
    )
    return script.replace(ADMIN_LOCK, str(tmp_path / "admin.lock"))


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-s"], input=script, env=env, capture_output=True, text=True, check=False)


def _kept(tmp_path: Path, name: str) -> set[str]:
    return set((tmp_path / name).read_text().splitlines())


def _applied(tmp_path: Path) -> set[str]:
    """What the users script noted it applied, without the users' fingerprints."""
    return {
        " ".join(line.split()[:2] if line.startswith("user ") else line.split()[:3])
        for line in _kept(tmp_path, "acl-applied")
    }


def _calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_users_script_creates_updates_and_deletes_as_declared(tmp_path: Path) -> None:
    env = mqadmin_stand_ins(tmp_path)
    script = _users_script(tmp_path, USERS)
    check_script(tmp_path, "acl-users.sh", script)
    first = _run(script, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _kept(tmp_path, "users") == {f"orders-app Normal {APP_PASSWORD}", "ops Super ops-Pa55word%2"}
    assert _kept(tmp_path, "acls") == {
        "User:orders-app Topic:orders Pub Allow",
        "User:orders-app Topic:audit-* Pub,Sub Allow",
        "User:orders-app Group:billing Sub Allow",
    }
    assert APP_PASSWORD not in first.stdout + first.stderr
    assert _applied(tmp_path) == {
        "user orders-app",
        "user ops",
        "grant orders-app Topic:orders",
        "grant orders-app Topic:audit-*",
        "grant orders-app Group:billing",
    }
    assert not any(APP_PASSWORD in line for line in _kept(tmp_path, "acl-applied"))

    # Nothing changed: no mqadmin runs. One user's new password: only that user is updated.
    (tmp_path / "calls").unlink()
    assert _run(script, env).returncode == 0 and _calls(tmp_path) == []
    new_password = {**USERS, "ops": {**USERS["ops"], "password": "ops-N3w-password"}}
    assert _run(_users_script(tmp_path, new_password), env).returncode == 0
    assert _calls(tmp_path) == ["updateUser ops", "updateUser ops"]  # its password, then its type
    assert "ops Super ops-N3w-password" in _kept(tmp_path, "users")

    # orders-app an admin with a new password (so no grants), ops gone: run twice, the same result.
    changed = {"orders-app": {"password": "new-Pa55word", "admin": True}}
    for _ in range(2):
        done = _run(_users_script(tmp_path, changed), env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _kept(tmp_path, "users") == {"orders-app Super new-Pa55word"}
        assert _kept(tmp_path, "acls") == set()
    assert _applied(tmp_path) == {"user orders-app"}


def test_a_stopped_broker_fails_the_step_and_keeps_what_it_had(tmp_path: Path) -> None:
    env = mqadmin_stand_ins(tmp_path)
    assert _run(_users_script(tmp_path, USERS), env).returncode == 0
    (tmp_path / "broker-stopped").touch()
    done = _run(_users_script(tmp_path, {"ops": USERS["ops"]}), env)
    assert done.returncode != 0 and "broker broker-a/0 (192.0.2.11:10911) is not running" in done.stderr
    assert "user orders-app" in _applied(tmp_path)  # the next run still deletes it


def test_a_refused_password_stays_out_of_the_error(tmp_path: Path) -> None:
    env = mqadmin_stand_ins(tmp_path)
    assert _run(_users_script(tmp_path, USERS), env).returncode == 0
    rejected = "reject-Pa55word"
    done = _run(_users_script(tmp_path, {"orders-app": {"password": rejected, "topics": {"orders": "PUB"}}}), env)
    assert done.returncode != 0 and "updating user orders-app's password on 192.0.2.11:10911 failed" in done.stderr
    assert "cannot take password <password>" in done.stderr and rejected not in done.stdout + done.stderr


def test_every_host_gets_the_credentials_and_every_broker_its_users_as_secrets() -> None:
    run = run_main_program(_acl_stack(), SECRET_KEYS)
    by_name = {c.name: c for c in run.commands}
    hosts = ("peer1", "peer2", "peer3", "peer4")
    for host in hosts:
        credentials = by_name[f"rocketmq-{host}-acl-credentials"]
        assert SECRET_SIG in credentials.inputs["stdin"], f"{credentials.name} sends its script in the clear"
        assert ADMIN_PASSWORD in credentials.inputs["stdin"]["value"]
        # The release (and so every service and mqadmin call) comes after the credentials.
        assert credentials.name in run.mocks.depends_on(by_name[f"rocketmq-{host}-install"])
    users_steps = [c for c in run.commands if c.name.endswith("-acl-users")]
    assert len(users_steps) == 4  # one per broker
    for step in users_steps:
        assert SECRET_SIG in step.inputs["stdin"] and APP_PASSWORD in step.inputs["stdin"]["value"]
        # After the broker's own rolling restart, which brings authentication on when it is new.
        (after,) = run.mocks.depends_on(step)
        assert after == step.name.removesuffix("-acl-users") + "-rollout"
    for command in broker_commands(run):
        conf = broker_conf(command)
        assert conf["authenticationEnabled"] == "true" and "initAuthenticationUser" not in conf


def test_without_acl_the_program_adds_no_step() -> None:
    run = run_main_program(hosts_stack("master-slave-async"), ["sshPrivateKey"])
    assert not [c.name for c in run.commands if "-acl-" in c.name]
    assert all("authenticationEnabled" not in broker_conf(c) for c in broker_commands(run))


def test_a_proxy_host_gets_the_credentials_and_checks_its_clients() -> None:
    hosts = [*HOSTS_BY_MODE["multi-master"], {"name": "gw", "address": "192.0.2.31", "proxy": True}]
    acl = {key: value for key, value in _acl_stack().items() if key.startswith("acl")}
    run = run_main_program(hosts_stack("multi-master", hosts, proxy="cluster", **acl), SECRET_KEYS)
    by_name = {c.name: c for c in run.commands}
    assert SECRET_SIG in by_name["rocketmq-gw-acl-credentials"].inputs["stdin"]
    (proxy,) = [
        c for c in run.commands if "UNIT=rocketmq-proxy.service" in str(c.inputs["stdin"]) and "rollout" not in c.name
    ]
    conf = written_file(proxy, "/etc/rocketmq/proxy.json")
    assert conf is not None and json.loads(conf)["authenticationEnabled"] is True
    assert ADMIN_PASSWORD not in proxy.inputs["stdin"] and "RuntimeDirectory=rocketmq-proxy" in proxy.inputs["stdin"]


def test_a_proxy_inside_each_broker_checks_its_clients() -> None:
    """rocketmq:proxy local (5.x's default): each broker's JVM runs a proxy, which checks clients
    against its own broker's users; its credentials join its config only at start."""
    stack = {key: value for key, value in _acl_stack().items() if key != "proxy"}
    run = run_main_program(stack, SECRET_KEYS)
    brokers = broker_commands(run)
    assert len(brokers) == 4
    for command in brokers:
        stdin = str(command.inputs["stdin"])
        conf = written_file(command, PROXY_CONF)
        assert conf is not None, f"{command.name} writes no proxy config"
        assert {key: json.loads(conf)[key] for key in AUTH_PROXY_SETTINGS} == AUTH_PROXY_SETTINGS
        assert f'PROXY_CONFIG="{PROXY_CONF}"' in stdin and "RuntimeDirectory=rocketmq-broker" in stdin
        assert ADMIN_PASSWORD not in stdin and APP_PASSWORD not in stdin
    start = render_start_script(parse_config(stack).release, acl=True)
    local = start[start.index("if [[ -n ${PROXY_CONFIG:-} ]]; then") :]
    assert local.index('merge_proxy_credentials "$PROXY_CONFIG" "$proxy_conf"') < local.index('-pc "$proxy_conf"')


def test_prepare_keeps_users_and_grants_and_checks_nothing_yet() -> None:
    """acl: prepare, the step before true for a running cluster: the brokers and proxies restart
    with users and grants (the users steps make them), both checks off; true then changes only
    the two checks, so every user exists on every broker before any broker checks."""
    prepared = run_main_program(_acl_stack(acl="prepare", proxy="local"), SECRET_KEYS)
    enforced = run_main_program(_acl_stack(acl=True, proxy="local"), SECRET_KEYS)
    assert {c.name for c in prepared.commands} == {c.name for c in enforced.commands}
    # Only the brokers (each with its proxy inside) and their rolling restarts change: no name server restarts.
    by_name = {c.name: c.inputs for c in enforced.commands}
    changed = sorted(c.name for c in prepared.commands if c.inputs != by_name[c.name])
    brokers = sorted(f"rocketmq-broker-{g}-{i}" for g in "ab" for i in "01")
    assert changed == sorted([*brokers, *(f"{b}-rollout" for b in brokers)])
    assert len([c for c in prepared.commands if c.name.endswith("-acl-users")]) == 4
    enforced_brokers = {c.name: c for c in broker_commands(enforced)}
    for before in broker_commands(prepared):
        after = enforced_brokers.pop(before.name)
        conf_before, conf_after = broker_conf(before), broker_conf(after)
        assert {k: v for k, v in conf_before.items() if conf_after.get(k) != v} == {
            "authenticationEnabled": "false",
            "authorizationEnabled": "false",
        }
        assert conf_after["authenticationEnabled"] == conf_after["authorizationEnabled"] == "true"
        assert conf_before["authenticationMetadataProvider"] == AUTH_BROKER_PROPERTIES["authenticationMetadataProvider"]
        proxy_before = json.loads(written_file(before, PROXY_CONF) or "{}")
        proxy_after = json.loads(written_file(after, PROXY_CONF) or "{}")
        assert {k: v for k, v in proxy_before.items() if proxy_after.get(k) != v} == {
            "authenticationEnabled": False,
            "authorizationEnabled": False,
        }
    assert not enforced_brokers
    users_scripts = {c.name: c.inputs["stdin"] for c in prepared.commands if c.name.endswith("-acl-users")}
    assert users_scripts == {c.name: c.inputs["stdin"] for c in enforced.commands if c.name.endswith("-acl-users")}
