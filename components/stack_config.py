"""Reads the `rocketmq:` stack config from the Pulumi runtime and validates it."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import config as runtime_config

from components.config import parse_config
from components.config_checks import NAMESPACE
from components.config_model import ClusterConfig


def read_raw_config() -> dict[str, Any]:
    """Every `rocketmq:*` key the stack sets, so mistyped keys can be refused too."""
    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return {key: value for key, value in values.items() if key.startswith(f"{NAMESPACE}:")}


def load_cluster_config() -> ClusterConfig:
    raw = read_raw_config()
    secret_keys = frozenset(key for key in raw if runtime_config.is_config_secret(key))
    return parse_config(raw, secret_keys=secret_keys)
