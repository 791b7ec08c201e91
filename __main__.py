"""Stands up an Apache RocketMQ cluster: stack config -> typed config -> plan -> resources -> outputs."""

import pulumi

from components.cluster import deploy
from components.config_checks import NAMESPACE, ConfigError
from components.stack_config import load_cluster_config

try:
    cluster_config = load_cluster_config()
except ConfigError as error:
    # One clear line, no traceback, before any resource is registered.
    raise pulumi.RunError(str(error)) from None

# target local makes its own key pair; the others need the stack's.
private_key = None if cluster_config.target == "local" else pulumi.Config(NAMESPACE).require_secret("sshPrivateKey")
outputs = deploy(cluster_config, private_key)
for export_name, value in outputs.as_exports().items():
    pulumi.export(export_name, value)
