"""Stack config of what the brokers run: the release (`version`, `mirror`, `sha512`), `deleteWhen`,
and `brokerProperties` (what RocketMQ 5 adds, metrics and the proxy: components/config_rocketmq5.py).

Part of the config parser (components/config.py), which calls these; it builds on
components/config_checks.py.
"""

from __future__ import annotations

import re
from typing import Any

from components import config_checks as check
from components.config import _Reader
from components.config_checks import ConfigError
from components.config_model import DEFAULT_MIRROR, DEFAULT_VERSION, ReleaseSettings

# broker.conf keys the program derives itself; users may not override them.
MANAGED_BROKER_KEYS = frozenset(
    {
        "brokerClusterName",
        "brokerName",
        "brokerId",
        "brokerRole",
        "flushDiskType",
        "deleteWhen",
        "fileReservedTime",
        "namesrvAddr",
        "brokerIP1",
        "brokerIP2",
        "listenPort",
        "haListenPort",
        "storePathRootDir",
        "storePathCommitLog",
        # rocketmq:metrics and rocketmq:metricsPort
        "metricsExporterType",
        "metricsPromExporterHost",
        "metricsPromExporterPort",
        # master-slave-auto: the brokers' controllers are the name servers'
        "enableControllerMode",
        "controllerAddr",
        # rocketmq:acl (ACL 2.0; and 1.0's switch, which would take precedence)
        "authenticationEnabled",
        "authenticationProvider",
        "authenticationMetadataProvider",
        "authorizationEnabled",
        "authorizationProvider",
        "authorizationMetadataProvider",
        "initAuthenticationUser",
        "innerClientAuthenticationCredentials",
        "aclEnable",
    }
)

_PROPERTY_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,127}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_SHA512 = re.compile(r"^[0-9a-fA-F]{128}$")


def parse_delete_when(raw: Any) -> str:
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if isinstance(text, str) and re.fullmatch(r"\d{1,2}(;\d{1,2})*", text):
        hours = [int(h) for h in text.split(";")]
        if all(0 <= h <= 23 for h in hours):
            return ";".join(f"{h:02d}" for h in hours)
    raise ConfigError(
        "deleteWhen", f"must be hours of the day 00-23, several separated by ';' (e.g. 04 or 04;16); got {raw!r}"
    )


def parse_broker_properties(raw: Any) -> dict[str, str]:
    key = "brokerProperties"
    value = check.structured(key, raw)
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a map of broker.conf property names to values; got {raw!r}")
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _PROPERTY_KEY.fullmatch(name):
            raise ConfigError(
                key, f"property names must be letters, digits, _ or . starting with a letter; got {name!r}"
            )
        if name in MANAGED_BROKER_KEYS:
            raise ConfigError(
                key,
                f"{name!r} is managed by this program and cannot be set here; "
                f"managed keys: {', '.join(sorted(MANAGED_BROKER_KEYS))}",
            )
        if isinstance(item, dict | list) or item is None:
            raise ConfigError(f"{key}.{name}", f"must be a plain value (text, number or true/false); got {item!r}")
        result[name] = check.safe_value(f"{key}.{name}", item)
    return dict(sorted(result.items()))


def parse_release(r: _Reader) -> ReleaseSettings:
    version = r.get("version", DEFAULT_VERSION)
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if not match:
        raise ConfigError("version", f"must be a release number such as {DEFAULT_VERSION} or 4.9.7; got {version!r}")
    major, minor = int(match.group(1)), int(match.group(2))
    if not (major == 5 or (major, minor) == (4, 9)):
        raise ConfigError("version", f"must be a 5.x or 4.9.x release; got {version!r}")

    mirror = r.get("mirror", DEFAULT_MIRROR)
    if not isinstance(mirror, str) or not re.fullmatch(
        r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9_.~/%-]*)?", mirror
    ):
        raise ConfigError(
            "mirror",
            f"must be an http:// or https:// URL of an Apache-layout mirror (plain characters only); got {mirror!r}",
        )

    sha512 = r.get("sha512")
    if sha512 is not None:
        if not isinstance(sha512, str) or not _SHA512.fullmatch(sha512.replace(" ", "")):
            raise ConfigError("sha512", f"must be the 128 hex digits of the release zip's SHA-512; got {sha512!r}")
        sha512 = sha512.replace(" ", "").lower()
    return ReleaseSettings(version=version, mirror=mirror.rstrip("/"), sha512=sha512)
