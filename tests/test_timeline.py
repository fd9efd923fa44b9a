"""The timeline pane (4) as the operator reads it: newest at the bottom and
followed, a flapper's transitions folded to a line per service and minute
(Enter expands one), operator events and actions never folded, visible at
80x24. The journal keeps every event: the fold is only a view."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.incident.store import EventKind
from tests.democonsole import SMALL, demo_app, incident_on_screen, polls
from tests.screen import screen_text, wait_until
from widgets import timeline
from widgets.timeline import TimelineRow

pytestmark = pytest.mark.ui

T0 = datetime(2026, 11, 27, 10, 41, 0, tzinfo=timezone.utc)


def transition(at, service="inventory-svc", state="OPEN"):
    return TimelineRow(at=at, offset="", kind="breaker_transition", service=service,
                       text=f"{service} pod: X -> {state}", state=state)


def test_a_flappers_minute_folds_into_one_line_with_its_counts():
    states = ["OPEN", "HALF-OPEN", "CLOSED"] * 4 + ["OPEN", "HALF-OPEN"]
    rows = [transition(T0 + timedelta(seconds=4 * i), state=s) for i, s in enumerate(states)]
    folded = timeline.fold(rows)
    assert len(folded) == 1 and isinstance(folded[0], timeline.FoldedRow)
    assert folded[0].text == "inventory-svc: 14 transitions (OPEN 5, HALF-OPEN 5, CLOSED 4)"
    assert folded[0].rows == tuple(rows)


def test_operator_events_and_actions_are_never_folded():
    rows = [transition(T0), transition(T0 + timedelta(seconds=1), state="HALF-OPEN")]
    ack = TimelineRow(at=T0 + timedelta(seconds=2), offset="", kind="acknowledged",
                      service=None, text="Acknowledged (oncall)")
    action = TimelineRow(at=T0 + timedelta(seconds=3), offset="", kind="action",
                         service="inventory-svc", text="Action restart on x: asked (oncall)")
    note = TimelineRow(at=T0 + timedelta(seconds=4), offset="", kind="note",
                       service=None, text="Note #9: flapping (oncall)")
    rows += [ack, action, note, transition(T0 + timedelta(seconds=5), state="CLOSED")]
    # Another minute, another service: lines of their own.
    rows += [transition(T0 + timedelta(seconds=70)), transition(T0 + timedelta(seconds=6), "pay")]
    folded = timeline.fold(rows)
    assert folded[1:4] == [ack, action, note]
    assert isinstance(folded[0], timeline.FoldedRow) and len(folded[0].rows) == 3
    assert folded[4:] == [rows[-2], rows[-1]]  # one transition is shown as it is


async def flapping_incident(app, pilot, clock, seconds=80):
    await incident_on_screen(app, pilot, clock)
    await pilot.press("a")
    await wait_until(pilot, lambda: app.journal.tracker.journal.first(EventKind.ACKNOWLEDGED), "acked")
    await polls(app, pilot, clock, seconds)
    await pilot.press("4")
    await wait_until(pilot, lambda: "AT (UTC)" in screen_text(app), "the timeline is shown")


def pane_lines(app) -> list[str]:
    lines = screen_text(app).splitlines()
    start = next(i for i, line in enumerate(lines) if "AT (UTC)" in line and "EVENT" in line)
    return lines[start + 1:]


@pytest.mark.slow
async def test_flapper_folded_ack_visible_newest_at_the_bottom(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await flapping_incident(app, pilot, clock)
        shown = pane_lines(app)
        text = "\n".join(shown)
        assert "Acknowledged (oncall)" in text, text
        assert "inventory-svc: " in text and " transitions (" in text and "▸" in text, text
        assert "inventory-svc checkout-" not in text, text  # no single flap shown
        # The newest event is the last line drawn.
        from console.incident import postmortem

        newest = max(app.journal.tracker.journal.events, key=lambda e: (e.at, e.id))
        drawn = [line for line in shown if line.strip() and "palette" not in line
                 and "Quit" not in line and "Escalate" not in line]
        if newest.kind == EventKind.BREAKER_TRANSITION:  # folded into its minute
            assert f"{newest.service}: " in drawn[-1] and "transitions" in drawn[-1], text
        else:
            assert postmortem.describe(newest) in drawn[-1], text
        # The journal still holds every transition.
        transitions = [e for e in app.journal.tracker.journal.events
                       if e.kind == EventKind.BREAKER_TRANSITION and e.service == "inventory-svc"]
        assert len(transitions) >= 30


@pytest.mark.slow
async def test_enter_expands_a_folded_minute(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await flapping_incident(app, pilot, clock)
        app.query_one(timeline.TimelineList).focus()
        await pilot.pause()
        for _ in range(40):  # up from the newest until a folded line opens
            await pilot.press("up", "enter")
            await pilot.pause()
            if "inventory-svc checkout-" in "\n".join(pane_lines(app)):
                break
        text = "\n".join(pane_lines(app))
        assert "inventory-svc checkout-" in text and "▾" in text, text
        await pilot.press("enter")
        await pilot.pause()
        assert "inventory-svc checkout-" not in "\n".join(pane_lines(app))


@pytest.mark.slow
async def test_timeline_shows_the_newest_at_80x24_and_follows(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await flapping_incident(app, pilot, clock, seconds=20)
        assert "Acknowledged (oncall)" in screen_text(app) or "transitions (" in screen_text(app)
        # A note written now is on screen at once, at the bottom.
        app.journal.record("Note", app.journal.tracker.note, "pool exhausted", clock())
        await wait_until(pilot, lambda: "pool exhausted" in screen_text(app), "the note is shown")


@pytest.mark.slow
async def test_scrolled_up_the_timeline_stays_put(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await flapping_incident(app, pilot, clock, seconds=40)
        listing = app.query_one(timeline.TimelineList)
        listing.focus()
        await pilot.pause()
        await pilot.press("home")
        await pilot.pause()
        before = [line[:60] for line in pane_lines(app)[:2]]  # not the scrollbar
        app.journal.record("Note", app.journal.tracker.note, "looking back", clock())
        await polls(app, pilot, clock, 10)
        await pilot.pause()
        assert [line[:60] for line in pane_lines(app)[:2]] == before
        assert "looking back" not in screen_text(app)
        # End follows again.
        await pilot.press("end")
        await wait_until(pilot, lambda: "looking back" in screen_text(app), "end shows the newest")
        app.journal.record("Note", app.journal.tracker.note, "and again", clock())
        await wait_until(pilot, lambda: "and again" in screen_text(app), "followed again")
