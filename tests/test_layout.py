"""The screen at the sizes operators have: an 80x24 terminal keeps the
footer's incident keys and each dialog's title, target and context; a 300-
service fleet at 160x45 leaves the panes and the header on screen."""

from __future__ import annotations

import pytest
from textual.containers import VerticalScroll

from console.ui.app import CBConsoleApp
from console.model.fleet import BreakerState as S
from tests.democonsole import SMALL, demo_app, incident_on_screen
from tests.fakes import ScriptedSource, clock, service
from tests.screen import line_with, screen_text, wait_until
from widgets.confirm import ConfirmDialog
from widgets.prompts import RootCausePrompt, TextPrompt

pytestmark = [pytest.mark.ui, pytest.mark.slow]

def shown_bindings(app) -> list[str]:
    """The footer's keys: shown, and not hidden by check_action (the sites key
    is for a board of more than one site)."""
    return [f"{app.get_key_display(b)} {b.description}" for b in app.BINDINGS
            if b.show and app.check_action(b.action.split("(")[0], ())]


async def test_footer_shows_every_key_at_80x24(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        footer = "\n".join(screen_text(app).splitlines()[-2:])
        missing = [b for b in shown_bindings(app) if b not in footer]
        assert not missing, f"not in the footer at 80x24: {missing}\n{footer}"
        assert "^p palette" in footer


async def test_footer_stays_one_line_when_it_fits(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await incident_on_screen(app, pilot, clock)
        lines = screen_text(app).splitlines()
        assert all(b in lines[-1] for b in shown_bindings(app)), lines[-1]


async def open_dialog(app, pilot, key: str, kind):
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, kind), f"{key} opens {kind.__name__}")
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


@pytest.mark.parametrize("key", ["r", "u", "f", "d", "s"])
async def test_action_dialog_shows_title_target_context_at_80x24(tmp_path, key):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        dialog = await open_dialog(app, pilot, key, ConfirmDialog)
        plan = dialog.plan
        text = screen_text(app)
        assert plan.title in text, text
        target = line_with(text, "Target")
        assert plan.target in target, text
        if plan.namespace:  # a cluster action (the flag and the smoke test have no context)
            assert plan.namespace in line_with(text, "Namespace"), text
            assert (plan.context or "(current)") in line_with(text, "Context"), text
        assert "Confirm (y)" in text or "Show only (y)" in text, text
        # The rest scrolls under them: the equivalent command is there, and
        # the title is still shown when it is.
        dialog.query_one(VerticalScroll).scroll_end(animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert "Same as" in text and plan.title in text, text
        # The keys still work.
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog), "n cancels")


async def test_restart_dialog_keeps_its_title_after_switching_target(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        dialog = await open_dialog(app, pilot, "r", ConfirmDialog)
        await pilot.press("t")
        await pilot.pause()
        plan = dialog.plan
        text = screen_text(app)
        assert plan.title in text and plan.target in line_with(text, "Target"), text


async def test_note_prompt_shows_title_and_incident_at_80x24(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        await open_dialog(app, pilot, "n", TextPrompt)
        text = screen_text(app)
        incident = app.journal.tracker.journal.incident_id
        assert "Note for the incident timeline" in text, text
        assert incident in line_with(text, "Incident"), text


async def test_root_cause_prompt_shows_title_incident_and_field_at_80x24(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        await open_dialog(app, pilot, "c", RootCausePrompt)
        text = screen_text(app)
        assert "Root cause identified" in text, text
        assert app.journal.tracker.journal.incident_id in line_with(text, "Incident"), text
        # Typing goes to the sentence, which is on screen.
        for ch in "pool":
            await pilot.press(ch)
        await pilot.pause()
        assert "pool" in screen_text(app)


async def test_resolve_dialog_shows_title_and_services_at_80x24(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        await open_dialog(app, pilot, "R", TextPrompt)
        text = screen_text(app)
        assert f"Resolve incident {app.journal.tracker.journal.incident_id}?" in text, text
        assert "payment-api" in line_with(text, "Services"), text
        assert "enter resolves" in text, text


async def test_acknowledge_shows_on_screen_at_80x24(tmp_path):
    # `a` has no dialog: it acts at once; the header says so at 80x24.
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        await pilot.press("a")
        await wait_until(pilot, lambda: "acknowledged" in screen_text(app), "the header says acknowledged")


def big_fleet(n: int = 300):
    names = [f"svc-{i:03d}" for i in range(n)]
    services = [service(name) for name in names]
    services[7] = service(names[7], S.OPEN, S.OPEN, S.CLOSED)
    return services


async def test_300_services_at_160x45_leave_the_panes_and_header_on_screen():
    c = clock()
    app = CBConsoleApp(ScriptedSource(c, big_fleet()), poll_interval=1000.0, clock=c)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: app.query("Footer"), "the footer is mounted")
        lines = screen_text(app).splitlines()
        tabs = next((i for i, line in enumerate(lines) if "Breaker [1]" in line), None)
        assert tabs is not None, "the panes are not on screen:\n" + "\n".join(lines)
        assert tabs <= 45 * 0.6, f"the board takes {tabs} of 45 lines"
        assert "Transitions, newest first" in screen_text(app)
        for _ in range(3):  # into the panes and on: nothing scrolls the header away
            await pilot.press("tab")
            await pilot.pause()
            lines = screen_text(app).splitlines()
            assert lines[0].startswith(" cbconsole"), "\n".join(lines)
            assert any("Breaker [1]" in line for line in lines), "\n".join(lines)


async def test_panes_usable_at_80x24(tmp_path):
    app, clock = demo_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await incident_on_screen(app, pilot, clock)
        lines = screen_text(app).splitlines()
        tabs = next((i for i, line in enumerate(lines) if "Breaker [1]" in line), None)
        assert tabs is not None and tabs <= 14, "\n".join(lines)
        # The pane below the tabs has room for its content above the footer.
        assert len(lines) - 2 - (tabs + 2) >= 6, "\n".join(lines)
        assert "payment-api  OPEN" in screen_text(app)
        for key in ("tab", "2", "tab", "3"):
            await pilot.press(key)
            await pilot.pause()
            lines = screen_text(app).splitlines()
            assert lines[0].startswith(" cbconsole"), "\n".join(lines)


class Instrumented(CBConsoleApp):
    """A subclass defined in another package, as the load benchmark's is."""


async def test_a_subclass_defined_elsewhere_has_the_consoles_layout():
    # The layout's CSS is the App's file, wherever a subclass lives.
    c = clock()
    app = Instrumented(ScriptedSource(c, [service("payment-api", "open")]), poll_interval=3600,
                       clock=c)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: "payment-api" in screen_text(app), "the board")
        assert not app.query_one("#filter").display  # the CSS hides it until / is pressed
