"""The admin identity a cluster's brokers keep (rocketmq:aclAdminUser, rocketmq:aclAdminPassword),
pinned in the state.

A broker makes its admin user at its first start with access control and never changes it after
(5.4.0's AuthenticationMetadataManagerImpl.initUser creates the user only when it is missing).
Changed in the stack config, the admin would go on to every host's credentials files and the
brokers would refuse it: the program's users steps and health checks, the brokers' requests to
each other and proxies of their own, all signed as the admin. So a change is refused at the
preview, before any step runs; the state keeps a digest of the identity (as a secret), never the
password.

4.9.x's ACL 1.0 keeps the admin in the users file, which the brokers read again as it changes: there
the admin may change. The pin also holds the ACL model (1.0 on 4.9.x, 2.0 on 5.3.0 and later): a
release change from one line to the other with access control on is refused the same way."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import pulumi
import pulumi.dynamic

from components.acl_settings import TOOLS_YML
from components.config_checks import NAMESPACE
from components.config_model import AclSettings

CHANGED_ADMIN = (
    f"{NAMESPACE}:aclAdminUser or {NAMESPACE}:aclAdminPassword differs from the admin this cluster's brokers "
    "were started with; a broker makes that user once, at its first start, and would refuse the new one (the "
    "program's own steps and health checks, and the brokers' requests to each other, sign as it). Changing the "
    f"admin is not supported: set the former values back (every host keeps them in {TOOLS_YML})"
)


CHANGED_MODEL = (
    f"{NAMESPACE}:version moves between RocketMQ 4.9.x (ACL 1.0, users in plain_acl.yml) and 5.3.0 or later (ACL "
    f"2.0, users in each broker's store) while {NAMESPACE}:acl is on; part-way through the rolling restart the "
    "brokers of one line would not know the other's users. Not supported in one step: set acl: false for the "
    "release change, then turn access control on again (acl: prepare, then true; see the README's Security section)"
)


def admin_fingerprint(acl: AclSettings) -> str:
    """A digest of the admin's name and password: equal digests, same admin."""
    return hashlib.sha256(f"rocketmq-acl-admin\0{acl.admin_user}\0{acl.admin_password}".encode()).hexdigest()


class _AdminIdentityProvider(pulumi.dynamic.ResourceProvider):
    """Holds the fingerprint; refuses a new one in `check`, which the engine runs at the preview
    and again before the update's steps. The state names this class by module and name (the
    engine's provider process imports it): renaming either breaks every stack that holds one."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = []
        old = _olds.get("fingerprint")
        if old and old != news.get("fingerprint") and news.get("model", 2) == 2:
            failures.append(pulumi.dynamic.CheckFailure("fingerprint", CHANGED_ADMIN))
        # Pins made before the model was pinned hold none: they are all ACL 2.0.
        if _olds and _olds.get("model", 2) != news.get("model", 2):
            failures.append(pulumi.dynamic.CheckFailure("model", CHANGED_MODEL))
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        # A random id: the state and the outputs show ids in plaintext, and a part of the digest
        # would let anyone who reads them test guesses of the password.
        return pulumi.dynamic.CreateResult(id_=secrets.token_hex(8), outs=props)

    def diff(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # Only the first fingerprint is ever stored: check refuses any other.
        return pulumi.dynamic.DiffResult(changes=False)


class AclAdminIdentity(pulumi.dynamic.Resource):
    """The admin's fingerprint, a secret input; the hosts' credentials steps wait for its check."""

    def __init__(self, name: str, acl: AclSettings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            _AdminIdentityProvider(),
            name,
            {"fingerprint": pulumi.Output.secret(admin_fingerprint(acl)), "model": acl.model},
            opts,
        )
