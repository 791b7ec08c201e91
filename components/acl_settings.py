"""Where rocketmq:acl puts its settings on the hosts: the broker and proxy settings without
secrets, and the files that hold passwords (RocketMQ's ACL 2.0 on 5.3.0 and later; ACL 1.0, one
plain_acl.yml per broker host, on 4.9.x). Rendered by components/rendering.py (broker.conf,
proxy.json, the start script, mqadmin) and components/acl_rendering.py (the credentials and users
scripts)."""

from __future__ import annotations

from components.config_model import AclSettings

# The ACL 2.0 settings without secrets, in broker.conf.
# Local providers: users and grants live in each broker's own store (RocksDB under
# <storePath>/config), as in RocketMQ's ACL 2.0 guide.
# rocketmq:acl prepare keeps the providers (so users and grants can be made) with both checks off.
ACL_CHECKS = ("authenticationEnabled", "authorizationEnabled")
AUTH_BROKER_PROPERTIES: dict[str, str] = {
    "authenticationEnabled": "true",
    "authenticationProvider": "org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider",
    "authenticationMetadataProvider": (
        "org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider"
    ),
    "authorizationEnabled": "true",
    "authorizationProvider": "org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider",
    "authorizationMetadataProvider": (
        "org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider"
    ),
}
# The broker settings that hold the admin's password (initAuthenticationUser,
# innerClientAuthenticationCredentials), in a file of their own.
BROKER_AUTH_CONF = "/etc/rocketmq/broker-auth.conf"
# A proxy checks clients against the users and grants its brokers keep, and shows the brokers the
# admin's credentials (innerClientAuthenticationCredentials, in a file of their own too).
AUTH_PROXY_SETTINGS: dict[str, str | bool] = {
    "authenticationEnabled": True,
    "authenticationProvider": AUTH_BROKER_PROPERTIES["authenticationProvider"],
    "authenticationMetadataProvider": "org.apache.rocketmq.proxy.auth.ProxyAuthenticationMetadataProvider",
    "authorizationEnabled": True,
    "authorizationProvider": AUTH_BROKER_PROPERTIES["authorizationProvider"],
    "authorizationMetadataProvider": "org.apache.rocketmq.proxy.auth.ProxyAuthorizationMetadataProvider",
    # A proxy of its own signs what it asks of the brokers only with this on (5.4.0's ProxyConfig).
    "enableAclRpcHookForClusterMode": True,
}
PROXY_AUTH_CONF = "/etc/rocketmq/proxy-auth.json"


# ACL 1.0 (4.9.x): the users, their grants and the addresses let in unchecked, in one file per
# broker host that the brokers read again by themselves (every 5 s, by its modification time).
PLAIN_ACL_FILE = "/etc/rocketmq/plain_acl.yml"  # found through rendering.PLAIN_ACL_FILE_OPTION
# 4.9.x logs every line of plain_acl.yml, secret keys included, at INFO to this logger each time it
# loads the file; with ACL 1.0 the release's broker logging keeps it to warnings.
ACL1_CHATTY_LOGGER = "RocketmqCommon"


def broker_auth_properties(acl: AclSettings) -> dict[str, str]:
    """broker.conf's ACL settings; unenforced (acl: prepare), every check off."""
    if acl.model == 1:
        return {"aclEnable": "true" if acl.enforced else "false"}
    return AUTH_BROKER_PROPERTIES | ({} if acl.enforced else dict.fromkeys(ACL_CHECKS, "false"))


def proxy_auth_settings(enforced: bool) -> dict[str, str | bool]:
    """A proxy's ACL settings; unenforced (acl: prepare), both checks off."""
    return AUTH_PROXY_SETTINGS | ({} if enforced else dict.fromkeys(ACL_CHECKS, False))


# mqadmin reads <rocketmq.home.dir>/conf/tools.yml for the key it signs with; the program's
# wrapper points it here when the file exists (templates/mqadmin.sh.j2).
MQADMIN_HOME = "/etc/rocketmq/mqadmin"
TOOLS_YML = f"{MQADMIN_HOME}/conf/tools.yml"
# ACL 2.0: the admins a broker host's mqadmin signed as before a move to another admin
# (components/acl_admin_rotation.py), to be deleted from its broker once no service signs as them.
FORMER_ADMINS = "/etc/rocketmq/acl-former-admins"
