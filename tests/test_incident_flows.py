"""The incident keys' dialogs and flows on the demo fleet (Pilot): the
root-cause dialog keeps what is typed, resolve asks for a summary, q waits
for a running action out loud, S gives a split service an incident of its own."""

from __future__ import annotations

import threading

import pytest

from textual.widgets import TabbedContent

from console.incident.store import EventKind, list_incidents, load_incident
from tests.democonsole import build, polls, type_text
from tests.screen import flat, quiesce, screen_text, wait_until
from widgets.confirm import ConfirmDialog
from widgets.prompts import RootCausePrompt, YesNo

pytestmark = [pytest.mark.ui, pytest.mark.slow]


async def opened_on_payment_api(app, pilot, clock) -> None:
    """The demo's outage is open; payment-api is selected and diagnosed."""
    await app.workers.wait_for_complete()
    await polls(app, pilot, clock, 20)
    board = app.query_one("#board")
    board.move_cursor(row=board.get_row_index("payment-api"))
    await pilot.pause()
    await pilot.press("g")
    await app.workers.wait_for_complete()
    await pilot.pause()


def root_causes(journal) -> list[tuple[str, str]]:
    return [(e.details["text"], e.details["category"]) for e in journal.events
            if e.kind == EventKind.ROOT_CAUSE]


async def test_root_cause_text_typed_after_tab_is_kept(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await opened_on_payment_api(app, pilot, clock)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, RootCausePrompt)
        await type_text(pilot, "new pool")
        await pilot.press("tab")
        await type_text(pilot, " settings in rev 14")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, RootCausePrompt)
        assert root_causes(journal) == [("new pool settings in rev 14", "recent deployment")]
        # The typed s did not start a smoke test under the dialog.
        assert not any(e.kind == EventKind.ACTION for e in journal.events)
        await quiesce(app, pilot)


async def test_enter_on_the_category_list_keeps_the_preselection(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await opened_on_payment_api(app, pilot, clock)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("tab", "enter")
        await type_text(pilot, "pool")
        await pilot.press("enter")
        await pilot.pause()
        assert root_causes(journal) == [("pool", "recent deployment")]
        await quiesce(app, pilot)


async def test_a_category_is_changed_by_choosing_it(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await opened_on_payment_api(app, pilot, clock)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("tab", "down", "enter")
        await type_text(pilot, "pool")
        await pilot.press("enter")
        await pilot.pause()
        # The category after "recent deployment" in the runbook's list.
        assert root_causes(journal) == [("pool", "other")]
        await quiesce(app, pilot)


async def export_text(app, pilot, tmp_path) -> str:
    await pilot.press("e")
    await app.workers.wait_for_complete()
    await pilot.pause()
    exported = list((tmp_path / "exports").glob("postmortem-*.md"))
    assert len(exported) == 1
    return exported[0].read_text()


async def test_resolve_asks_for_a_summary_and_it_can_be_amended(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await opened_on_payment_api(app, pilot, clock)
        await pilot.press("R")
        await pilot.pause()
        assert "summary" in screen_text(app).lower()
        await pilot.press("enter")  # an empty summary does not resolve
        await pilot.pause()
        assert journal.is_open
        await type_text(pilot, "restarted payment-api")
        await pilot.press("enter")
        await pilot.pause()
        assert not journal.is_open
        resolved = [e for e in journal.events if e.kind == EventKind.RESOLVED]
        assert resolved[0].details["summary"] == "restarted payment-api"
        text = await export_text(app, pilot, tmp_path)
        assert "incident resolved by alice: restarted payment-api\n" in text, text

        # R again edits it, starting from the current line; the first is kept.
        await pilot.press("R")
        await pilot.pause()
        assert "restarted payment-api" in screen_text(app)
        await type_text(pilot, " and rolled back rev 14")
        await pilot.press("enter")
        await pilot.pause()
        text = await export_text(app, pilot, tmp_path)
        assert "incident resolved by alice: restarted payment-api and rolled back rev 14\n" in text
        assert journal.events[resolved[0].id - 1].details["summary"] == "restarted payment-api"
        await quiesce(app, pilot)


class Gate:
    """The action runner's sleep between rollout checks, held until opened:
    the restart stays running for as long as the test needs."""

    def __init__(self) -> None:
        self.clock = None
        self.entered = threading.Event()
        self.opened = threading.Event()

    def bind(self, clock) -> Gate:
        self.clock = clock
        return self

    def __call__(self, seconds: float) -> None:
        self.entered.set()
        self.opened.wait(timeout=120)
        self.clock.advance(seconds)


async def test_q_during_a_restart_says_what_it_waits_for_and_q_again_leaves_as_unknown(tmp_path):
    gate = Gate()
    app, clock, journal = build(tmp_path, gate)
    try:
        async with app.run_test(size=(140, 40), notifications=True) as pilot:
            await opened_on_payment_api(app, pilot, clock)
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the dialog")
            await pilot.press("y")
            await wait_until(pilot, gate.entered.is_set, "the restart watching its rollout")

            await pilot.press("q")
            await wait_until(pilot, lambda: "q again" in flat(screen_text(app)), "the message")
            text = flat(screen_text(app))
            assert "waiting for the restart's rollout to be verified" in text, text
            assert "q again to leave now" in text and "recorded as unknown" in text, text
            # Still running and answering keys.
            assert app.is_running
            await pilot.press("4")
            await pilot.pause()
            assert app.query_one("#panes", TabbedContent).active == "timeline"

            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, "leaving on the second q")
    finally:
        gate.opened.set()
    stages = [e.details["stage"] for e in journal.events
              if e.kind == EventKind.ACTION and e.details.get("action") == "restart"]
    assert stages[-1] == "unknown", stages
    assert "succeeded" not in stages and "verified" not in stages, stages


async def test_q_during_a_restart_leaves_by_itself_once_it_is_verified(tmp_path):
    gate = Gate()
    app, clock, journal = build(tmp_path, gate)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await opened_on_payment_api(app, pilot, clock)
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the dialog")
            await pilot.press("y")
            await wait_until(pilot, gate.entered.is_set, "the restart watching its rollout")
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running
            gate.opened.set()
            await wait_until(pilot, lambda: not app.is_running, "leaving once the restart ended")
    finally:
        gate.opened.set()
    stages = [e.details["stage"] for e in journal.events
              if e.kind == EventKind.ACTION and e.details.get("action") == "restart"]
    assert stages[-2:] == ["succeeded", "verified"], stages


def open_incidents(state) -> dict[str, list[str]]:
    return {i.id: list(i.services) for i in list_incidents(state) if not i.resolved}


async def split_selected(app, pilot, service: str) -> None:
    board = app.query_one("#board")
    board.move_cursor(row=board.get_row_index(service))
    await pilot.pause()
    await pilot.press("S")
    await wait_until(pilot, lambda: isinstance(app.screen, YesNo), "the split question")
    await pilot.press("y")
    await pilot.pause()


async def test_splitting_payment_api_off_leaves_it_in_an_incident_of_its_own(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await opened_on_payment_api(app, pilot, clock)
        main = journal.incident_id
        assert set(open_incidents(tmp_path / "state")[main]) >= {"payment-api", "inventory-svc"}
        await split_selected(app, pilot, "payment-api")
        await polls(app, pilot, clock, 4)
        assert app.poller.snapshot.service("payment-api").state.label == "OPEN"
        found = open_incidents(tmp_path / "state")
        assert "payment-api" not in found[main]
        [own] = [i for i, services in found.items() if "payment-api" in services]
        assert own != main and found[own] == ["payment-api"]
        # With its events, and the header shows its incident while it is selected.
        events = load_incident(tmp_path / "state", own).events
        assert any(e.kind == EventKind.BREAKER_TRANSITION and e.details["to"] == "open"
                   for e in events)
        assert own in flat(screen_text(app))
        # Its keys act on it: acknowledge goes into payment-api's incident.
        await pilot.press("a")
        await pilot.pause()
        assert any(e.kind == EventKind.ACKNOWLEDGED
                   for e in load_incident(tmp_path / "state", own).events)
        assert not any(e.kind == EventKind.ACKNOWLEDGED for e in journal.events)
        await quiesce(app, pilot)


async def test_a_split_off_flapper_incident_starts_when_it_is_split(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await opened_on_payment_api(app, pilot, clock)
        await polls(app, pilot, clock, 60)
        split_at = clock()
        await split_selected(app, pilot, "inventory-svc")
        found = open_incidents(tmp_path / "state")
        [own] = [i for i, services in found.items() if services == ["inventory-svc"]]
        opened = load_incident(tmp_path / "state", own).events[0]
        assert opened.kind == EventKind.INCIDENT_OPENED and opened.at == split_at
        # Its response clock starts now: the full 5 minutes to acknowledge.
        assert "within 5m00s" in flat(screen_text(app)), flat(screen_text(app))
        await quiesce(app, pilot)
