"""Where rocketmq:acl (RocketMQ's ACL 2.0) puts its settings on the hosts: the broker and proxy
settings without secrets, and the files that hold the admin's password. Rendered by
components/rendering.py (broker.conf, proxy.json, the start script, mqadmin) and
components/acl_rendering.py (the credentials and users scripts)."""

from __future__ import annotations

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


def broker_auth_properties(enforced: bool) -> dict[str, str]:
    """broker.conf's ACL settings; unenforced (acl: prepare), both checks off."""
    return AUTH_BROKER_PROPERTIES | ({} if enforced else dict.fromkeys(ACL_CHECKS, "false"))


def proxy_auth_settings(enforced: bool) -> dict[str, str | bool]:
    """A proxy's ACL settings; unenforced (acl: prepare), both checks off."""
    return AUTH_PROXY_SETTINGS | ({} if enforced else dict.fromkeys(ACL_CHECKS, False))


# mqadmin reads <rocketmq.home.dir>/conf/tools.yml for the key it signs with; the program's
# wrapper points it here when the file exists (templates/mqadmin.sh.j2).
MQADMIN_HOME = "/etc/rocketmq/mqadmin"
TOOLS_YML = f"{MQADMIN_HOME}/conf/tools.yml"
