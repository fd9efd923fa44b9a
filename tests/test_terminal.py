"""The demo console in terminals of every size, resized while it polls, and
without colour: the selected service's row and its state stay readable, the
confirmation dialog's Confirm button stays reachable, and the states are told
apart by their words alone."""

from __future__ import annotations

import pytest
from textual.filter import Monochrome, NoColor
from textual.widgets import Button

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.model.fleet import BreakerState as S
from screenshots.scenes import START
from tests.fakes import ScriptedSource, clock, service
from tests.screen import assert_inert, line_with, quiesce, screen_lines, screen_text
from widgets.board import BreakerBoard
from widgets.confirm import ConfirmDialog

pytestmark = pytest.mark.ui

POLL_S = 2.0


def demo_app():
    c = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=c)
    app = CBConsoleApp(fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
                       service_map=demo_service_map(), poll_interval=3600, clock=c,
                       sleep=c.advance)
    return app, c


async def polls(app, pilot, c, seconds: float) -> None:
    for _ in range(int(seconds // POLL_S)):
        c.advance(POLL_S)
        app.poller.start()
        await app.workers.wait_for_complete()
        await pilot.pause()


async def select(app, pilot, name: str) -> None:
    board = app.query_one(BreakerBoard)
    board.move_cursor(row=board.get_row_index(name))
    await pilot.pause()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(60, 20), (250, 70)])
async def test_demo_at_the_smallest_and_largest_sizes(size):
    app, c = demo_app()
    async with app.run_test(size=size) as pilot:
        await polls(app, pilot, c, 20)  # payment-api has opened by then
        await select(app, pilot, "payment-api")
        text = screen_text(app)
        assert_inert(text)
        assert all(len(line) <= size[0] for line in text.splitlines())
        row = line_with(text, "payment-api")
        assert "OPEN" in row, f"payment-api's state is not on its row at {size}:\n{text}"

        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        box = app.screen
        assert isinstance(box, ConfirmDialog)
        confirm = box.query_one("#confirm", Button)
        # Reachable: focus moves to it (scrolling it into view) and it is
        # then inside the terminal, where enter presses it.
        await pilot.press("tab")
        await pilot.pause()
        assert confirm.has_focus
        region = confirm.region
        assert region.width > 0 and region.height > 0
        assert region.right <= size[0] and region.bottom <= size[1]
        assert "Confirm" in screen_text(app)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any(e.stage.value == "confirmed" for e in app.mitigations.recorder.events)
        await quiesce(app, pilot)


@pytest.mark.slow
async def test_resizing_while_polls_run():
    app, c = demo_app()
    sizes = [(60, 20), (250, 70), (80, 24), (120, 30), (61, 21), (200, 50), (100, 40)]
    async with app.run_test(size=(140, 40)) as pilot:
        await polls(app, pilot, c, 16)
        await select(app, pilot, "payment-api")
        for size in sizes:
            c.advance(POLL_S)
            app.poller.start()  # a poll in flight while the terminal changes size
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.size == size
            text = screen_text(app)
            assert len(text.splitlines()) == size[1]
            assert "OPEN" in line_with(text, "payment-api"), size
        assert app.query_one(BreakerBoard).selected_service == "payment-api"
        await quiesce(app, pilot)


async def test_no_color_keeps_the_states_apart_by_their_words(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    c = clock()
    source = ScriptedSource(c, [service("svc-open", S.OPEN), service("svc-half", S.HALF_OPEN),
                                service("svc-closed", S.CLOSED)])
    app = CBConsoleApp(source, poll_interval=3600, clock=c)
    assert app.no_color
    async with app.run_test(size=(140, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        words = {name: line_with(text, name).split()[1] for name in
                 ("svc-open", "svc-half", "svc-closed")}
        assert words == {"svc-open": "OPEN", "svc-half": "HALF-OPEN", "svc-closed": "CLOSED"}
        # What reaches the terminal is colourless: Textual's monochrome filter
        # is on and every cell of the screen is grey; the words carry the state.
        assert any(isinstance(f, (Monochrome, NoColor)) for f in app.get_line_filters())
        colours = {c for line in screen_lines(app) for s in line
                   for c in (s.style.color, s.style.bgcolor) if c is not None}
        greys = [c.triplet.red == c.triplet.green == c.triplet.blue for c in colours]
        assert greys and all(greys), colours
