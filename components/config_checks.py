"""The value checks the stack config parser is built from: each takes the key and the raw value,
and returns the value in its typed form or raises one ConfigError naming the key."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

NAMESPACE = "rocketmq"

# Plain characters only: values land in config files and shell scripts.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:;/@+=%-]*$")
_SAFE_VALUE_TEXT = "letters, digits and _ . , : ; / @ + = % -"
_HEAP = re.compile(r"^([1-9][0-9]{0,5})([mMgG])$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class ConfigError(ValueError):
    """A stack config value that cannot be used; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = f"{NAMESPACE}:{key}" if ":" not in key else key
        super().__init__(f"{self.key}: {message}")


def structured(key: str, raw: Any) -> Any:
    """Pulumi hands objects and lists over as JSON text."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith(("{", "[")):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(key, f"is not valid JSON/YAML structure ({exc.msg})") from None
    return raw


def integer(key: str, raw: Any, minimum: int, maximum: int) -> int:
    value: int
    if isinstance(raw, bool):
        raise ConfigError(key, f"must be a whole number from {minimum} to {maximum}, got {raw!r}")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
        value = int(raw.strip())
    else:
        raise ConfigError(key, f"must be a whole number from {minimum} to {maximum}, got {raw!r}")
    if not minimum <= value <= maximum:
        raise ConfigError(key, f"must be a whole number from {minimum} to {maximum}, got {value}")
    return value


def boolean(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ConfigError(key, f"must be true or false, got {raw!r}")


def choice(key: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(raw, str) or raw not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}; got {raw!r}")
    return raw


def pattern(key: str, raw: Any, regex: re.Pattern[str], what: str) -> str:
    if not isinstance(raw, str) or not regex.fullmatch(raw):
        raise ConfigError(key, f"must be {what}; got {raw!r}")
    return raw


def string_list(key: str, raw: Any, item_check: Callable[[str, str], str]) -> tuple[str, ...]:
    value = structured(key, raw)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list; got {raw!r}")
    return tuple(item_check(f"{key}[{i}]", item) for i, item in enumerate(value))


def cidr(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ConfigError(key, f"must be an IPv4 CIDR such as 203.0.113.0/24; got {raw!r}")
    try:
        return str(ipaddress.IPv4Network(raw, strict=True))
    except ValueError:
        raise ConfigError(key, f"must be an IPv4 CIDR such as 203.0.113.0/24; got {raw!r}") from None


def address(key: str, raw: Any) -> str:
    if isinstance(raw, str):
        try:
            return str(ipaddress.ip_address(raw))
        except ValueError:
            if _HOSTNAME.fullmatch(raw):
                return raw
    raise ConfigError(key, f"must be an IP address or DNS name; got {raw!r}")


def ipv4(key: str, raw: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(raw))
    except ValueError:
        raise ConfigError(key, f"must be an IPv4 address (brokers advertise it as brokerIP1); got {raw!r}") from None


def heap(key: str, raw: Any) -> str | None:
    if raw is None or raw == "auto":
        return None
    match = _HEAP.fullmatch(raw) if isinstance(raw, str) else None
    if not match:
        raise ConfigError(key, f"must be 'auto' or a JVM size such as 512m or 2g; got {raw!r}")
    amount, unit = int(match.group(1)), match.group(2).lower()
    megabytes = amount * (1024 if unit == "g" else 1)
    if megabytes < 64:
        raise ConfigError(key, f"must be at least 64m; got {raw!r}")
    return f"{amount}{unit}"


def safe_value(key: str, raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    if not isinstance(raw, str) or not _SAFE_VALUE.fullmatch(raw):
        raise ConfigError(key, f"may only contain {_SAFE_VALUE_TEXT}; got {raw!r}")
    return raw
