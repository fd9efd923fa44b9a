"""The detail pane's transition list: a flapping breaker's 200 transitions,
newest first, under a header that stays, drawn only where they are seen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rich.text import Text
from textual.app import App

from console.model.fleet import BreakerState as S
from console.model.fleet import Observed, Transition
from tests.fakes import T0
from tests.hostile import EVERYTHING, LONG
from tests.screen import assert_inert
from widgets import transitions as history
from widgets.transitions import TransitionList, column_widths

pytestmark = pytest.mark.ui

CYCLE = ((S.CLOSED, S.OPEN), (S.OPEN, S.HALF_OPEN), (S.HALF_OPEN, S.CLOSED))


def flapping(n: int, instances: tuple[str, ...] = ("pod-a", "pod-b")) -> list[Transition]:
    """n transitions, newest first, one every 10 s, cycling through the states."""
    return [
        Transition(
            service="svc", instance=instances[k % len(instances)],
            from_state=CYCLE[k % 3][0], to_state=CYCLE[k % 3][1],
            at=T0 - timedelta(seconds=10 * k),
            observed=Observed.BACKFILL if k > n - 3 else Observed.LIVE,
        )
        for k in range(n)
    ]


class Host(App):
    def compose(self):
        yield TransitionList()


def lines(widget) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def test_a_long_history_scrolls_under_its_header():
    app = Host()
    async with app.run_test(size=(72, 12)) as pilot:
        view = app.query_one(TransitionList)
        transitions = flapping(200)
        view.show(transitions)
        await pilot.pause()
        shown = lines(view)
        assert shown[0].split() == ["AT", "(UTC)", "INSTANCE", "TRANSITION", "AFTER", "SEEN"]
        newest = shown[1].split()
        assert newest[:3] == ["09:00:00", "pod-a", "CLOSED→OPEN"]
        assert newest[3:] == ["20s", "live"]  # since pod-a's previous one
        width = view.scrollable_content_region.width
        assert 60 < width < 72 and all(len(line) == width for line in shown)  # scroll bar

        view.scroll_end(animate=False)
        await pilot.pause()
        shown = lines(view)
        assert shown[0].split()[0] == "AT"  # the header stays
        oldest = shown[-1].split()
        first = transitions[-1]
        assert oldest[0] == first.at.strftime("%H:%M:%S")
        assert oldest[3:] == ["—", "backfill"]  # nothing known before the first


async def test_only_the_lines_on_screen_are_drawn(monkeypatch):
    drawn = []
    draw = history.draw_line
    monkeypatch.setattr(history, "draw_line", lambda *a, **k: drawn.append(1) or draw(*a, **k))
    app = Host()
    async with app.run_test(size=(72, 12)) as pilot:
        app.query_one(TransitionList).show(flapping(200))
        await pilot.pause()
    assert 0 < len(drawn) <= 12  # a screenful, not 200 rows


async def test_hostile_and_long_instance_names_are_cut_literally():
    app = Host()
    async with app.run_test(size=(60, 8)) as pilot:
        view = app.query_one(TransitionList)
        view.show(flapping(4, instances=(EVERYTHING, LONG)))
        await pilot.pause()
        shown = lines(view)
        assert_inert("\n".join(shown), "the transition list")
        for line in shown[1:5]:
            assert len(line) == 60
            assert "…" in line  # cut to fit, the transition still beside it
            assert any(word in line for word in ("CLOSED→OPEN", "OPEN→HALF-OPEN",
                                                 "HALF-OPEN→CLOSED"))


async def test_no_transitions_and_a_narrow_pane():
    app = Host()
    async with app.run_test(size=(24, 6)) as pilot:
        view = app.query_one(TransitionList)
        view.show([])
        await pilot.pause()
        assert "no transition seen yet" in lines(view)[1]
        view.show(flapping(3))
        await pilot.pause()
        assert all(len(line) == 24 for line in lines(view))  # columns give way, nothing spills
        view.clear()
        await pilot.pause()
        assert "".join(lines(view)).strip() == ""


def test_columns_as_wide_as_their_widest_entry_the_instance_takes_the_rest():
    rows = [history.header_cells(), *history.transition_cells(flapping(3))]
    widths = column_widths(rows, 80)
    assert widths[0] == len("AT (UTC)") and widths[2] == len("HALF-OPEN→CLOSED")
    assert widths[3] == len("AFTER") and widths[4] == len("backfill")
    assert sum(widths) + 2 * 4 == 80
    cells = [(Text("x" * 30),) * 5]
    assert sum(column_widths(cells, 40)) + 8 <= 40  # too narrow: the widest give way
