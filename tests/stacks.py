"""Stack configs the tests share: one valid stack per mode and target."""

from __future__ import annotations

import json
from typing import Any

from tests.pulumi_harness import PRIVATE_KEY, PUBLIC_KEY

# Access control is on by default on aws and hosts (tests/test_acl.py); the shared stacks test
# other things, so they turn it off as a user may.
ACL_OFF = {"acl": False}
MODES = ("single-master", "multi-master", "master-slave-async", "master-slave-sync", "master-slave-auto")
# The modes whose plan says which broker is master (in master-slave-auto the controllers elect it).
FIXED_ROLE_MODES = tuple(m for m in MODES if m != "master-slave-auto")


def aws_stack(mode: str, **overrides: Any) -> dict[str, Any]:
    stack: dict[str, Any] = {
        "mode": mode,
        "target": "aws",
        "sshPrivateKey": PRIVATE_KEY,
        "sshPublicKey": PUBLIC_KEY,
        "sshCidrs": json.dumps(["203.0.113.0/24"]),
        "clientCidrs": json.dumps(["198.18.0.0/15"]),
        **ACL_OFF,
    }
    stack.update(overrides)
    return stack


# The guide's peers: name servers colocated with brokers where the mode has enough brokers.
# A name server list as brokers and tools get it.
NAMESRV = "10.0.0.1:9876;10.0.0.2:9876;10.0.0.3:9876"

HOSTS_BY_MODE: dict[str, list[dict[str, Any]]] = {
    "single-master": [
        {"name": "peer1", "address": "192.0.2.11", "nameServer": True, "broker": "broker-a/0"},
    ],
    "multi-master": [
        {"name": "peer1", "address": "192.0.2.11", "nameServer": True, "broker": "broker-a/0"},
        {"name": "peer2", "address": "192.0.2.12", "nameServer": True, "broker": "broker-b/0"},
        {"name": "peer3", "address": "192.0.2.13", "nameServer": True},
    ],
    "master-slave-async": [
        {"name": "peer1", "address": "192.0.2.11", "nameServer": True, "broker": "broker-a/0"},
        {"name": "peer2", "address": "192.0.2.12", "nameServer": True, "broker": "broker-b/0"},
        {"name": "peer3", "address": "192.0.2.13", "nameServer": True, "broker": "broker-a/1"},
        {"name": "peer4", "address": "192.0.2.14", "privateAddress": "10.0.0.14", "broker": "broker-b/1"},
    ],
    # Controllers in the three name servers elect each group's master.
    "master-slave-auto": [
        {"name": "peer1", "address": "192.0.2.11", "nameServer": True, "broker": "broker-a/0"},
        {"name": "peer2", "address": "192.0.2.12", "nameServer": True, "broker": "broker-b/0"},
        {"name": "peer3", "address": "192.0.2.13", "nameServer": True, "broker": "broker-a/1"},
        {"name": "peer4", "address": "192.0.2.14", "privateAddress": "10.0.0.14", "broker": "broker-b/1"},
    ],
    "master-slave-sync": [
        {"name": "peer1", "address": "192.0.2.11", "nameServer": True},
        {"name": "peer2", "address": "192.0.2.12", "nameServer": True},
        {"name": "peer3", "address": "192.0.2.13", "nameServer": True},
        {"name": "peer4", "address": "192.0.2.14", "broker": "broker-a/0", "user": "deploy"},
        {"name": "peer5", "address": "192.0.2.15", "broker": "broker-a/1", "port": 2222},
        {"name": "peer6", "address": "192.0.2.16", "broker": "broker-b/0"},
        {"name": "peer7", "address": "192.0.2.17", "broker": "broker-b/1"},
    ],
}
# master-slave-auto on the guide's peers, and two hosts that run only a controller; peer4 runs one
# beside its broker.
HOSTS_WITH_CONTROLLERS: list[dict[str, Any]] = [
    *HOSTS_BY_MODE["master-slave-auto"][:3],
    {**HOSTS_BY_MODE["master-slave-auto"][3], "controller": True},
    {"name": "ctl1", "address": "192.0.2.21", "controller": True},
    {"name": "ctl2", "address": "192.0.2.22", "controller": True},
]

NAME_SERVERS_BY_MODE = {
    "single-master": 1,
    "multi-master": 3,
    "master-slave-async": 3,
    "master-slave-sync": 3,
    "master-slave-auto": 3,
}


# The host key every test host shows (target hosts pins one per host).
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBNNOkR4zmujKde0/2rNgUrSouM9lOmMvCGETAUXnKUP"


def hosts_stack(
    mode: str, hosts: list[dict[str, Any]] | None = None, *, pin_host_keys: bool = True, **overrides: Any
) -> dict[str, Any]:
    """The mode's hosts (or `hosts`), each with HOST_KEY pinned unless it has a hostKey of its own
    or `pin_host_keys` is False."""
    entries = [dict(h) for h in (HOSTS_BY_MODE[mode] if hosts is None else hosts)]
    if pin_host_keys:
        entries = [{"hostKey": HOST_KEY, **h} for h in entries]
    stack: dict[str, Any] = {
        "mode": mode,
        "target": "hosts",
        "sshPrivateKey": PRIVATE_KEY,
        "hosts": json.dumps(entries),
        **ACL_OFF,
    }
    stack.update(overrides)
    return stack


def local_stack(mode: str, **overrides: Any) -> dict[str, Any]:
    """target local: the program makes its own machines and key, so no key or hosts are given."""
    stack: dict[str, Any] = {"mode": mode, "target": "local", "nameServerHeap": "128m", "brokerHeap": "256m"}
    stack.update(overrides)
    return stack
