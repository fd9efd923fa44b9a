"""The console on the demo fleet, on the scene's fake clock, as the incident
and layout tests build and drive it."""

from __future__ import annotations

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import Journal
from screenshots.scenes import START
from tests.screen import wait_until

SMALL = (80, 24)
POLL_S = 2.0


def build(tmp_path, gate=None):
    """The incident tests' console: alice's journal, recovery held 10 s."""
    clock = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=clock)
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=clock)
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=10))
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=tracker, export_dir=tmp_path / "exports",
        poll_interval=3600, clock=clock, sleep=gate.bind(clock) if gate else clock.advance,
    )
    return app, clock, journal


def demo_app(tmp_path):
    """The layout tests' console: the tracker's default config."""
    clock = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=clock)
    journal = Journal.open_or_resume(tmp_path / "state", actor="oncall", clock=clock)
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=IncidentTracker(journal),
        poll_interval=3600, clock=clock, sleep=clock.advance,
    )
    return app, clock


async def polls(app, pilot, clock, seconds: float) -> None:
    """`seconds` of the scene's time, a poll every POLL_S, each one landed."""
    for _ in range(int(seconds // POLL_S)):
        clock.advance(POLL_S)
        app.poller.start()
        await app.workers.wait_for_complete()
        await pilot.pause()


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


async def incident_on_screen(app, pilot, clock) -> None:
    """payment-api OPEN (the demo's outage) and selected; the footer is up."""
    await app.workers.wait_for_complete()
    await polls(app, pilot, clock, 42)
    board = app.query_one("#board")
    board.move_cursor(row=board.get_row_index("payment-api"))
    await wait_until(pilot, lambda: app.query("Footer"), "the footer is mounted")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def until_recovered(app, pilot, clock, journal, service: str = "payment-api",
                          polls_at_most: int = 90) -> None:
    """Poll until the journal records `service` recovered (OPEN -> HALF-OPEN
    -> CLOSED, then held)."""
    from console.incident.store import EventKind

    for _ in range(polls_at_most):
        await polls(app, pilot, clock, POLL_S)
        if any(e.kind == EventKind.SERVICE_RECOVERED and e.service == service
               for e in journal.events):
            return
    raise AssertionError(f"{service} never recorded as recovered")
