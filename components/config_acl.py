"""Stack config of authentication and authorization (`acl`, `aclAdminUser`, `aclAdminPassword`,
`aclUsers`): RocketMQ's ACL 2.0 on the brokers of 5.3.0 and later, ACL 1.0 (plain_acl.yml) on 4.9.x.

Part of the config parser (components/config.py), which calls this; it builds on
components/config_checks.py. Errors name the key and never quote a password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components import config_checks as check
from components.config import _Reader
from components.config_checks import NAMESPACE, ConfigError
from components.config_model import AclGrant, AclSettings, AclUser, ReleaseSettings

ACL_MIN_VERSION = (5, 3, 0)  # ACL 2.0 (users and grants kept by the brokers) came with 5.3.0
# ACL 1.0 (4.9.x's plain_acl.yml): only with acl: true or prepare, never by default.
ACL1_VERSIONS = ((4, 9, 0), (5, 0, 0))
# ACL 1.0 refuses an accessKey or secretKey of 6 characters or fewer (4.9.7's PlainPermissionManager).
ACL1_MIN_NAME = 7
DEFAULT_ADMIN_USER = "rocketmq-admin"
# acl: auto turns access control on there; target local serves this machine's loopback only.
ACL_BY_DEFAULT_TARGETS = ("aws", "hosts")
_OFF_BY_DEFAULT = "on only for RocketMQ 5.3.0 and later on aws and hosts"
# acl: prepare: users and grants in place, nothing checked yet (the step before true, for a running cluster).
PREPARE = "prepare"
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_USER_TEXT = "1-64 letters, digits, _ or -, starting with a letter or digit"
# Passwords land in a properties file, JSON, YAML and mqadmin's arguments: printable ASCII, no
# blanks, quotes or backslashes, so none of those formats needs an escape; no leading - (mqadmin
# would take it for an option).
_PASSWORD = re.compile(r"^(?!-)[!#-&(-\[\]-~]{8,128}$")
_PASSWORD_TEXT = "8 to 128 printable ASCII characters without blanks, quotes or backslashes, not starting with -"
# A topic or group name as RocketMQ allows it, a prefix of one ending in `*`, or `*` for all.
_RESOURCE = re.compile(r"^(\*|[A-Za-z0-9%|_-]{1,127}\*?)$")
TOPIC_PERMISSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "PUB": (("Pub",), "Allow"),
    "SUB": (("Sub",), "Allow"),
    "PUB|SUB": (("Pub", "Sub"), "Allow"),
    "DENY": (("Pub", "Sub"), "Deny"),
}
GROUP_PERMISSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "SUB": (("Sub",), "Allow"),
    "DENY": (("Sub",), "Deny"),
}
_USER_FIELDS = ("password", "admin", "topics", "groups")


def _password(key: str, raw: Any) -> str:
    if not isinstance(raw, str) or not _PASSWORD.fullmatch(raw):
        raise ConfigError(key, f"must be {_PASSWORD_TEXT}")  # the value itself stays out of the message
    return raw


def _grants(
    key: str, raw: Any, kind: str, permissions: Mapping[str, tuple[tuple[str, ...], str]], model: int
) -> list[AclGrant]:
    value = check.structured(key, raw)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"must map {kind} names to one of {', '.join(permissions)}; got {value!r}")
    grants = []
    for name, permission in value.items():
        if not isinstance(name, str) or not _RESOURCE.fullmatch(name):
            raise ConfigError(
                key, f"has {name!r}: a {kind} name, a prefix of one ending in *, or * for every {kind}, is needed"
            )
        if model == 1 and name != "*" and name.endswith("*"):
            raise ConfigError(
                key,
                f"has {name!r}: RocketMQ 4.9.x (ACL 1.0) grants whole {kind} names, or * for every {kind}, no prefixes",
            )
        if not isinstance(permission, str) or permission.upper() not in permissions:
            raise ConfigError(key, f"gives {name} {permission!r}; allowed: {', '.join(permissions)}")
        actions, decision = permissions[permission.upper()]
        grants.append(AclGrant(f"{kind.capitalize()}:{name}", actions, decision))
    return grants


def _user(name: Any, raw: Any, admin_user: str, model: int) -> AclUser:
    key = f"aclUsers.{name}"
    if not isinstance(name, str) or not _USER.fullmatch(name):
        raise ConfigError("aclUsers", f"has the user name {name!r}; names are {_USER_TEXT}")
    _long_enough_for_acl1("aclUsers", name, model)
    if name == admin_user:
        raise ConfigError(key, "is the program's own admin user (aclAdminUser); give it another name")
    spec = check.structured(key, raw)
    if not isinstance(spec, Mapping):
        raise ConfigError(key, "must be an object with password, and admin, topics or groups")
    unknown = sorted(str(field) for field in spec if field not in _USER_FIELDS)
    if unknown:
        raise ConfigError(key, f"has {', '.join(unknown)}; a user has {', '.join(_USER_FIELDS)}")
    if "password" not in spec:
        raise ConfigError(
            f"{key}.password",
            f"is required: `pulumi config set --secret --path '{NAMESPACE}:aclUsers.{name}.password'`",
        )
    admin = check.boolean(f"{key}.admin", spec.get("admin", False))
    grants = [
        *_grants(f"{key}.topics", spec.get("topics"), "topic", TOPIC_PERMISSIONS, model),
        *_grants(f"{key}.groups", spec.get("groups"), "group", GROUP_PERMISSIONS, model),
    ]
    if admin and grants:
        raise ConfigError(key, "is an admin, who may do everything: drop its topics and groups, or admin")
    if not admin and not grants:
        raise ConfigError(key, "may do nothing: give it topics and groups (PUB, SUB, PUB|SUB, DENY), or admin: true")
    return AclUser(name, _password(f"{key}.password", spec["password"]), admin, tuple(grants))


def _long_enough_for_acl1(key: str, name: str, model: int) -> None:
    if model == 1 and len(name) < ACL1_MIN_NAME:
        raise ConfigError(
            key,
            f"has the user name {name!r}: RocketMQ 4.9.x (ACL 1.0) needs names of {ACL1_MIN_NAME} or more characters",
        )


def acl_model(key_value: str, version: tuple[int, ...], target: str) -> int:
    """Which of RocketMQ's ACL models this release has (2 from 5.3.0, 1 on 4.9.x), or why none is
    set up here (`key_value`: how rocketmq:acl was given, for the message)."""
    if version >= ACL_MIN_VERSION:
        return 2
    if not ACL1_VERSIONS[0] <= version < ACL1_VERSIONS[1]:
        raise ConfigError(
            "acl",
            f"{key_value} is set up for RocketMQ 4.9.x (ACL 1.0) and 5.3.0 or later (ACL 2.0); 5.0 to 5.2 have only "
            "ACL 1.0 in a form this program does not set up: use acl: false or version 5.3.0 or later",
        )
    if target == "local":
        raise ConfigError(
            "acl",
            f"{key_value} on RocketMQ 4.9.x (ACL 1.0) lets the brokers' own addresses in unchecked (a slave's "
            "requests to its master carry no signature there), and with target local every client shares them: "
            "use version 5.3.0 or later, or acl: false",
        )
    return 1


def _word(raw: Any) -> Any:
    """rocketmq:acl as compared: text trimmed and lower-cased, anything else as given."""
    return raw.strip().lower() if isinstance(raw, str) else raw


def acl_enabled(raw: Any, version: tuple[int, ...], target: str) -> tuple[bool, bool]:
    """Whether rocketmq:acl ``raw`` turns access control on for this release and target (prepare
    counts: users and grants are set up), and whether by default (auto)."""
    word = _word(raw)
    if word == "auto":
        return version >= ACL_MIN_VERSION and target in ACL_BY_DEFAULT_TARGETS, True
    if word == PREPARE:
        return True, False
    if isinstance(raw, bool) or word in ("true", "false"):
        return check.boolean("acl", raw), False
    raise ConfigError("acl", f"must be auto, true, false or {PREPARE}; got {raw!r}")


def parse_acl(
    r: _Reader, secret_keys: frozenset[str] | None, release: ReleaseSettings, target: str
) -> AclSettings | None:
    """The brokers' users and grants, or None when access control is off.

    `acl: auto` (the default) turns it on where this program sets it up (RocketMQ 5.3.0 or later)
    and where clients come over a network (aws, hosts); then the admin's password is required, so
    a stack made before it was the default stops at its next preview with one line saying what to
    set, instead of restarting every broker into a cluster its clients cannot use.
    `secret_keys` are the keys Pulumi holds encrypted; when given, those holding passwords must be."""
    raw = r.get("acl", "auto")
    enabled, by_default = acl_enabled(raw, release.version_tuple, target)
    if not enabled:
        # Pulumi.yaml's defaults (an admin name, no users) stand for "not set".
        for key in ("aclAdminPassword", "aclUsers"):
            if check.structured(key, r.get(key)):
                why = f" (auto: {_OFF_BY_DEFAULT})" if by_default else ""
                raise ConfigError(key, f"is used only with acl: true; acl is off here{why}")
        return None
    model = acl_model(str(raw).lower(), release.version_tuple, target)
    for key in ("aclAdminPassword", "aclUsers"):
        declared = check.structured(key, r.get(key))  # Pulumi.yaml's defaults ("", {}) are no secrets
        if secret_keys is not None and declared and f"{NAMESPACE}:{key}" not in secret_keys:
            raise ConfigError(key, "holds passwords, so it must be a secret (`pulumi config set --secret ...`)")
    admin_user = check.pattern("aclAdminUser", r.get("aclAdminUser", DEFAULT_ADMIN_USER), _USER, _USER_TEXT)
    _long_enough_for_acl1("aclAdminUser", admin_user, model)
    if not r.has("aclAdminPassword"):
        later = "" if model == 1 else f"; changing it later takes a new {NAMESPACE}:aclAdminUser too"
        set_it = f"`pulumi config set --secret {NAMESPACE}:aclAdminPassword` (the program's own user{later})"
        if by_default:
            raise ConfigError(
                "aclAdminPassword",
                f"is required: access control (rocketmq:acl) is on by default for RocketMQ 5.3.0 and later on "
                f"aws and hosts; set the admin's password with {set_it} (with `{NAMESPACE}:acl {PREPARE}` first, "
                "for a running cluster whose clients must not be refused while it turns on), or run without access "
                "control, where whoever reaches the ports may send, read and administer: "
                f"`pulumi config set {NAMESPACE}:acl false`",
            )
        raise ConfigError("aclAdminPassword", f"is required with acl: {str(raw).lower()}: {set_it}")
    admin_password = _password("aclAdminPassword", r.get("aclAdminPassword"))
    users_raw = check.structured("aclUsers", r.get("aclUsers", {}))
    if not isinstance(users_raw, Mapping):
        raise ConfigError("aclUsers", "must map user names to {password, admin, topics, groups}")
    users = tuple(_user(name, spec, admin_user, model) for name, spec in users_raw.items())
    return AclSettings(admin_user, admin_password, users, enforced=_word(raw) != PREPARE, model=model)
