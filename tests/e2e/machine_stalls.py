"""Times when this whole machine stood still, seen from a thread of the test process.

A virtual machine paused by its host (a snapshot: the kernel logs "crng reseeded due to virtual
machine fork" when it resumes) stops the test hosts, their brokers, the clients and the engine
together, then lets the wall clock jump forward. A send in flight then times out with nothing in
the cluster at fault: the checks of a change name such pauses, and excuse only what fell within one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

TICK_SECONDS = 0.25
# A tick this late is not scheduling on a busy machine (two cores, a few JVMs: under a second).
STALL_SECONDS = 5.0


@dataclass(frozen=True)
class Stall:
    """Wall-clock seconds (time.time) of the last tick before the machine stood still, and of the
    first one after."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def covers(self, first: float, last: float, *, after: float) -> bool:
        """Whether [first, last] lies within the stall or the ``after`` seconds that follow it."""
        return self.start <= first and last <= self.end + after


class MachineStalls:
    """Ticks every TICK_SECONDS inside the ``with`` block; ``stalls`` holds each tick that came
    STALL_SECONDS or more late, by the wall clock or the monotonic one (whichever jumped)."""

    def __init__(self) -> None:
        self.stalls: list[Stall] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="machine-stalls", daemon=True)

    def __enter__(self) -> MachineStalls:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tick(self) -> None:
        wall, mono = time.time(), time.monotonic()
        while not self._stop.wait(TICK_SECONDS):
            now_wall, now_mono = time.time(), time.monotonic()
            if max(now_wall - wall, now_mono - mono) - TICK_SECONDS >= STALL_SECONDS:
                self.stalls.append(Stall(wall, now_wall))
            wall, mono = now_wall, now_mono
