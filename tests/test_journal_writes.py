"""Journal writes never block the event loop: with a disk that hangs on a
write, keys still answer, "recorded" is said only once the event is on disk,
and the events land in the order they were made."""

from __future__ import annotations

import pytest

import threading

from textual.widgets import TabbedContent

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import Journal, append_durably
from console.incident.store import EventKind, load_incident
from screenshots.scenes import START
from tests.screen import keep_notifications, quiesce, wait_until
from tests.democonsole import polls, type_text

pytestmark = pytest.mark.ui

HANG_S = 20.0  # a write hangs this long at most: the old code blocked the loop for it


class HangingDisk:
    """The journal's writer (its public seam), appending as the console does,
    except that while `gate` is closed each write hangs until it opens."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.hanging = threading.Event()  # a write is waiting for the gate
        self.gave_up = False  # the gate never opened: the hang ran out

    def __call__(self, path, data: bytes) -> None:
        if not self.gate.is_set():
            self.hanging.set()
            if not self.gate.wait(HANG_S):
                self.gave_up = True
        append_durably(path, data)


async def test_keys_answer_while_a_journal_write_hangs_and_events_land_in_order(tmp_path):
    disk = HangingDisk()
    clock = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=clock)
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=clock, writer=disk)
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=10))
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=tracker, poll_interval=3600, clock=clock,
        sleep=clock.advance,
    )
    shown = keep_notifications(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await polls(app, pilot, clock, 20)
        assert journal.is_open
        await wait_until(pilot, lambda: not journal.pending, "the incident on disk")

        disk.gate.clear()  # the disk hangs from now on
        await pilot.press("a")
        await wait_until(pilot, disk.hanging.is_set, "the acknowledgement's write hanging")
        await pilot.press("4")  # the timeline pane, while the write hangs
        panes = app.query_one("#panes", TabbedContent)
        await wait_until(pilot, lambda: panes.active == "timeline", "the 4 key answered")
        await pilot.press("n")
        await type_text(pilot, "behind the ack")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(e.kind == EventKind.NOTE for e in journal.events),
                         "the note taken")
        assert not disk.gave_up, "the keys waited for the hanging write"
        # Nothing is said recorded that is not on disk yet.
        assert not any("recorded" in m for m in shown), shown

        disk.gate.set()
        await wait_until(pilot, lambda: "Acknowledged: recorded" in shown
                         and "Note: recorded" in shown, "both said recorded once written")
        await quiesce(app, pilot)

    on_disk = load_incident(tmp_path / "state", journal.incident_id).events
    assert [e.id for e in on_disk] == list(range(1, len(on_disk) + 1))  # in order, none lost
    kinds = [e.kind for e in on_disk]
    assert kinds.index(EventKind.ACKNOWLEDGED) < kinds.index(EventKind.NOTE)
    assert [e.id for e in on_disk] == [e.id for e in journal.events]
