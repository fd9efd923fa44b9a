"""Sites on the board (issue 18), as the operator sees them: the two-site
demo's regional case at a glance, a service's sites folded and unfolded,
`/ cluster:NAME`, each source's health in the header and on its rows."""

from __future__ import annotations

import pytest

from console.model.fleet import BreakerState as S
from console.model.fleet import SourceHealth, SourceStatus
from console.ui.app import CBConsoleApp
from tests.fakes import ScriptedSource, clock, service
from tests.screen import flat, line_with, rendered, screen_text, settle, wait_until
from tests.sitesboard import SitesSource, polls, two_site_demo
from widgets.board import BreakerBoard
from widgets.status import StatusLine

pytestmark = [pytest.mark.ui, pytest.mark.slow]

REGIONAL = "payment-api OPEN in eu-west 3/3 · CLOSED in us-east"


async def demo_incident(app, pilot, clock) -> BreakerBoard:
    await app.workers.wait_for_complete()
    await polls(app, pilot, clock, 42)  # payment-api's rollout breaks it at 4 s in eu-west
    board = app.query_one(BreakerBoard)
    await wait_until(pilot, lambda: REGIONAL in flat(rendered(board)), "the regional line")
    return board


@pytest.mark.parametrize("size", [(140, 40), (80, 24)])
async def test_the_demo_shows_the_regional_case_without_selecting_anything(size):
    app, clock, _ = two_site_demo()
    async with app.run_test(size=size) as pilot:
        board = await demo_incident(app, pilot, clock)
        text = rendered(board)
        assert "CLUSTER" in line_with(text, "SERVICE")
        # Every service once, folded: its sites on its one line.
        assert board.services_shown.count("payment-api") == 1
        assert len(board.services_shown) == 12
        assert "CLOSED in eu-west, us-east" in flat(line_with(text, "auth-svc"))
        # At 80 columns too the regional line keeps its error rate and
        # rejections beside it (the summary runs on over its STATE cell).
        header_line = line_with(text, "SERVICE")
        assert "ERR%" in header_line and "REJ/s" in header_line
        assert "100.0%" in line_with(text, "payment-api")
        header = flat(app.query_one(StatusLine).render().plain)
        assert "sources: eu-west ok · us-east ok" in header
        # The key that unfolds a group is in the footer, with sites only.
        assert "space Sites" in flat(screen_text(app))


async def test_space_unfolds_a_services_sites_and_folds_them_again():
    app, clock, _ = two_site_demo()
    async with app.run_test(size=(140, 40)) as pilot:
        board = await demo_incident(app, pilot, clock)
        board.focus()
        board.move_cursor(row=board.get_row_index("payment-api"))
        await pilot.press("space")
        await settle(app, pilot)
        lines = [flat(line) for line in rendered(board).splitlines()]
        at = next(n for n, line in enumerate(lines) if line.startswith("▾ payment-api"))
        assert lines[at + 1].startswith("payment-api eu-west OPEN")
        assert lines[at + 2].startswith("payment-api us-east CLOSED")
        # The us-east row is its own: selected, the detail pane names its site.
        await pilot.press("down", "down")
        await settle(app, pilot)
        assert app.selection.key() == ("us-east", "payment-api")
        detail = flat(screen_text(app))
        assert "payment-api in us-east CLOSED 3/3" in detail
        await pilot.press("space")  # folds from a site's row too
        await settle(app, pilot)
        assert board.services_shown.count("payment-api") == 1
        assert REGIONAL in flat(rendered(board))
        # Folded, the line stands for its worst site, and says which.
        assert app.selection.key() == ("eu-west", "payment-api")
        assert "payment-api in eu-west OPEN 3/3" in flat(screen_text(app))


async def test_the_filter_takes_a_cluster():
    app, clock, _ = two_site_demo()
    async with app.run_test(size=(140, 40)) as pilot:
        board = await demo_incident(app, pilot, clock)
        await pilot.press("slash")
        for ch in "cluster:us-east":
            await pilot.press(ch)
        await settle(app, pilot)
        text = rendered(board)
        assert "eu-west" not in text and "OPEN" not in text
        assert flat(line_with(text, "payment-api")).startswith("payment-api us-east CLOSED")
        assert len(board.services_shown) == 12
        header = flat(app.query_one(StatusLine).render().plain)
        # What the filter hides is said: eu-west's open breakers.
        assert "filter /cluster:us-east hides" in header and "OPEN (12 of 24 services)" in header
        for _ in "cluster:us-east":
            await pilot.press("backspace")
        for ch in "cluster:eu-west pay":
            await pilot.press("space" if ch == " " else ch)
        await settle(app, pilot)
        assert board.keys_shown == [("eu-west", "payment-api")]


async def test_a_polls_rows_are_laid_out_on_its_thread_for_the_filter_then(monkeypatch):
    """At 20,000 breakers laying out the rows (filter, groups worst first,
    the CLUSTER width) took the event loop 20-100 ms a poll: the poll's
    thread does it. A filter typed since is met on the loop, never drawn
    with the rows of the filter before."""
    import threading

    import widgets.board
    import widgets.boardrows

    on_loop = []
    real = widgets.boardrows.lay_out

    def watched(*args, **kwargs):
        on_loop.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    for module in (widgets.board, widgets.boardrows):
        monkeypatch.setattr(module, "lay_out", watched)
    app, clock, _ = two_site_demo()
    async with app.run_test(size=(140, 40)) as pilot:
        board = await demo_incident(app, pilot, clock)
        on_loop.clear()
        await polls(app, pilot, clock, 6)
        assert on_loop and not any(on_loop)  # every poll's rows: off the loop
        await pilot.press("slash")
        for ch in "cluster:us-east":
            await pilot.press(ch)
        await settle(app, pilot)
        assert any(on_loop)  # the filter typed: laid out at once, on the loop
        assert {key[0] for key in board.keys_shown} == {"us-east"}
        # A poll laid out before the filter changed is not drawn with the
        # old filter's rows.
        stale = board.prepare(app.poller.snapshot.services, app.poller.snapshot.sources)
        board.filter_text = "cluster:eu-west"
        app.poller.prepared = stale
        app.refresh_views()
        assert {key[0] for key in board.keys_shown} == {"eu-west"}
        on_loop.clear()
        await polls(app, pilot, clock, 3)
        assert on_loop and not any(on_loop)  # the new filter's rows: off the loop again
        assert {key[0] for key in board.keys_shown} == {"eu-west"}


HOSTILE = "[bold red]store 3 down[/] \x1b[31mred\x1b[0m"


def three_sources(c):
    services = [
        service("payment-api", S.OPEN, S.OPEN, site="eu-west"),
        service("payment-api", S.CLOSED, S.CLOSED, site="us-east"),
        service("payment-api", S.CLOSED, S.CLOSED, site="ap-south"),
        service("cart", S.CLOSED, site="eu-west"),
        service("cart", S.CLOSED, site="us-east"),
        service("cart", S.CLOSED, site="ap-south"),
    ]
    sources = [
        SourceHealth(name="eu-west", sites=("eu-west",), as_of=c()),
        SourceHealth(name="us-east", sites=("us-east",), status=SourceStatus.PARTIAL,
                     warnings=(HOSTILE, "partial response: 1 of 3 stores"), as_of=c()),
        SourceHealth(name="ap-south", sites=("ap-south",), status=SourceStatus.STALE,
                     reason="connect to prom-ap-south:9090: connection refused",
                     as_of=c()),
    ]
    return services, sources


async def test_each_source_has_its_own_health_in_the_header_and_on_its_rows():
    c = clock()
    services, sources = three_sources(c)
    app = CBConsoleApp(SitesSource(c, services, sources), poll_interval=3600, clock=c)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        header = flat(app.query_one(StatusLine).render().plain)
        assert "eu-west ok" in header
        assert "us-east PARTIAL 2 warnings" in header
        assert "ap-south STALE connect to prom-ap-south:9090: connection refused" in header
        board = app.query_one(BreakerBoard)
        text = rendered(board)
        assert ("OPEN in eu-west 2/2 · CLOSED in ap-south STALE, us-east PARTIAL"
                in flat(line_with(text, "payment-api")))
        await pilot.press("space")  # payment-api is selected (the worst): its sites
        await settle(app, pilot)
        text = rendered(board)
        lines = text.splitlines()
        east = next(n for n, line in enumerate(lines) if "us-east PARTIAL" in line
                    and "·" not in line)
        south = next(n for n, line in enumerate(lines) if "ap-south STALE" in line
                     and "·" not in line)
        # The STALE source's rows are greyed: its name drawn unlike the others'.
        name_style = {n: board.render_line(n).crop(2, 6)._segments[0].style.color
                      for n in (east, south)}
        assert name_style[south] != name_style[east]
        # The PARTIAL source's warnings, in the detail pane, literally.
        board.focus()
        board.move_cursor(row=east - 1)
        await settle(app, pilot)
        assert app.selection.key() == ("us-east", "payment-api")
        detail = flat(screen_text(app))
        assert "source us-east PARTIAL" in detail
        assert "[bold red]store 3 down[/]" in detail  # markup shown, not applied
        assert "partial response: 1 of 3 stores" in detail
        assert "\x1b" not in screen_text(app)
        board.move_cursor(row=south - 1)
        await settle(app, pilot)
        detail = flat(screen_text(app))
        assert "source ap-south STALE: these are its last good rows" in detail


async def test_one_site_keeps_the_board_as_it_was():
    c = clock()
    app = CBConsoleApp(ScriptedSource(c, [service("payment-api", S.OPEN), service("cart")]),
                       poll_interval=3600, clock=c)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        board = app.query_one(BreakerBoard)
        assert "CLUSTER" not in rendered(board)
        assert board.services_shown == ["payment-api", "cart"]
        assert "Sites" not in screen_text(app)  # no sites key without sites
        await pilot.press("space")
        await settle(app, pilot)
        assert board.services_shown == ["payment-api", "cart"]
        assert app.selection.key() == ("", "payment-api")


async def test_one_source_partial_marks_its_rows_partial():
    c = clock()
    services = [service("payment-api", S.OPEN), service("cart")]
    health = SourceHealth(name="thanos", status=SourceStatus.PARTIAL,
                          warnings=("partial response: store eu-2 unavailable",), as_of=c())
    source = SitesSource(c, services, [health])
    app = CBConsoleApp(source, poll_interval=3600, clock=c)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        header = flat(app.query_one(StatusLine).render().plain)
        assert "sources: thanos PARTIAL 1 warning" in header
        board = app.query_one(BreakerBoard)
        assert "PARTIAL" in line_with(rendered(board), "payment-api")
        assert "PARTIAL" in line_with(rendered(board), "cart")
        assert "partial response: store eu-2 unavailable" in flat(screen_text(app))
        # Complete again: the mark goes, the board is as it was.
        source.sources = [health.model_copy(update={"status": SourceStatus.OK,
                                                    "warnings": ()})]
        app.poller.start()
        await settle(app, pilot)
        assert "PARTIAL" not in rendered(board) and "CLUSTER" not in rendered(board)
