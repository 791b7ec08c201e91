"""What rocketmq:acl puts on the hosts (RocketMQ's ACL 2.0): the broker settings that turn it on,
the credentials files, and the script that keeps each broker's users and grants as declared.

broker.conf itself stays free of passwords (its configure script shows in previews and logs); the
settings that hold them live in a file of their own, which the start script merges in at each
start. The scripts rendered here that hold passwords reach hosts only as Pulumi secrets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from components import rendering
from components.acl_settings import BROKER_AUTH_CONF, MQADMIN_HOME, PROXY_AUTH_CONF, TOOLS_YML
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


def render_credentials_script(host_label: str, acl: AclSettings) -> str:
    """Writes (or, with `delete`, removes) broker-auth.conf, proxy-auth.json and mqadmin's tools.yml
    on a host. Holds the admin's password: pass it to hosts as a secret."""
    files = {
        "broker_auth": render_broker_auth(acl),
        "proxy_auth": render_proxy_auth(acl),
        "tools_yml_content": render_tools_yml(acl),
    }
    if any(rendering.HEREDOC in content for content in files.values()):
        raise ValueError("an ACL credentials file would end its here-document early")
    return rendering.render(
        "acl-credentials.sh.j2",
        host_label=host_label,
        broker_auth_conf=BROKER_AUTH_CONF,
        proxy_auth_conf=PROXY_AUTH_CONF,
        tools_yml=TOOLS_YML,
        mqadmin_home=MQADMIN_HOME,
        mqadmin_conf_dir=f"{MQADMIN_HOME}/conf",
        heredoc=rendering.HEREDOC,
        **files,
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
