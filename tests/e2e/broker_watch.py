"""Watches TCP ports until its stdin closes: prints `DOWN <ms> <addr,...|->` each time the set of
addresses that refuse a connection changes. Run inside the test network (python3 port_watch.py
ADDR:PORT ...), it sees a broker restart that one clusterList sample (a JVM start) can miss."""

from __future__ import annotations

import select
import socket
import sys
import time

INTERVAL_SECONDS = 0.2
CONNECT_TIMEOUT_SECONDS = 0.5


def refuses(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS):
            return False
    except OSError:
        return True


def main(addresses: list[str]) -> None:
    started = time.monotonic()
    last: list[str] | None = None
    while True:
        down = [a for a in addresses if refuses(a)]
        if down != last:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            print(f"DOWN {elapsed_ms} {','.join(down) or '-'}", flush=True)
            last = down
        readable, _, _ = select.select([sys.stdin], [], [], INTERVAL_SECONDS)
        if readable and not sys.stdin.readline():
            return


if __name__ == "__main__":
    main(sys.argv[1:])
