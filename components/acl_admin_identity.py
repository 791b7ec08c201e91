"""The admin identity a cluster's brokers keep (rocketmq:aclAdminUser, rocketmq:aclAdminPassword),
pinned in the state.

A broker makes its admin user at its first start with access control and never changes it after
(5.4.0's AuthenticationMetadataManagerImpl.initUser creates the user only when it is missing).
Every request the program's steps, the brokers (a slave to its master) and proxies of their own
make is signed as the admin, and a user has one password: a new password for the same admin
would be refused wherever the old one is still in use, until every service restarted. So only a
move to an admin of another name is let through (components/acl_admin_rotation.py creates it on
every broker first, and deletes the former one once every service uses the new one); a new
password under the same name is refused at the preview, before any step runs. The state keeps
the admin's name and a digest of the identity (as a secret), never the password.

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
    f"{NAMESPACE}:aclAdminPassword differs from the password of admin user {{user}} this cluster's brokers "
    "keep, under the same name; a user has one password, and the services still signing with the old one "
    "(brokers to each other, proxies, the program's own steps) would be refused until each restarted. To "
    f"change the admin's password, move to an admin of another name: set {NAMESPACE}:aclAdminUser to a new "
    f"name together with the new {NAMESPACE}:aclAdminPassword (the README's Security section); or set the "
    f"former password back (every host keeps it in {TOOLS_YML})"
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
        # Pins made before the name was pinned hold none: the rotation's handover step on each
        # broker host refuses a new password under the same name there, before any file changes.
        same_user = _olds.get("user") == news.get("user")
        if old and old != news.get("fingerprint") and news.get("model", 2) == 2 and same_user:
            failures.append(pulumi.dynamic.CheckFailure("fingerprint", CHANGED_ADMIN.format(user=news.get("user"))))
        # Pins made before the model was pinned hold none: they are all ACL 2.0.
        if _olds and _olds.get("model", 2) != news.get("model", 2):
            failures.append(pulumi.dynamic.CheckFailure("model", CHANGED_MODEL))
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        # A random id: the state and the outputs show ids in plaintext, and a part of the digest
        # would let anyone who reads them test guesses of the password.
        return pulumi.dynamic.CreateResult(id_=secrets.token_hex(8), outs=props)

    def diff(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # A new admin (check let it through) or a pin made before the name was pinned.
        changed = any(_olds.get(key) != news.get(key) for key in ("fingerprint", "user"))
        return pulumi.dynamic.DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=news)


class AclAdminIdentity(pulumi.dynamic.Resource):
    """The admin's name and fingerprint (a secret); the hosts' credentials steps wait for its check."""

    def __init__(self, name: str, acl: AclSettings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            _AdminIdentityProvider(),
            name,
            {"fingerprint": pulumi.Output.secret(admin_fingerprint(acl)), "model": acl.model, "user": acl.admin_user},
            opts,
        )
