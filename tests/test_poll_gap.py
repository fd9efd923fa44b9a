"""The poller decides STALE and tells the incident: a poll that hangs past
the limit is a data gap in the journal (and on the timeline), as a failed
poll is, and its late answer ends the gap."""

from __future__ import annotations

import threading

import pytest

from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.incident.journal import Journal
from console.incident.store import EventKind
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.ui.app import CBConsoleApp
from screenshots.scenes import START
from tests.democonsole import polls
from tests.screen import screen_text, settle, wait_until

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def kinds(journal) -> list[EventKind]:
    return [e.kind for e in journal.events]


async def test_a_poll_that_hangs_past_the_limit_is_a_data_gap_in_the_incident(tmp_path):
    clock = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=clock)
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=clock)
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=IncidentTracker(journal, TrackerConfig()),
        poll_interval=2.0, clock=clock, sleep=clock.advance,
    )
    release = threading.Event()
    answer = fleet.poll
    async with app.run_test(size=(140, 40)) as pilot:
        await polls(app, pilot, clock, 20)
        assert journal.is_open, "the demo's outage opened no incident"
        await settle(app, pilot)
        fleet.poll = lambda: release.wait(60) and answer()  # answers once released
        app.action_poll_now()
        await wait_until(pilot, lambda: app.poller.state.started_at is not None, "a poll hangs")
        assert EventKind.DATA_GAP not in kinds(journal)
        clock.advance(10)  # over three 2 s intervals without an answer
        await wait_until(pilot, lambda: EventKind.DATA_GAP in kinds(journal),
                         "the hung poll recorded as a data gap")
        await pilot.press("4")
        await wait_until(pilot, lambda: "Data gap: no answer from the source for" in
                         screen_text(app), "the gap on the timeline")
        release.set()
        await wait_until(pilot, lambda: EventKind.DATA_BACK in kinds(journal),
                         "the late answer ends the gap")
        assert kinds(journal).count(EventKind.DATA_GAP) == 1
        await settle(app, pilot)
