"""The caller's blast radius in its dialogs (issue 17): the fallback and
restart dialogs of deployment/api say what else it calls (the service map's
other services it is the caller of, its env names ending in _URL / _HOST,
never their values), and a fallback mode says in words what users get."""

from __future__ import annotations

import pytest

from console.mitigations.blast import fallback_words
from console.model.servicemap import ServiceEntry, ServiceMap
from tests.democonsole import build, polls
from textual.widgets import Static

from tests.screen import flat, wait_until
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ALSO = ("Also deployment/api also calls catalog-svc, fraud-check, user-svc (service map); "
        "env CATALOG_SVC_URL, FRAUD_CHECK_URL, USER_SVC_URL: its rollout replaces the pods "
        "that serve those calls too")
MOCK = ("Users users get canned responses: payment-api is not called, so what it does for "
        "them does not happen (for a payment service: no real payment is taken)")


async def dialog(app, pilot, clock, key: str) -> str:
    await app.workers.wait_for_complete()
    await polls(app, pilot, clock, 20)
    board = app.query_one("#board")
    board.move_cursor(row=board.get_row_index("payment-api"))
    await pilot.pause()
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the dialog")
    return dialog_text(app)


def dialog_text(app) -> str:
    """The dialog's own words, its lines joined (the screen wraps them beside the board)."""
    return flat(" ".join(str(s.content) for s in app.screen.query(Static)))


async def test_the_fallback_dialog_says_what_users_get_and_what_else_api_calls(tmp_path):
    app, clock, _ = build(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        text = await dialog(app, pilot, clock, "f")
        assert app.screen.plan.deployment == "api"
        assert MOCK in text, text
        assert ALSO in text, text
        assert "http://" not in text.split("Request")[0]  # names, never the values
        await pilot.press("n")


async def test_the_callers_restart_dialog_says_what_else_it_calls(tmp_path):
    app, clock, _ = build(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        text = await dialog(app, pilot, clock, "r")
        assert app.screen.plan.deployment == "payment-api"
        assert "also calls" not in text  # the downstream's restart touches only itself
        await pilot.press("t")
        await pilot.pause()
        text = dialog_text(app)
        assert app.screen.plan.deployment == "api"
        assert ALSO in text, text
        await pilot.press("n")


@pytest.mark.parametrize("mode, words", [
    ("mock", "users get canned responses"),
    ("cache", "users get the last cached answers of payment-api: they may be stale"),
    ("default", "users get api's default answer instead of payment-api's"),
    ("queue", "requests are queued and sent to payment-api later"),
    ("banana", "mode banana: what users get is up to api's code"),
])
def test_each_fallback_mode_in_words(mode, words):
    target = ServiceMap({"payment-api": ServiceEntry(fallback_mode=mode)}).target("payment-api")
    assert fallback_words(target).startswith(words)
