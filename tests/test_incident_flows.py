"""The incident keys' dialogs and flows on the demo fleet (Pilot): the
root-cause dialog keeps what is typed, resolve asks for a summary, q waits
for a running action out loud, S gives a split service an incident of its own."""

from __future__ import annotations

from console.journalfile import EventKind
from tests.screen import quiesce, screen_text
from tests.test_incident_loop import build, poll, type_text
from widgets.prompts import RootCausePrompt


async def opened_on_payment_api(app, pilot, clock) -> None:
    """The demo's outage is open; payment-api is selected and diagnosed."""
    await app.workers.wait_for_complete()
    await poll(app, pilot, clock, 20)
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
