"""A view drawn again with the same content skips the screen's layout, and
never keeps a stale picture: content drawn without a key (a diagnosis)
is replaced by the keyed content that follows, even the same as before it."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import Static

from tests.screen import rendered
from widgets import redraw

pytestmark = pytest.mark.ui


class One(App):
    def compose(self):
        yield Static(id="s")


async def test_the_same_text_is_not_drawn_again_and_an_unkeyed_one_is_replaced():
    app = One()
    async with app.run_test() as pilot:
        static = app.query_one("#s", Static)
        assert redraw.show_text(static, Text("press g to diagnose", style="dim"))
        await pilot.pause()
        assert not redraw.show_text(static, Text("press g to diagnose", style="dim"))
        assert redraw.show_text(static, Text("press g to diagnose", style="bold"))  # its look
        redraw.always(static, Text("payment-api  namespace shop"))
        await pilot.pause()
        assert "payment-api" in rendered(static)
        assert redraw.show_text(static, Text("press g to diagnose", style="bold"))
        await pilot.pause()
        assert "press g to diagnose" in rendered(static) and "payment-api" not in rendered(static)
