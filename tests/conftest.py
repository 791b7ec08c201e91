"""Fixtures every unit test shares."""

from __future__ import annotations

import pytest

from components import local_fleet


@pytest.fixture(autouse=True)
def _local_preflight_passes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests run the program under mocks anywhere: not necessarily as root, nor with
    systemd-nspawn and debootstrap installed (target local's preflight). The e2e suite checks
    the real preflight."""
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.setattr(local_fleet, "preflight_problem", lambda: None)
