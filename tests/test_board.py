"""Pilot tests of the board as an operator uses it."""

from __future__ import annotations

import threading

import pytest
from rich.text import Text

from console.ui.app import CBConsoleApp
from console.model.fleet import Alert
from console.model.fleet import BreakerState as S
from console.sources.base import SourceError
from tests.fakes import ScriptedSource, clock, service
from tests.screen import wait_until
from widgets.board import BreakerBoard

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def make_app(services, interval=1000.0):
    c = clock()
    source = ScriptedSource(c, services)
    # A long interval: the tests poll by hand, nothing polls behind their back.
    return CBConsoleApp(source, poll_interval=interval, clock=c), source, c


async def poll(app, pilot):
    app.poller.start()
    await app.workers.wait_for_complete()
    await pilot.pause()


def rendered_lines(widget) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def test_worst_first_then_by_name():
    services = [
        service("zeta-closed"),
        service("alpha-closed"),
        service("half", S.HALF_OPEN, S.CLOSED),
        service("unknown-one", S.UNKNOWN),
        service("conflicted", S.CONFLICT),
        service("b-open", S.OPEN, S.CLOSED, S.CLOSED),
        service("a-open", S.OPEN, S.OPEN, S.OPEN),
    ]
    app, _, _ = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        assert board.services_shown == [
            "a-open",
            "b-open",
            "conflicted",
            "half",
            "unknown-one",
            "alpha-closed",
            "zeta-closed",
        ]
        text = "\n".join(rendered_lines(board))
        assert "OPEN" in text and "3/3" in text and "1/3" in text


async def test_filter_by_name_and_clear():
    app, _, _ = make_app([service("payment-api", S.OPEN), service("user-svc"), service("pay-gw")])
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        await pilot.press("slash", "p", "a", "y")
        assert board.services_shown == ["payment-api", "pay-gw"]
        await pilot.press("enter")
        assert board.has_focus
        # Typing q into the filter must not quit; escape clears it.
        await pilot.press("slash", "q")
        assert app.is_running and board.services_shown == []
        await pilot.press("escape")
        assert sorted(board.services_shown) == ["pay-gw", "payment-api", "user-svc"]


async def test_update_in_place_keeps_cursor_on_its_service():
    services = [service(f"svc-{i:02d}") for i in range(8)]
    app, source, _ = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        await pilot.press("down", "down", "down", "down", "down")
        assert board.selected_service == "svc-05"
        before = {name: row_of(board, name) for name in ("svc-02", "svc-01")}

        # svc-05 opens and jumps to the top; another row changes only its rate.
        source.services = list(services)
        source.services[5] = service("svc-05", S.OPEN, S.OPEN)
        source.services[1] = service("svc-01", fail=4.0)
        await poll(app, pilot)

        assert board.services_shown[0] == "svc-05"
        assert board.selected_service == "svc-05"
        assert board.cursor_row == 0
        lines = rendered_lines(board)
        assert "svc-05" in lines[1] and "OPEN" in lines[1] and "2/2" in lines[1], lines
        # The screen shows the new values; a row that did not change reads the same.
        assert "4.0" in row_of(board, "svc-01") and "4.0" not in before["svc-01"]
        assert strip_trend(row_of(board, "svc-02")) == strip_trend(before["svc-02"])


def row_of(board, name: str) -> str:
    return next(line for line in rendered_lines(board) if name in line)


def strip_trend(line: str) -> str:
    """A row's words without its sparkline (every row's trend gains a point a poll)."""
    return " ".join("".join(ch for ch in line if ch not in "▁▂▃▄▅▆▇█").split())


async def test_stale_marker_when_source_fails_keeps_last_data():
    app, source, c = make_app([service("payment-api", S.OPEN)], interval=2.0)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = app.query_one("#status")
        assert "STALE" not in rendered_lines(status)[0]

        source.error = SourceError("connection refused by 127.0.0.1:9090")
        await poll(app, pilot)
        # One failure within three intervals: a warning, not yet stale.
        line = " ".join(rendered_lines(status))
        assert "STALE" not in line and "retrying" in line

        c.advance(7)  # the last good poll is now older than three 2 s intervals
        app.views.refresh()
        await pilot.pause()
        line = " ".join(rendered_lines(status))
        assert "STALE" in line and "connection refused by 127.0.0.1:9090" in line
        board = app.query_one(BreakerBoard)
        assert board.has_class("-stale")
        assert board.services_shown == ["payment-api"]  # last good data kept

        source.error = None
        await poll(app, pilot)
        assert "STALE" not in " ".join(rendered_lines(status))
        assert not board.has_class("-stale")


async def test_stale_when_poll_hangs_without_error():
    app, source, c = make_app([service("payment-api")], interval=2.0)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.poller.state.started_at = c()  # a poll in flight that never returns
        c.advance(10)
        app.views.refresh()
        await pilot.pause()
        line = " ".join(rendered_lines(app.query_one("#status")))
        assert "STALE" in line and "no answer from the source for 10s" in line


async def test_stale_when_the_first_poll_never_answers():
    app, source, c = make_app([service("payment-api")], interval=2.0)
    release = threading.Event()
    source.poll = lambda: release.wait(30) and source.error  # hangs until released
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        status = app.query_one("#status")
        assert "STALE" not in " ".join(rendered_lines(status))
        c.advance(7)
        app.views.refresh()
        await pilot.pause()
        line = " ".join(rendered_lines(status))
        assert "STALE" in line and "no answer from the source for 7s" in line
        release.set()  # it then answers nonsense: a failed poll, not a crash
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running
        assert "answered NoneType, not a snapshot" in " ".join(rendered_lines(status))


@pytest.mark.parametrize(
    "name, shown",
    [
        ("[bold red]x[/]", "[bold red]x[/]"),
        ("evil\x1b[2Jsvc", "evil\\x1b[2Jsvc"),
        ("bell\x07\rname", "bell\\x07\\x0dname"),
    ],
)
async def test_label_values_render_literally(name, shown):
    app, _, _ = make_app([service(name, S.OPEN)])
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        # The first poll's rows, when they are drawn (a loaded machine: after a pause).
        await wait_until(pilot, lambda: shown in "\n".join(rendered_lines(board)),
                         "the row drawn")
        board_text = "\n".join(rendered_lines(board))

        def detail() -> str:
            return "\n".join(rendered_lines(app.query_one("#detail-summary"))
                             + rendered_lines(app.query_one("#detail-instances")))

        await wait_until(pilot, lambda: shown in detail(), "the detail pane")
        assert "\x1b" not in board_text + detail()


async def test_help_lists_every_binding_and_closes():
    app, _, _ = make_app([service("a")])
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: not app.screen.query(BreakerBoard), "the help screen")
        help_text = "\n".join(rendered_lines(app.screen.query_one("Static")))
        for key, what in (("q", "Quit"), ("/", "Filter"), ("p", "Poll now"), ("?", "Help")):
            assert what in help_text and key in help_text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.query(BreakerBoard), "the board back")


async def test_q_quits():
    app, _, _ = make_app([service("a")])
    async with app.run_test() as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_alerts_and_notices_are_shown():
    app, source, c = make_app([service("payment-api", S.OPEN), service("user-svc")])
    source.alerts = (
        Alert(name="CircuitBreakerOpen", state="firing", active_at=c(), service=None),
        Alert(name="CircuitBreakerOpen", state="pending", service="payment-api"),
    )
    source.notices = ("this backend has no ALERTS series",)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = " ".join(rendered_lines(app.query_one("#status")))
        assert "ALERT CircuitBreakerOpen FIRING active since 09:05:00" in header
        assert "fleet-wide" in header and "no ALERTS series" in header
        board = app.query_one(BreakerBoard)
        rows = rendered_lines(board)
        assert "pending" in next(r for r in rows if "payment-api" in r)
        assert "pending" not in next(r for r in rows if "user-svc" in r)
        detail = " ".join(rendered_lines(app.query_one("#detail-summary")))
        assert "ALERT CircuitBreakerOpen PENDING" in detail


async def test_conflict_is_explained_not_resolved():
    from console.model.fleet import InstanceStatus, ServiceStatus

    conflicted = ServiceStatus(
        service="payment-api",
        instances=(
            InstanceStatus(
                instance="api-0", state=S.CONFLICT, reported=(S.OPEN, S.CLOSED)
            ),
            InstanceStatus(instance="api-1", state=S.CLOSED, reported=(S.CLOSED,)),
        ),
    )
    app, _, _ = make_app([conflicted, service("user-svc")])
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        assert "CONFLICT" in next(r for r in rendered_lines(board) if "payment-api" in r)
        detail = " ".join(rendered_lines(app.query_one("#detail-instances")))
        assert "reports OPEN and CLOSED as current at once" in detail
        assert "never cleared" in detail


async def test_a_poll_landing_after_exit_draws_nothing_and_does_not_crash():
    app, source, _ = make_app([service("payment-api")])
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
    # The app has torn its screens down; late messages must be harmless.
    app.views.refresh()
    app._selected(BreakerBoard.ServiceSelected("payment-api"))


async def test_times_show_in_the_operators_zone():
    c = clock()
    app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open")]), poll_interval=3600,
                       clock=c, timezone_name="Europe/Paris")
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = str(app.query_one("#status").content)
        # 09:05 UTC is 10:05 in Paris in November.
        assert "last poll: 10:05:00 Europe/Paris" in header, header


async def test_rows_scrolled_into_view_show_the_newest_values():
    c = clock()
    names = [f"svc-{i:03d}" for i in range(200)]
    source = ScriptedSource(c, [service(n, fail=1.0) for n in names])
    app = CBConsoleApp(source, poll_interval=3600, clock=c)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        assert "svc-199" not in "\n".join(rendered_lines(board))  # off screen
        source.services = [service(n, fail=7.0 if n == "svc-199" else 1.0) for n in names]
        app.poller.start()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause()
        assert " 7.0 " in row_of(board, "svc-199"), rendered_lines(board)
        await pilot.press("home")
        await pilot.pause()
        assert " 1.0 " in row_of(board, "svc-000") and " 7.0 " not in row_of(board, "svc-000")


@pytest.mark.parametrize("cell", [
    "",
    "  12.5",
    "probing",
    Text("payment-api", no_wrap=True, overflow="ellipsis"),
    Text("a-name-much-longer-than-its-column-" * 3, no_wrap=True, overflow="ellipsis"),
    Text("12.4%", style="bold red", justify="right"),
    Text("7%", justify="center", style="on blue"),
    Text.assemble("09:00:05 ", ("OPEN", "bold red"), "→", ("CLOSED", "green")),
    Text("支付服务-😀-שלום", no_wrap=True, overflow="ellipsis"),
    Text("▁▂▃▅▇", style="yellow"),
])
@pytest.mark.parametrize("width", [3, 8, 14])
def test_cells_are_drawn_as_datatable_draws_them(cell, width):
    """The board draws its cells without rich's layout machinery (cell_line);
    what reaches the screen must be what rich's Styled(Padding(cell)) gives,
    styles included."""
    from rich.console import Console
    from rich.segment import Segment
    from rich.style import Style
    from textual.renderables.styled import Styled
    from rich.padding import Padding

    from widgets.boardrows import cell_line

    console = Console(width=200, color_system="truecolor")
    pre, post = Style(bgcolor="grey11") + Style.from_meta({"row": 1}), Style(bold=True)
    expected_cell = cell if isinstance(cell, Text) else Text(cell, end="")
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    expected = console.render_lines(
        Styled(Padding(expected_cell, (0, 1)), pre_style=pre, post_style=post), options)[0]
    got = cell_line(cell, width, 1, pre, post, console)

    def cells(segments):
        # One entry per terminal cell: the text drawn there and its style.
        return [(ch, seg.style) for seg in Segment.simplify(segments) for ch in seg.text]

    assert cells(got) == cells(expected)


@pytest.mark.parametrize("size, scroll_x", [((140, 40), 0), ((250, 30), 0), ((60, 20), 0), ((60, 20), 15)])
async def test_kept_lines_are_never_stale(size, scroll_x):
    """The board keeps each line while its row is unchanged; what is on
    screen must follow a poll, a tick, the cursor, the focus and a
    sideways scroll: header, cursor row and other rows."""
    from rich.segment import Segment

    c = clock()
    services = [service(f"svc-{i:02d}", S.OPEN if i % 7 == 0 else S.CLOSED, S.CLOSED)
                for i in range(40)]
    services.append(service("支付服务-😀-שלום-" + "x" * 60, S.HALF_OPEN))
    source = ScriptedSource(c, services)
    app = CBConsoleApp(source, poll_interval=3600, clock=c)

    def backgrounds(strip) -> set:
        return {seg.style.bgcolor for seg in Segment.simplify(list(strip))
                if seg.text.strip() and seg.style is not None}

    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        for _ in range(3):
            await pilot.press("down")
        board.scroll_x = scroll_x
        await pilot.pause()
        selected = board.selected_service
        for step in ("poll", "tick", "blur"):
            if step == "poll":
                source.services = [service(s.service, S.OPEN, fail=9.0) for s in services[:5]]
                source.services += services[5:]
                app.poller.start()
                await app.workers.wait_for_complete()
            elif step == "tick":
                c.advance(7)
                app.views.refresh()
            else:
                board.blur()
            await pilot.pause()
            assert board.selected_service == selected
            lines = [board.render_line(y) for y in range(board.size.height)]
            texts = [line.text for line in lines]
            assert all(line.cell_length == board.size.width for line in lines)
            assert texts[0].startswith(" SERVICE"[scroll_x:] if scroll_x < 8 else ""), texts[0]
            cursor_style = board.get_component_rich_style("breaker-board--cursor")
            row = board.cursor_row - int(board.scroll_y) + 1
            assert cursor_style.bgcolor in backgrounds(lines[row]), (step, texts[row])
            assert all(cursor_style.bgcolor not in backgrounds(line)
                       for y, line in enumerate(lines) if y != row), step
            if scroll_x == 0:
                assert selected in texts[row], (step, texts)
                polled = [text for text in texts if "svc-01 " in text]
                if polled:  # opened by the poll, its rate on screen
                    assert "OPEN" in polled[0] and "9.0" in polled[0], (step, polled)
            if step == "tick" and size[0] >= 140:
                # Ages moved on: 7 s more for every row on screen.
                assert any("7s" in text or "1m" in text for text in texts[1:]), texts


async def test_a_click_selects_the_row_and_the_header_selects_nothing():
    app, _, _ = make_app([service(f"svc-{i:02d}") for i in range(6)])
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        await pilot.click(BreakerBoard, offset=(3, 3))  # the third row under the header
        await pilot.pause()
        assert board.selected_service == "svc-02"
        detail = " ".join(rendered_lines(app.query_one("#detail-summary")))
        assert "svc-02" in detail
        await pilot.click(BreakerBoard, offset=(3, 0))
        await pilot.pause()
        assert board.selected_service == "svc-02"
