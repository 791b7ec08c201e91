"""What rocketmq:acl puts on the hosts: the credentials files, and (ACL 2.0) the script that keeps
each broker's users and grants as declared, or (ACL 1.0, 4.9.x) the brokers' plain_acl.yml.

broker.conf itself stays free of passwords (its configure script shows in previews and logs); the
settings that hold them live in a file of their own, which the start script merges in at each
start. The scripts rendered here that hold passwords reach hosts only as Pulumi secrets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from components import rendering
from components.acl_settings import (
    BROKER_AUTH_CONF,
    FORMER_ADMINS,
    MQADMIN_HOME,
    PLAIN_ACL_FILE,
    PROXY_AUTH_CONF,
    TOOLS_YML,
)
from components.config_model import AclGrant, AclSettings, AclUser, ClusterConfig
from components.topology import BrokerNode


def render_broker_auth(acl: AclSettings) -> str:
    """broker-auth.conf: the admin user, made at a broker's first start (RocketMQ's super user
    type), and the same credentials for what a broker asks of other brokers (a slave of its master)."""
    user = json.dumps({"username": acl.admin_user, "password": acl.admin_password}, separators=(",", ":"))
    return f"initAuthenticationUser={user}\ninnerClientAuthenticationCredentials={_inner_credentials(acl)}\n"


def _inner_credentials(acl: AclSettings) -> str:
    return json.dumps({"accessKey": acl.admin_user, "secretKey": acl.admin_password}, separators=(",", ":"))


def render_proxy_auth(acl: AclSettings) -> str:
    """proxy-auth.json: what a proxy shows the brokers (their users and grants, its clients' requests)."""
    return json.dumps({"innerClientAuthenticationCredentials": _inner_credentials(acl)}) + "\n"


def render_tools_yml(acl: AclSettings) -> str:
    # Passwords hold no quote (components/config_acl.py), so single-quoted YAML needs no escape.
    return f"accessKey: '{acl.admin_user}'\nsecretKey: '{acl.admin_password}'\n"


_ACL1_PERMISSIONS = {("Pub",): "PUB", ("Sub",): "SUB", ("Pub", "Sub"): "PUB|SUB"}


def _acl1_account(name: str, password: str, admin: bool, grants: Sequence[AclGrant]) -> list[str]:
    """One account of plain_acl.yml: a grant on `*` becomes the account's default permission."""
    defaults = {"Topic": "PUB|SUB" if admin else "DENY", "Group": "SUB" if admin else "DENY"}
    perms: dict[str, list[str]] = {"Topic": [], "Group": []}
    for grant in grants:
        kind, resource = grant.resource.split(":", 1)
        permission = "DENY" if grant.decision == "Deny" else _ACL1_PERMISSIONS[grant.actions]
        if resource == "*":
            defaults[kind] = permission
        else:
            perms[kind].append(f"{resource}={permission}")
    lines = [
        f"- accessKey: '{name}'",
        f"  secretKey: '{password}'",
        f"  admin: {'true' if admin else 'false'}",
        f"  defaultTopicPerm: '{defaults['Topic']}'",
        f"  defaultGroupPerm: '{defaults['Group']}'",
    ]
    for key, kind in (("topicPerms", "Topic"), ("groupPerms", "Group")):
        if perms[kind]:
            lines += [f"  {key}:", *(f"  - '{entry}'" for entry in perms[kind])]
    return lines


def render_plain_acl(acl: AclSettings, trusted_addresses: Sequence[str]) -> str:
    """plain_acl.yml (ACL 1.0, 4.9.x): the program's admin, the declared users, and the brokers'
    own addresses, let in unchecked: a 4.9.x broker signs nothing it asks another (a slave's copy of
    its master's topics and offsets). Values are single-quoted: names, passwords and addresses hold
    no quote (components/config_acl.py)."""
    lines = [
        "# Written by Pulumi (rocketmq:acl, rocketmq:aclUsers): RocketMQ's ACL 1.0 for this cluster's brokers.",
        "globalWhiteRemoteAddresses:",
        *(f"- '{address}'" for address in sorted(set(trusted_addresses))),
        "accounts:",
        *_acl1_account(acl.admin_user, acl.admin_password, True, ()),
    ]
    for user in acl.users:
        lines += _acl1_account(user.name, user.password, user.admin, user.grants)
    return "\n".join(lines) + "\n"


def render_credentials_script(
    host_label: str, acl: AclSettings, *, trusted_addresses: Sequence[str] | None = None
) -> str:
    """Writes (or, with `delete`, removes) the ACL credentials on a host: mqadmin's tools.yml, and
    for ACL 2.0 broker-auth.conf and proxy-auth.json; for ACL 1.0 on a broker host (given the
    brokers' `trusted_addresses`), plain_acl.yml. Holds passwords: pass it to hosts as a secret."""
    files = {"tools_yml_content": render_tools_yml(acl)}
    if acl.model == 2:
        files |= {"broker_auth": render_broker_auth(acl), "proxy_auth": render_proxy_auth(acl)}
    elif trusted_addresses is not None:
        files["plain_acl"] = render_plain_acl(acl, trusted_addresses)
    if any(rendering.HEREDOC in content for content in files.values()):
        raise ValueError("an ACL credentials file would end its here-document early")
    return rendering.render(
        "acl-credentials.sh.j2",
        host_label=host_label,
        broker_auth_conf=BROKER_AUTH_CONF,
        proxy_auth_conf=PROXY_AUTH_CONF,
        plain_acl_file=PLAIN_ACL_FILE,
        former_admins=FORMER_ADMINS,
        tools_yml=TOOLS_YML,
        mqadmin_home=MQADMIN_HOME,
        mqadmin_conf_dir=f"{MQADMIN_HOME}/conf",
        # 4.9.x's mqadmin reads its logging config from the same home as tools.yml, and stops without one.
        tools_logging=f"{rendering.ROCKETMQ_HOME}/conf/logback_tools.xml" if acl.model == 1 else "",
        broker_unit=rendering.UNITS["broker"],
        proxy_unit=rendering.UNITS["proxy"],
        broker_restart_pending=rendering.restart_pending("broker"),
        proxy_restart_pending=rendering.restart_pending("proxy"),
        heredoc=rendering.HEREDOC,
        **({"broker_auth": "", "proxy_auth": "", "plain_acl": ""} | files),
    )


@dataclass(frozen=True)
class _DeclaredUser:
    name: str
    type: str  # RocketMQ's user types: Super or Normal
    password: str
    fingerprint: str  # tells a run whether the user is current (templates/acl-users.sh.j2)
    grants: tuple[AclGrant, ...]


def _declared(user: AclUser) -> _DeclaredUser:
    user_type = "Super" if user.admin else "Normal"
    digest = hashlib.sha256(f"{user.name}\0{user_type}\0{user.password}".encode()).hexdigest()
    return _DeclaredUser(user.name, user_type, user.password, digest, user.grants)


def render_acl_users_script(
    cfg: ClusterConfig,
    node: BrokerNode,
    *,
    host_label: str,
    namesrv_addr: str,
    broker_endpoint: str,
    state_dir: str | None = None,
) -> str:
    """Keeps broker `node`'s users and grants as rocketmq:aclUsers declares them, noting what it
    applied under `state_dir` (the broker's store, beside its users). Holds their passwords: pass
    it to hosts as a secret."""
    state_dir = state_dir or f"{cfg.store_path}/config"
    assert cfg.acl is not None, "render_acl_users_script needs rocketmq:acl true"
    return rendering.render(
        "acl-users.sh.j2",
        label=node.label,
        host_label=host_label,
        namesrv_addr=namesrv_addr,
        broker_endpoint=broker_endpoint,
        applied_path=f"{state_dir}/acl-applied",
        users=[_declared(user) for user in cfg.acl.users],
        unit=rendering.UNITS["broker"],
        lock_path=rendering.ADMIN_LOCK,
        mqadmin=rendering.MQADMIN,
        heredoc=rendering.HEREDOC,
    )


def render_admin_handover_script(
    acl: AclSettings, node: BrokerNode, *, host_label: str, namesrv_addr: str, broker_endpoint: str
) -> str:
    """Makes the stack's admin a super user of broker `node` while the former admin still signs
    there (templates/acl-admin-handover.sh.j2). Holds the admin's password: pass it as a secret."""
    if rendering.HEREDOC in acl.admin_password:
        raise ValueError("the admin's password would end its here-document early")
    return rendering.render(
        "acl-admin-handover.sh.j2",
        admin_password=acl.admin_password,
        heredoc=rendering.HEREDOC,
        tools_yml=TOOLS_YML,
        **_admin_context(acl, node, host_label, namesrv_addr, broker_endpoint),
    )


def render_admin_retire_script(
    acl: AclSettings, node: BrokerNode, *, host_label: str, namesrv_addr: str, broker_endpoint: str
) -> str:
    """Deletes from broker `node` the former admins its handover noted (templates/acl-admin-retire.sh.j2)."""
    return rendering.render(
        "acl-admin-retire.sh.j2", **_admin_context(acl, node, host_label, namesrv_addr, broker_endpoint)
    )


def _admin_context(
    acl: AclSettings, node: BrokerNode, host_label: str, namesrv_addr: str, broker_endpoint: str
) -> dict[str, str]:
    return {
        "label": node.label,
        "host_label": host_label,
        "namesrv_addr": namesrv_addr,
        "broker_endpoint": broker_endpoint,
        "former_admins": FORMER_ADMINS,
        "admin_user": acl.admin_user,
        "unit": rendering.UNITS["broker"],
        "lock_path": rendering.ADMIN_LOCK,
        "mqadmin": rendering.MQADMIN,
    }
