"""A move to an admin of another name (components/acl_admin_rotation.py, ACL 2.0): the handover
and retire scripts run here against a stand-in mqadmin, and the program's steps under mocks wait
for each other as the move needs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from components.acl_rendering import render_admin_handover_script, render_admin_retire_script
from components.acl_settings import FORMER_ADMINS, TOOLS_YML
from components.config import parse_config
from components.rendering import ADMIN_LOCK, restart_pending
from components.topology import plan_cluster
from tests.host_scripts import mqadmin_stand_ins
from tests.program_commands import SECRET_SIG
from tests.pulumi_harness import ProgramRun, run_main_program
from tests.shell_checks import check_script
from tests.stacks import HOSTS_WITH_CONTROLLERS, hosts_stack

ADMIN_PASSWORD = "Adm1n-pass!word"
NEW_PASSWORD = "N3w-admin&pass"
SECRET_KEYS = ["sshPrivateKey", "aclAdminPassword"]
PROXY_HOST = {"name": "proxy1", "address": "192.0.2.31", "proxy": True}


def _stack(**overrides: Any) -> dict[str, Any]:
    """master-slave-auto with controllers and a proxy host of their own, access control on."""
    settings: dict[str, Any] = {"acl": True, "aclAdminPassword": ADMIN_PASSWORD, **overrides}
    return hosts_stack("master-slave-auto", hosts=[*HOSTS_WITH_CONTROLLERS, PROXY_HOST], proxy="cluster", **settings)


def _scripts(tmp_path: Path, admin: str, password: str) -> tuple[str, str]:
    """The handover and retire scripts of the first master, with their files under ``tmp_path``."""
    cfg = parse_config(_stack(aclAdminUser=admin, aclAdminPassword=password))
    assert cfg.acl is not None
    node = plan_cluster(cfg).groups[0].master
    where = {"host_label": "peer1", "namesrv_addr": "192.0.2.11:9876", "broker_endpoint": "192.0.2.11:10911"}
    scripts = render_admin_handover_script(cfg.acl, node, **where), render_admin_retire_script(cfg.acl, node, **where)
    moved = {TOOLS_YML: tmp_path / "tools.yml", FORMER_ADMINS: tmp_path / "former", ADMIN_LOCK: tmp_path / "lock"}
    for path, here in moved.items():
        scripts = tuple(script.replace(path, str(here)) for script in scripts)  # type: ignore[assignment]
    return scripts


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-s"], input=script, env=env, capture_output=True, text=True, check=False)


def _users(tmp_path: Path) -> set[str]:
    return set((tmp_path / "users").read_text().splitlines())


def test_the_handover_makes_the_new_admin_beside_the_former_and_the_retirement_deletes_the_former(
    tmp_path: Path,
) -> None:
    env = mqadmin_stand_ins(tmp_path)
    handover, retire = _scripts(tmp_path, "ops-admin", NEW_PASSWORD)
    check_script(tmp_path, "handover.sh", handover)
    check_script(tmp_path, "retire.sh", retire)
    assert NEW_PASSWORD not in retire

    # A new host: nothing signs here yet, and the broker makes its admin at its first start.
    first = _run(handover, env)
    assert first.returncode == 0 and "makes ops-admin at its first start" in first.stdout, first.stderr
    assert not (tmp_path / "calls").exists()

    # The brokers keep the former admin: the new one is made beside it, signed as the former one.
    (tmp_path / "tools.yml").write_text(f"accessKey: 'rocketmq-admin'\nsecretKey: '{ADMIN_PASSWORD}'\n")
    (tmp_path / "users").write_text(f"rocketmq-admin Super {ADMIN_PASSWORD}\n")
    for _ in range(2):  # again, as after an `up` that stopped before its end: up to date, one note
        moved = _run(handover, env)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert _users(tmp_path) == {f"rocketmq-admin Super {ADMIN_PASSWORD}", f"ops-admin Super {NEW_PASSWORD}"}
        assert (tmp_path / "former").read_text() == "rocketmq-admin\n"
        assert NEW_PASSWORD not in moved.stdout + moved.stderr

    # Every service signs as the new admin now (the credentials step wrote it): the former goes.
    (tmp_path / "tools.yml").write_text(f"accessKey: 'ops-admin'\nsecretKey: '{NEW_PASSWORD}'\n")
    retired = _run(retire, env)
    assert retired.returncode == 0, retired.stdout + retired.stderr
    assert _users(tmp_path) == {f"ops-admin Super {NEW_PASSWORD}"}
    assert not (tmp_path / "former").exists()
    calls = (tmp_path / "calls").read_text()
    assert _run(retire, env).returncode == 0 and (tmp_path / "calls").read_text() == calls  # nothing more to do
    assert _run(handover, env).returncode == 0 and (tmp_path / "calls").read_text() == calls


def test_a_new_password_under_the_same_name_stops_the_handover_before_anything_changes(tmp_path: Path) -> None:
    env = mqadmin_stand_ins(tmp_path)
    handover, _ = _scripts(tmp_path, "rocketmq-admin", NEW_PASSWORD)
    (tmp_path / "tools.yml").write_text(f"accessKey: 'rocketmq-admin'\nsecretKey: '{ADMIN_PASSWORD}'\n")
    refused = _run(handover, env)
    assert refused.returncode == 1
    assert "rocketmq:aclAdminPassword changed while rocketmq:aclAdminUser stayed rocketmq-admin" in refused.stderr
    assert NEW_PASSWORD not in refused.stdout + refused.stderr and ADMIN_PASSWORD not in refused.stderr
    assert not (tmp_path / "calls").exists() and not (tmp_path / "former").exists()


def test_a_stopped_broker_is_left_to_make_the_new_admin_at_its_start(tmp_path: Path) -> None:
    env = mqadmin_stand_ins(tmp_path)
    handover, retire = _scripts(tmp_path, "ops-admin", NEW_PASSWORD)
    (tmp_path / "tools.yml").write_text(f"accessKey: 'rocketmq-admin'\nsecretKey: '{ADMIN_PASSWORD}'\n")
    (tmp_path / "broker-stopped").touch()
    skipped = _run(handover, env)
    assert skipped.returncode == 0 and "makes ops-admin at its next start" in skipped.stdout, skipped.stderr
    assert not (tmp_path / "calls").exists() and (tmp_path / "former").read_text() == "rocketmq-admin\n"
    # Deleting the former admin needs the broker running: the retirement says so, naming it.
    stopped = _run(retire, env)
    assert stopped.returncode == 1 and "former admins (rocketmq-admin) cannot be deleted" in stopped.stderr


def _by_name(run: ProgramRun) -> dict[str, Any]:
    return {c.name: c for c in run.commands}


def _rotation_steps(run: ProgramRun, phase: str) -> list[Any]:
    return [c for c in run.commands if c.name.startswith("rocketmq-acl-admin-rotation-") and c.name.endswith(phase)]


def test_the_new_admin_is_on_every_broker_before_any_credentials_change_and_the_former_goes_last() -> None:
    run = run_main_program(_stack(), SECRET_KEYS)
    handovers, retirements = _rotation_steps(run, "-handover"), _rotation_steps(run, "-retire")
    assert len(handovers) == len(retirements) == 4  # one per broker
    for step in handovers:
        assert SECRET_SIG in step.inputs["stdin"] and ADMIN_PASSWORD in step.inputs["stdin"]["value"], step.name
        assert "rocketmq-acl-admin" in run.mocks.depends_on(step)
    credentials = [c for c in run.commands if c.name.endswith("-acl-credentials")]
    assert len(credentials) == 4 + 2 + 1  # brokers, controllers, the proxy host
    for step in credentials:
        assert {h.name for h in handovers} <= run.mocks.depends_on(step), step.name
    rollouts = {c.name for c in run.commands if c.name.endswith("-rollout")}
    broker_and_proxy_rollouts = {name for name in rollouts if name.startswith(("rocketmq-broker-", "rocketmq-proxy-"))}
    assert len(broker_and_proxy_rollouts) == 4 + 1
    for step in retirements:
        assert ADMIN_PASSWORD not in json.dumps(step.inputs), step.name
        assert broker_and_proxy_rollouts <= run.mocks.depends_on(step), step.name


def test_another_admin_reruns_the_broker_and_proxy_restarts_only() -> None:
    """The configure scripts stay as they are; each broker's and proxy's rolling restart reruns
    (the credentials step marks those it must restart), the name servers' and controllers' do not."""
    before, after = (
        _by_name(run_main_program(_stack(**extra), SECRET_KEYS))
        for extra in ({}, {"aclAdminUser": "ops-admin", "aclAdminPassword": NEW_PASSWORD})
    )
    assert before.keys() == after.keys()
    rerun = {name for name in before if before[name].inputs.get("triggers") != after[name].inputs.get("triggers")}
    assert rerun == {
        name
        for name in before
        if name.endswith("-rollout") and name.startswith(("rocketmq-broker-", "rocketmq-proxy-"))
    }
    assert len(rerun) == 4 + 1
    configure = [name for name in before if "UNIT=" in str(before[name].inputs.get("stdin", ""))]
    assert configure and all(before[n].inputs["stdin"] == after[n].inputs["stdin"] for n in configure)


def test_the_credentials_step_marks_the_running_services_that_read_the_new_ones_at_start() -> None:
    run = run_main_program(_stack(), SECRET_KEYS)
    script = _by_name(run)["rocketmq-peer1-acl-credentials"].inputs["stdin"]["value"]
    for role in ("broker", "proxy"):
        assert f"pending={restart_pending(role)}" in script
    assert 'touch "$pending"' in script
