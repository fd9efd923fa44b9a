"""`u` on the demo (Pilot): payment-api's revision 14, LIKELY CAUSE, rolled
back to 13 in two keys after selecting its row; the breaker recovers and the
postmortem's Resolution names the revision. In the dialog, t switches the
deployment and [ / ] step through older revisions."""

from __future__ import annotations

import pytest

from console.incident.store import EventKind
from tests.democonsole import build, polls, until_recovered
from tests.screen import flat, quiesce, screen_text, settle, wait_until
from widgets.rollback import RevisionDialog

pytestmark = [pytest.mark.ui, pytest.mark.slow]

CAUSE_14 = "deploy payment-api v2.8.0: new DB connection pool settings"
CAUSE_13 = "deploy payment-api v2.7.4: bump TLS library"


async def rollback_dialog(app, pilot, clock) -> None:
    """The demo's outage is open and payment-api's row selected: diagnosed by
    itself on selection (revision 14 LIKELY CAUSE, NEXT says u); then u."""
    await app.workers.wait_for_complete()
    await polls(app, pilot, clock, 20)
    board = app.query_one("#board")
    board.move_cursor(row=board.get_row_index("payment-api"))
    await wait_until(pilot, lambda: ("", "payment-api") in app.diagnosis.diagnoses, "its diagnosis")
    await pilot.press("2")  # the diagnosis pane
    await settle(app, pilot)
    text = flat(screen_text(app))
    assert "LIKELY CAUSE" in text and "press u" in text, text
    await pilot.press("u")
    await wait_until(pilot, lambda: isinstance(app.screen, RevisionDialog), "the dialog")


def rollback_stages(journal) -> list[str]:
    return [e.details["stage"] for e in journal.events
            if e.kind == EventKind.ACTION and e.details.get("action") == "rollback"]


async def test_u_y_rolls_payment_api_back_to_13_and_the_breaker_recovers(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await rollback_dialog(app, pilot, clock)
        text = flat(screen_text(app))
        assert "Roll back deployment/payment-api: revision 14 -> revision 13" in text, text
        assert "LIKELY CAUSE" in text and CAUSE_14 in text and CAUSE_13 in text, text
        assert ("image app: registry.example.com/shop/payment-api:2.8.0 -> "
                "registry.example.com/shop/payment-api:2.7.4") in text, text
        assert "~DB_POOL_MAX_SIZE ~DB_POOL_TIMEOUT_MS (values not shown)" in text, text
        assert "Content-Type: application/json-patch+json" in text, text
        assert ("kubectl --context demo-cluster rollout undo deployment/payment-api -n shop "
                "--to-revision=13") in text, text
        await pilot.press("y")
        await wait_until(pilot, lambda: "verified" in rollback_stages(journal),
                         "the rollback verified")
        assert rollback_stages(journal) == ["asked", "confirmed", "sent", "succeeded",
                                            "verified"]
        await until_recovered(app, pilot, clock, journal)
        await pilot.press("e")
        await wait_until(pilot, lambda: list((tmp_path / "exports").glob("postmortem-*.md")),
                         "the export")
        [exported] = (tmp_path / "exports").glob("postmortem-*.md")
        text = exported.read_text()
        resolution = text.split("## Resolution", 1)[1].split("##", 1)[0]
        assert ("rollback on shop/deployment/payment-api (payment-api): **verified** - "
                "deployment/payment-api rolled back from revision 14 to revision 13 "
                f"({CAUSE_13})") in resolution, resolution
        [recovered] = [line for line in text.splitlines() if "- Service recovered" in line]
        assert recovered.startswith("- 09:"), recovered  # a time, not "not recorded"
        await quiesce(app, pilot)


async def test_t_and_brackets_choose_the_deployment_and_revision(tmp_path):
    app, clock, journal = build(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await rollback_dialog(app, pilot, clock)
        assert "[: revision 12" in flat(screen_text(app))
        await pilot.press("left_square_bracket")
        await pilot.pause()
        text = flat(screen_text(app))
        assert "revision 14 -> revision 12" in text and "--to-revision=12" in text, text
        assert "]: revision 13" in text, text
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert "revision 14 -> revision 13" in flat(screen_text(app))
        await pilot.press("t")
        await pilot.pause()
        text = flat(screen_text(app))
        assert "Roll back deployment/api: revision" in text, text
        assert "t: deployment/payment-api instead" in text, text
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("left_square_bracket")
        await pilot.pause()
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, RevisionDialog)
        assert rollback_stages(journal) == ["asked", "cancelled"]
        cancelled = [e for e in journal.events if e.details.get("stage") == "cancelled"]
        assert cancelled[-1].details["target"] == "shop/deployment/payment-api"
        await quiesce(app, pilot)
