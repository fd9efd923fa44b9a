"""Pilot tests of issue 12's board bullets: what is selected, which keys
reach it, what the header says about a filter, what fits at 80 columns and
what the command palette finds."""

from __future__ import annotations

import pytest

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.model.history import FleetHistory
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import Journal
from console.model.fleet import BreakerState as S
from console.model.fleet import FleetSnapshot, InstanceStatus, ServiceStatus
from screenshots.scenes import START
from tests.fakes import ScriptedSource, clock, service
from tests.screen import flat, line_with, quiesce, screen_text
from widgets.board import BreakerBoard
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.slow]

POLL_S = 2.0


def make_app(services, **kwargs):
    c = clock()
    source = ScriptedSource(c, services)
    return CBConsoleApp(source, poll_interval=1000.0, clock=c, **kwargs), source, c


def demo_app(tmp_path):
    c = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=c)
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=c)
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=10))
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=tracker, export_dir=tmp_path / "exports",
        poll_interval=3600, clock=c, sleep=c.advance,
    )
    return app, c, journal


async def settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def poll(app, pilot, c=None, seconds: float = 0.0) -> None:
    if c is not None:
        c.advance(seconds)
    app.poller.start()
    await settle(app, pilot)


def detail_text(app) -> str:
    widget = app.query_one("#detail-summary")
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def rates(name, state=S.CLOSED, fail=0.0, ok=0.0, rej=0.0) -> ServiceStatus:
    return ServiceStatus(service=name, instances=(InstanceStatus(
        instance=f"{name}-0", state=state, reported=(state,),
        failure_rate=fail, success_rate=ok, rejected_rate=rej),))


# --- 1. The selection is a service, not a row index -----------------------------


async def test_selection_stays_on_the_incident_service_as_rows_resort(tmp_path):
    """Demo: inventory-svc flaps above payment-api (both OPEN, sorted by
    name); before any arrow key the selection is the incident's service,
    the detail pane never flips, and `r` targets payment-api."""
    app, c, journal = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        board = app.query_one(BreakerBoard)
        seen_top, seen_detail = set(), set()
        for _ in range(20):
            await poll(app, pilot, c, POLL_S)
            if journal.is_open:
                seen_top.add(board.services_shown[0])
                first = detail_text(app).split()[0] if detail_text(app).split() else ""
                seen_detail.add(first)
        assert journal.is_open
        assert "inventory-svc" in seen_top, seen_top  # it did sort above payment-api
        assert seen_detail == {"payment-api"}, seen_detail
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "payment-api" in flat(screen_text(app))
        assert app.screen.plan.service == "payment-api"
        await pilot.press("escape")
        await quiesce(app, pilot)


async def test_without_an_incident_the_selection_is_kept_by_name():
    services = [service(f"svc-{i:02d}") for i in range(4)]
    app, source, _ = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        board = app.query_one(BreakerBoard)
        assert board.selected_service == "svc-00"  # the worst row, at first
        source.services = services[:3] + [service("svc-03", S.OPEN)]
        await poll(app, pilot)
        assert board.services_shown[0] == "svc-03"
        assert board.selected_service == "svc-00"
        assert detail_text(app).split()[0] == "svc-00"
        await quiesce(app, pilot)


async def test_the_operators_choice_survives_resorting_and_a_filter():
    services = [service(f"svc-{i:02d}") for i in range(4)]
    app, source, _ = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        board = app.query_one(BreakerBoard)
        await pilot.press("down", "down")
        assert board.selected_service == "svc-02"
        source.services = [service("svc-00", S.OPEN), *services[1:3], service("svc-03", S.OPEN)]
        await poll(app, pilot)
        assert board.selected_service == "svc-02"
        await pilot.press("slash", "0", "0")  # hides svc-02
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert board.selected_service == "svc-02"
        await quiesce(app, pilot)


# --- 2. Pane keys from everywhere but a text input ----------------------------------


async def test_pane_keys_work_with_focus_inside_any_pane():
    from textual.widgets import TabbedContent

    app, _, _ = make_app([service("payment-api", S.OPEN), service("user-svc")])
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        panes = app.query_one("#panes", TabbedContent)
        names = {"1": "breaker", "2": "diagnosis", "3": "actions", "4": "timeline"}
        failures = []
        for start, pane in names.items():
            await pilot.press(start)
            await pilot.pause()
            inside = [w for w in app.query(f"#{pane} *") if w.focusable]
            assert inside, pane
            for widget in inside:
                key = str(int(start) % 4 + 1)  # the next pane's key
                panes.active = pane
                await pilot.pause()
                widget.focus()
                await pilot.pause()
                await pilot.press(key)
                await pilot.pause()
                if panes.active != names[key]:
                    failures.append((widget.id, key, panes.active))
        assert not failures, failures
        # A text input keeps its keys: "2" is typed, the pane stays.
        panes.active = "breaker"
        await pilot.press("slash", "2")
        await pilot.pause()
        assert app.query_one("#filter").value == "2" and panes.active == "breaker"
        await quiesce(app, pilot)


# --- 3. Home / End / PageUp / PageDown select rows --------------------------------


async def test_home_end_and_page_keys_select_rows():
    names = [f"svc-{i:02d}" for i in range(40)]
    app, _, _ = make_app([service(n) for n in names])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        board = app.query_one(BreakerBoard)
        await pilot.press("end")
        await pilot.pause()
        assert board.selected_service == "svc-39"
        assert "svc-39" in line_with(screen_text(app), "svc-39")  # the names stay in view
        await pilot.press("home")
        await pilot.pause()
        assert board.selected_service == "svc-00"
        assert "svc-00" in screen_text(app)
        await pilot.press("pagedown")
        await pilot.pause()
        down = names.index(board.selected_service)
        assert down > 1
        await pilot.press("pageup")
        await pilot.pause()
        assert names.index(board.selected_service) < down
        await quiesce(app, pilot)


# --- 5. The header says what a filter hides ---------------------------------------


async def test_the_header_says_what_the_filter_hides():
    app, source, _ = make_app([service("payment-api"), service("inventory-svc"),
                               service("user-svc", S.HALF_OPEN), service("pay-gw")])
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "p", "a", "y", "enter")
        await pilot.pause()
        header = flat(screen_text(app))
        assert "filter /pay hides 1 HALF-OPEN" in header, header
        source.services[1] = service("inventory-svc", S.OPEN)
        await poll(app, pilot)
        header = flat(screen_text(app))
        assert "filter /pay hides 1 OPEN, 1 HALF-OPEN" in header, header
        await pilot.press("escape")
        await pilot.pause()
        assert "hides" not in flat(screen_text(app))
        await quiesce(app, pilot)


# --- 6. ERR% counts rejected calls ------------------------------------------------------


def test_err_percent_is_what_users_saw_fail():
    assert rates("a", S.OPEN, fail=0.0, ok=0.0, rej=29.0).error_percent == 100.0
    share = rates("a", S.OPEN, fail=1.0, ok=9.0, rej=29.0).error_percent
    assert abs(share - 100 * 30 / 39) < 1e-9
    assert rates("a", fail=1.0, ok=9.0, rej=0.0).error_percent == 10.0
    assert rates("a").error_percent is None  # no calls at all
    unknown = ServiceStatus(service="a", instances=(InstanceStatus(instance="i", state=S.OPEN),))
    assert unknown.error_percent is None
    # A source without a rejection counter (the runbook's): failures over calls made.
    no_rej = ServiceStatus(service="a", instances=(InstanceStatus(
        instance="i", state=S.CLOSED, failure_rate=1.0, success_rate=3.0),))
    assert no_rej.error_percent == 25.0


def test_the_trend_uses_the_same_share():
    history = FleetHistory()
    history.apply(FleetSnapshot(fetched_at=START, services=(
        rates("a", S.OPEN, fail=0.0, ok=0.0, rej=29.0),)))
    assert history.error_series("a") == [100.0]


async def test_the_board_shows_rejections_as_errors():
    app, _, _ = make_app([rates("payment-api", S.OPEN, fail=0.0, ok=0.0, rej=29.0)])
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        assert "100.0%" in line_with(screen_text(app), "payment-api")
        await quiesce(app, pilot)


# --- 7. At 80 columns the state and rate columns stay -----------------------------------


async def test_80_columns_keep_state_and_rates(tmp_path):
    app, c, journal = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for _ in range(10):
            await poll(app, pilot, c, POLL_S)
        text = screen_text(app)
        header = line_with(text, "SERVICE")
        for title in ("SERVICE", "STATE", "ERR%", "REJ/s", "NEXT PROBE"):
            assert title in header, header
        lines = text.splitlines()
        below = lines[lines.index(header) + 1:]
        row = next(line for line in below if "payment-api" in line)
        assert "OPEN" in row and "%" in row, text
        assert "LAST TRANSITION" not in header  # dropped, not cut off
        await quiesce(app, pilot)


async def test_wide_terminals_show_every_column():
    app, _, _ = make_app([service("payment-api", S.OPEN)])
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(app, pilot)
        header = line_with(screen_text(app), "SERVICE")
        for title in ("STATE", "ALERT", "INST", "FOR", "ERR%", "FAIL/s", "OK/s", "REJ/s",
                      "ERR% TREND", "NEXT PROBE", "LAST TRANSITION"):
            assert title in header, header
        await quiesce(app, pilot)


# --- 4. The command palette runs every key binding ----------------------------------


async def test_the_palette_finds_and_runs_the_bindings():
    from textual.command import CommandList, CommandPalette
    from textual.widgets import TabbedContent

    app, _, _ = make_app([service("payment-api", S.OPEN), service("user-svc")])

    def palette_lines() -> list[str]:
        if not CommandPalette.is_open(app):
            return []
        found = app.screen.query(CommandList)
        if not found:
            return []
        options = found.first()
        return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

    async def wait_for(condition) -> None:
        for _ in range(200):  # the palette searches in a worker: wait for what it shows
            if condition():
                return
            await pilot.pause(0.05)

    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        panes = app.query_one("#panes", TabbedContent)
        for query, shown, done in (
            ("timeline", "Timeline (pane timeline)", lambda: panes.active == "timeline"),
            ("acknowledge", "Ack (acknowledge)", lambda: "No open incident" in flat(screen_text(app))),
            ("filter", "Filter", lambda: app.query_one("#filter").has_class("-active")),
        ):
            await pilot.press("ctrl+p")
            await wait_for(lambda: CommandPalette.is_open(app))
            for ch in query:
                await pilot.press(ch)
            await wait_for(lambda: any(shown in line for line in palette_lines()))
            line = next((line for line in palette_lines() if shown in line), "")
            assert line, (query, palette_lines())
            binding = next(b for b in CBConsoleApp.BINDINGS if shown.startswith(b.description))
            assert line.splitlines()[0].split()[-1] == app.get_key_display(binding), line
            index = next(i for i, line in enumerate(palette_lines()) if line.startswith(shown))
            options = app.screen.query_one(CommandList)
            for _ in range(10):  # highlight the hit
                if options.highlighted == index:
                    break
                await pilot.press("down" if options.highlighted is None
                                  or options.highlighted < index else "up")
            await pilot.press("enter")
            await wait_for(done)
            assert done(), (query, flat(screen_text(app)))
            await pilot.press("escape")
            await pilot.pause()
        await quiesce(app, pilot)


async def test_every_binding_is_a_palette_command():
    from textual.binding import Binding

    from widgets.commands import KeyCommands

    app, _, _ = make_app([service("payment-api", S.OPEN)])
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        provider = KeyCommands(app.screen)
        hits = [hit async for hit in provider.discover()]
        shown = {str(hit.prompt).splitlines()[0] for hit in hits}
        for binding in CBConsoleApp.BINDINGS:
            if isinstance(binding, Binding):
                key = app.get_key_display(binding)
                assert any(line.startswith(binding.description) and line.split()[-1] == key
                           for line in shown), (binding.description, shown)
        found = [hit async for hit in provider.search("restart")]
        assert found and "r" in str(found[0].prompt)
        await quiesce(app, pilot)


async def test_narrowing_the_terminal_drops_columns_and_keeps_the_selection():
    app, _, _ = make_app([service(f"svc-{i:02d}") for i in range(5)])
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        board = app.query_one(BreakerBoard)
        header = line_with(screen_text(app), "SERVICE")
        assert "REJ/s" in header and "LAST TRANSITION" not in header, header
        assert board.selected_service == "svc-02"
        await pilot.resize_terminal(160, 30)
        await pilot.pause()
        assert "LAST TRANSITION" in line_with(screen_text(app), "SERVICE")
        assert board.selected_service == "svc-02"
        await quiesce(app, pilot)
