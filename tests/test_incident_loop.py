"""The whole incident on the demo fleet, by keys (Pilot): open, acknowledge,
note, roll back (a restart keeps revision 14's fault), recovered, root cause, resolve, export. The exported
postmortem has each of the runbook's six timeline rows with its time."""

from __future__ import annotations

import re

import pytest

from console.incident.store import EventKind, load_incident
from tests.democonsole import POLL_S, build, polls, type_text, until_recovered
from tests.screen import flat, screen_text, wait_until
from widgets.confirm import ConfirmDialog
from widgets.prompts import RootCausePrompt, TextPrompt
from widgets.rollback import RevisionDialog

pytestmark = [pytest.mark.ui, pytest.mark.slow]

async def test_the_whole_loop_by_keys(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await polls(app, pilot, clock, 20)
        assert journal.is_open, "payment-api opened and no incident was opened"
        assert "acknowledge (a) within" in str(app.query_one("#status").content)

        await pilot.press("a")
        await pilot.pause()
        assert "acknowledged" in str(app.query_one("#status").content)

        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        await type_text(pilot, "pool exhausted since rev 14")
        await pilot.press("enter")
        await pilot.pause()

        board = app.query_one("#board")
        board.move_cursor(row=board.get_row_index("payment-api"))
        await wait_until(pilot, lambda: ("", "payment-api") in app.diagnosis.diagnoses, "its diagnosis")
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, RevisionDialog), "the dialog")
        assert app.screen.plan.deployment == "payment-api"
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()

        # The breaker recovers: OPEN -> HALF-OPEN -> CLOSED, then holds.
        await until_recovered(app, pilot, clock, journal, polls_at_most=60)

        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, RootCausePrompt)
        await type_text(pilot, "new pool settings in rev 14")
        await pilot.press("enter")
        await pilot.pause()

        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        await type_text(pilot, "rolled payment-api back to 13")
        await pilot.press("enter")
        await pilot.pause()
        assert not journal.is_open

        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()

    exported = list((tmp_path / "exports").glob("postmortem-*.md"))
    assert len(exported) == 1
    text = exported[0].read_text()
    assert "# Incident: Circuit Breaker Open - payment-api" in text
    for label in ("Alert fired", "On-call engineer acknowledged", "Root cause identified",
                  "Mitigation applied", "Service recovered", "Incident resolved"):
        assert re.search(rf"^- \d\d:\d\d:\d\d \(T[+-]\d\d:\d\d\) - {label}", text, re.M), label
    assert "new pool settings in rev 14" in text
    assert "recent deployment" in text  # preselected from the diagnosis' likely cause
    assert "rollback on shop/deployment/payment-api" in text

    # The journal on disk says the same, line by line, and nothing is pending.
    loaded = load_incident(tmp_path / "state", journal.incident_id)
    assert not loaded.problems
    assert [e.id for e in loaded.events] == [e.id for e in journal.events]
    kinds = {e.kind for e in loaded.events}
    assert {EventKind.ACKNOWLEDGED, EventKind.NOTE, EventKind.ACTION, EventKind.ROOT_CAUSE,
            EventKind.SERVICE_RECOVERED, EventKind.RESOLVED, EventKind.EXPORT} <= kinds


async def test_select_payment_api_u_y_and_the_breaker_recovers(tmp_path):
    """The issue's must-show: from the demo, select payment-api, `u`, `y`
    (the rollback to revision 13); its breaker goes HALF-OPEN and then CLOSED."""
    app, clock, _ = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await polls(app, pilot, clock, 20)
        board = app.query_one("#board")
        board.move_cursor(row=board.get_row_index("payment-api"))
        await pilot.pause()
        assert app.poller.snapshot.service("payment-api").state.label == "OPEN"
        await wait_until(pilot, lambda: ("", "payment-api") in app.diagnosis.diagnoses, "its diagnosis")
        keys = ["u", "y"]
        for key in keys:
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        seen = []
        for _ in range(60):
            await polls(app, pilot, clock, POLL_S)
            state = app.poller.snapshot.service("payment-api").state.label
            if not seen or seen[-1] != state:
                seen.append(state)
            if state == "CLOSED":
                break
        assert seen[-1] == "CLOSED", seen
        # The probe may pass between two polls: the transitions show HALF-OPEN.
        moves = [(t.from_state.label, t.to_state.label)
                 for t in reversed(app.poller.history.transitions("payment-api"))]
        assert ("OPEN", "HALF-OPEN") in moves and ("HALF-OPEN", "CLOSED") in moves, moves
        assert len(keys) <= 3


async def test_r_y_on_payment_api_rolls_out_but_the_breaker_stays_open(tmp_path):
    """A restart does not undo revision 14's pool settings: the dialog says to
    roll back first (u), and after the restart's rollout and the breaker's
    recovery timeout payment-api is still not CLOSED."""
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await polls(app, pilot, clock, 20)
        board = app.query_one("#board")
        board.move_cursor(row=board.get_row_index("payment-api"))
        await wait_until(pilot, lambda: ("", "payment-api") in app.diagnosis.diagnoses, "its diagnosis")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the dialog")
        assert app.screen.plan.deployment == "payment-api"
        assert "first: u (`kubectl" in flat(screen_text(app)), flat(screen_text(app))
        await pilot.press("y")
        await wait_until(pilot, lambda: any(
            e.kind == EventKind.ACTION and e.details.get("stage") == "verified"
            for e in journal.events), "the restart verified")
        seen = set()
        for _ in range(45):  # 90 s: past payment-api's 60 s recovery timeout
            await polls(app, pilot, clock, POLL_S)
            seen.add(app.poller.snapshot.service("payment-api").state.label)
        assert "CLOSED" not in seen, seen
        assert not any(e.kind == EventKind.SERVICE_RECOVERED for e in journal.events)
