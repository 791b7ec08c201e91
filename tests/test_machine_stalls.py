"""The e2e checks excuse a failed send only when this whole machine stood still around it
(tests/e2e/machine_stalls.py): a paused VM is seen, a busy one is not, and a send that failed
away from a pause still fails the check."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.e2e import machine_stalls
from tests.e2e.machine_stalls import MachineStalls, Stall
from tests.e2e.traffic import STEADY_SEND_TIMEOUT_SECONDS, ChangeUnderTraffic, SteadyResult


class _JumpingClock:
    """time.time and time.monotonic as a machine paused for ``jump`` seconds sees them: both leap
    forward together from the ``at``-th tick on (a tick reads time.time first)."""

    def __init__(self, jump: float, at: int) -> None:
        self._jump, self._at, self._ticks = jump, at, 0

    def time(self) -> float:
        self._ticks += 1
        return time.time() + self._offset()

    def monotonic(self) -> float:
        return time.monotonic() + self._offset()

    def _offset(self) -> float:
        return self._jump if self._ticks >= self._at else 0.0


def _watch(monkeypatch: pytest.MonkeyPatch, clock: object, seconds: float) -> list[Stall]:
    monkeypatch.setattr(machine_stalls, "time", clock)
    with MachineStalls() as watch:
        time.sleep(seconds)
    return watch.stalls


def test_a_pause_is_seen_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stalls = _watch(monkeypatch, _JumpingClock(jump=73, at=6), 1.5)
    assert len(stalls) == 1
    assert 73 <= stalls[0].seconds < 75


def test_ticks_on_time_are_no_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _watch(monkeypatch, time, 1.0) == []


def _change(failed: int, first: float, last: float, stalls: list[Stall]) -> ChangeUnderTraffic:
    traffic = SteadyResult(
        sent=100,
        acked=100 - failed,
        not_ok=0,
        failed=failed,
        received=100 - failed,
        lost=0,
        duplicates=0,
        failed_first_ms=int(first * 1000),
        failed_last_ms=int(last * 1000),
        output="STEADY ...",
    )
    up = subprocess.CompletedProcess[str]([], 0, "", "")
    return ChangeUnderTraffic("change", up, 60.0, traffic, 1, [set()], [set()], stalls)


def test_a_send_that_failed_just_after_a_pause_is_excused() -> None:
    pause = Stall(1000.0, 1073.0)
    change = _change(1, 1078.0, 1078.0, [pause])  # the case of a CI run: 5 s after the machine resumed
    assert change.failed_in_a_stall
    change.check(most_down=1)
    assert "this machine stood still 73s" in str(change)


def test_a_send_that_failed_away_from_a_pause_fails_the_check() -> None:
    pause = Stall(1000.0, 1073.0)
    late = 1073.0 + STEADY_SEND_TIMEOUT_SECONDS + 30
    for change in (_change(1, late, late, [pause]), _change(2, 990.0, 1010.0, [pause]), _change(1, 1010, 1010, [])):
        assert not change.failed_in_a_stall
        with pytest.raises(AssertionError):
            change.check(most_down=1)
