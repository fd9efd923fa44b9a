"""The console on real Alertmanagers, as the issue-19 tests build it: one
Alertmanager and the Prometheus that sends it CircuitBreakerOpen (a module's
fixture, each test starting with no silence), the overlay source, alice's
journal, and what the tests read off the screen."""

from __future__ import annotations

import pytest

from console.incident.journal import Journal
from console.incident.tracker import IncidentTracker
from console.mitigations.plan import Mode
from console.mitigations.silence import SilenceSettings
from console.sources.alertmanager import Alertmanagers, PagerOverlay
from console.sources.prometheus.http import PromClient
from console.sources.prometheus.source import PrometheusSource
from console.ui.app import CBConsoleApp
from tests.alertmanager import SERVICE, Alertmanager, breaker_fleet
from tests.screen import flat, row, wait_until
from widgets.board import BreakerBoard


@pytest.fixture(scope="module")
def single():
    """One Alertmanager and the Prometheus that sends it CircuitBreakerOpen."""
    manager = Alertmanager().wait_ready()
    fleet = breaker_fleet([manager])
    try:
        ex, backend = next(fleet)
        yield manager, backend
    finally:
        fleet.close()
        manager.stop()


@pytest.fixture
def am(single):
    manager, backend = single
    manager.expire_all()  # each test starts with no silence in force
    yield manager, backend
    manager.expire_all()


def overlay(backend, urls) -> PagerOverlay:
    source = PrometheusSource(backend.url, backfill_minutes=0)
    return PagerOverlay(source, Alertmanagers(urls), rules_client=PromClient(backend.url))


def console(tmp_path, backend, manager, mode=Mode.LIVE, *, urls: list[str] | None = None,
            journal=None, **kw) -> CBConsoleApp:
    """alice's console on `manager` (or on the members `urls`, an HA pair);
    `journal`: another than alice's own in tmp_path/state (a followed one)."""
    journal = journal or Journal.open_or_resume(tmp_path / "state", actor="alice")
    source = overlay(backend, urls or [manager.url])
    settings = SilenceSettings(port=source.managers, length_s=3600, url=manager.url)
    return CBConsoleApp(source, tracker=IncidentTracker(journal), mode=mode,
                        poll_interval=0.5, silence=settings, **kw)


def header(app) -> str:
    return flat(str(app.query_one("#status").content))


def board_row(app) -> str:
    return row(app.query_one(BreakerBoard), SERVICE)


async def firing(app, pilot) -> None:
    await wait_until(pilot, lambda: "FIRING" in board_row(app),
                     "payment-api FIRING on the board, from Alertmanager", 60)
    await wait_until(pilot, lambda: app.tracker.is_open, "the incident open", 60)
