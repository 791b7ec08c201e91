"""The admin identity the brokers keep is pinned in the state (components/acl_admin_identity.py):
another admin name or password is refused at the check, before any host step, and the state holds
only a secret digest of it."""

from __future__ import annotations

import json

from components.acl_admin_identity import CHANGED_ADMIN, _AdminIdentityProvider, admin_fingerprint
from components.config_model import AclSettings
from tests.program_commands import SECRET_SIG
from tests.pulumi_harness import DYNAMIC_TYPE, run_main_program
from tests.stacks import hosts_stack

ADMIN_PASSWORD = "Adm1n-pass!word"
SECRET_KEYS = ["sshPrivateKey", "aclAdminPassword"]


def _fingerprint(user: str = "rocketmq-admin", password: str = ADMIN_PASSWORD) -> str:
    return admin_fingerprint(AclSettings(user, password))


def _pin(user: str = "rocketmq-admin", password: str = ADMIN_PASSWORD) -> dict[str, object]:
    return {"fingerprint": _fingerprint(user, password), "model": 2, "user": user}


def test_a_new_password_for_the_same_admin_is_refused_and_another_admin_passes() -> None:
    provider = _AdminIdentityProvider()
    first = _pin()
    assert provider.check({}, first).failures == []  # a new stack, or access control newly on
    assert provider.check(first, _pin()).failures == []
    assert not provider.diff("id", first, _pin()).changes

    failures = provider.check(first, _pin(password="An0ther-pass!word")).failures
    assert [(f.property, f.reason) for f in failures] == [("fingerprint", CHANGED_ADMIN.format(user="rocketmq-admin"))]
    assert "rocketmq:aclAdminUser" in CHANGED_ADMIN and "rocketmq:aclAdminPassword" in CHANGED_ADMIN

    # Another name, the way to change the admin's password: let through and stored.
    moved = _pin(user="ops-admin", password="An0ther-pass!word")
    assert provider.check(first, moved).failures == []
    diff = provider.diff("id", first, moved)
    assert diff.changes and not diff.replaces
    assert provider.update("id", first, moved).outs == moved


def test_a_pin_made_before_names_were_pinned_takes_the_name_and_leaves_the_check_to_the_hosts() -> None:
    provider = _AdminIdentityProvider()
    old_pin = {"fingerprint": _fingerprint(), "model": 2}
    # Whether the name changed is unknown here: the handover step on each broker host refuses a
    # new password under the same name (tests/test_acl_admin_rotation.py).
    assert provider.check(old_pin, _pin(password="An0ther-pass!word")).failures == []
    assert provider.diff("id", old_pin, _pin()).changes


def test_every_credentials_step_waits_for_the_pinned_admin() -> None:
    run = run_main_program(
        hosts_stack("master-slave-async", proxy="none", acl=True, aclAdminPassword=ADMIN_PASSWORD), SECRET_KEYS
    )
    (pinned,) = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name == "rocketmq-acl-admin"]
    fingerprint = pinned.inputs["fingerprint"]
    assert SECRET_SIG in fingerprint and fingerprint["value"] == _fingerprint()
    assert ADMIN_PASSWORD not in json.dumps(pinned.inputs)
    credentials = [c for c in run.commands if c.name.endswith("-acl-credentials")]
    assert len(credentials) == 4
    for step in credentials:
        assert "rocketmq-acl-admin" in run.mocks.depends_on(step), step.name


def test_without_access_control_nothing_is_pinned() -> None:
    run = run_main_program(hosts_stack("master-slave-async", proxy="none", acl=False), ["sshPrivateKey"])
    assert [r.name for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name == "rocketmq-acl-admin"] == []
