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


def test_the_same_admin_passes_and_another_is_refused_naming_both_keys() -> None:
    provider = _AdminIdentityProvider()
    first = {"fingerprint": _fingerprint()}
    assert provider.check({}, first).failures == []  # a new stack, or access control newly on
    assert provider.check(first, {"fingerprint": _fingerprint()}).failures == []
    for other in (_fingerprint(password="An0ther-pass!word"), _fingerprint(user="ops-admin")):
        failures = provider.check(first, {"fingerprint": other}).failures
        assert [(f.property, f.reason) for f in failures] == [("fingerprint", CHANGED_ADMIN)]
    assert "rocketmq:aclAdminUser" in CHANGED_ADMIN and "rocketmq:aclAdminPassword" in CHANGED_ADMIN
    assert not provider.diff("id", first, first).changes


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
