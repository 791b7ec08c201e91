"""Watches brokers from inside the test network until its stdin closes, two ways, and prints a
line each time what it sees changes:

    DOWN <ms> <addr,...|->            broker ports that refuse a connection (every 0.2 s: it sees a
                                      restart that one registration sample can miss)
    MISSING <ms> <name@addr,...|->    expected brokers that no name server lists

For MISSING it asks the name servers in turn with the program's own cluster-info (clusterList's
request); a name server's latest answer counts, and none counts before every one has answered (a
name server that has just restarted knows a broker only from its next registration). One process
for the whole change: no ssh, no JVM per sample.

    python3 broker_watch.py CLUSTER_INFO NAMESRV[;NAMESRV...] NAME@ADDR:PORT ...
"""

from __future__ import annotations

import importlib.machinery
import itertools
import select
import socket
import sys
import time
from types import ModuleType

INTERVAL_SECONDS = 0.2
CONNECT_TIMEOUT_SECONDS = 0.5


def load_cluster_info(path: str) -> ModuleType:
    """The program's cluster-info script (templates/cluster-info.py.j2, rendered) as a module."""
    loader = importlib.machinery.SourceFileLoader("cluster_info", path)
    module = ModuleType(loader.name)
    loader.exec_module(module)
    return module


def refuses(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS):
            return False
    except OSError:
        return True


def main(cluster_info_path: str, namesrv_addr: str, expected: list[str]) -> None:
    cluster_info = load_cluster_info(cluster_info_path)
    addresses = sorted({broker.split("@", 1)[1] for broker in expected})
    name_servers = [ns for ns in namesrv_addr.split(";") if ns]
    latest: dict[str, set[str]] = {}
    started = time.monotonic()
    shown: dict[str, str] = {}

    def show(kind: str, items: list[str]) -> None:
        text = ",".join(sorted(items)) or "-"
        if shown.get(kind) != text:
            print(f"{kind} {int((time.monotonic() - started) * 1000)} {text}", flush=True)
            shown[kind] = text

    for turn in itertools.count():
        show("DOWN", [a for a in addresses if refuses(a)])
        name_server = name_servers[turn % len(name_servers)]
        try:
            rows = cluster_info.rows(cluster_info.cluster_info(name_server))
            latest[name_server] = {f"{name}@{endpoint}" for _, name, _, endpoint in rows}
        except (OSError, ValueError):
            pass  # no answer: a name server restarting, not every broker down
        if len(latest) == len(name_servers):
            show("MISSING", [b for b in expected if not any(b in known for known in latest.values())])
        readable, _, _ = select.select([sys.stdin], [], [], INTERVAL_SECONDS)
        if readable and not sys.stdin.readline():
            return


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
