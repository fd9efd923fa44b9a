"""Two consoles on one state directory (Pilot): the second follows the first
one's journal read-only. Its header says who records the incident, the
incident keys send the operator to that console and change nothing, its
timeline shows the first console's events as they are written, a mutating
dialog says it is not journaled here, and once the first console exits the
second takes the journal over. The first console is a process of its own
(tests/crashchild.py hold) where the lock has to be real."""

from __future__ import annotations

import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from console.ui.app import CBConsoleApp
from console.cli import open_journal
from console.config import Config
from console.demo import DemoFleet, demo_service_map
from console.incident.journal import Journal
from console.incident.store import EventKind, load_incident
from console.model.fleet import Alert, BreakerState as S
from tests.fakes import ScriptedSource, T0, clock, service
from tests.screen import flat, quiesce, screen_text, settle, wait_until
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 60.0  # generous: a loaded 2-core machine; the wait ends at the event


class FirstConsole:
    """The console that holds the journal: a process of its own."""

    def __init__(self, state: Path, at) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crashchild", str(state), "hold", at.isoformat()],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1,
        )
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        self.incident_id = line.split()[0]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def note(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().split()[2] == "True"  # on disk

    def exit(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()


@pytest.fixture
def first(tmp_path):
    console = FirstConsole(tmp_path / "demo", T0 + _minutes(1))
    yield console
    console.kill()


def _minutes(n: float):
    from datetime import timedelta

    return timedelta(minutes=n)


def second_console(tmp_path, source, c, **kw) -> CBConsoleApp:
    """Built as `cbconsole --demo --state-dir tmp_path` builds its journal."""
    tracker, why = open_journal(Config(), Namespace(demo=True, state_dir=tmp_path), source)
    return CBConsoleApp(source, tracker=tracker, journal_unavailable=why, poll_interval=3600,
                        clock=c, **kw)


def scripted(c) -> ScriptedSource:
    source = ScriptedSource(c, [service("payment-api", S.OPEN, since=T0 + _minutes(1)),
                                service("inventory-svc")])
    source.alerts = (Alert(name="CircuitBreakerOpen", state="firing", service="payment-api",
                           active_at=T0 + _minutes(1)),)
    return source


def header(app) -> str:
    return flat(str(app.query_one("#status").content))


def toasts(app) -> str:
    return flat(" ".join(
        "".join(s.text for s in t.render_line(y))
        for t in app.screen.query("Toast") for y in range(t.size.height)))


async def test_the_header_says_the_journal_is_followed_and_shows_the_open_incident(
        tmp_path, first):
    c = clock()
    app = second_console(tmp_path, scripted(c), c)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        text = header(app)
        assert (f"JOURNAL followed read-only: another console (pid {first.pid}) records this "
                "incident") in text
        assert "NOT recorded" not in text
        # The open incident and its response clock, as the first console has them.
        assert f"P0 incident {first.incident_id}: acknowledge (a) within 1m00s" in text
        await quiesce(app, pilot)


async def test_incident_keys_send_the_operator_to_the_other_console(tmp_path, first):
    c = clock()
    app = second_console(tmp_path, scripted(c), c)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        for key, words in (("a", "acknowledge"), ("n", "add a note"), ("N", "amend a note"),
                           ("c", "set the root cause"), ("R", "resolve"),
                           ("S", "split a service off")):
            app.clear_notifications()
            await pilot.press(key)
            await settle(app, pilot)
            assert app.screen is app.screen_stack[0], f"{key} opened a dialog"
            assert (f"another console records this incident (pid {first.pid}): use it to "
                    f"{words}") in toasts(app), key
            assert "No open incident" not in toasts(app)
        await quiesce(app, pilot)
    loaded = load_incident(tmp_path / "demo", first.incident_id)
    assert [e.kind for e in loaded.events] == [EventKind.INCIDENT_OPENED]  # nothing changed


async def test_the_timeline_shows_the_first_consoles_events_as_it_writes_them(
        tmp_path, first):
    c = clock()
    app = second_console(tmp_path, scripted(c), c)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert first.incident_id in screen_text(app)
        first.note("pool exhausted since rev 14")
        # Re-read each second (a worker), not at a poll: the poll is an hour away.
        await wait_until(pilot, lambda: "pool exhausted since rev 14" in screen_text(app),
                         "the first console's note in the second's timeline", DEADLINE_S)
        first.note("second note from alice")
        await wait_until(pilot, lambda: "second note from alice" in screen_text(app),
                         "the next note", DEADLINE_S)
        assert screen_text(app).count("pool exhausted since rev 14") == 1  # new bytes only
        await quiesce(app, pilot)


async def test_the_follower_takes_the_journal_over_when_the_first_console_exits(
        tmp_path, first):
    c = clock()
    app = second_console(tmp_path, scripted(c), c)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        first.note("handing over to bob")
        first.exit()
        taken = f"took over the journal: this console now records incident {first.incident_id}"
        await wait_until(pilot, lambda: taken in toasts(app), "the takeover, said", DEADLINE_S)
        assert "JOURNAL" not in header(app)
        assert f"P0 incident {first.incident_id}: acknowledge (a)" in header(app)
        app.clear_notifications()
        await pilot.press("a")
        await settle(app, pilot)
        assert "Acknowledged: recorded" in toasts(app)
        await quiesce(app, pilot)
    # The same incident, resumed as a restart would: nothing lost, nothing twice.
    loaded = load_incident(tmp_path / "demo", first.incident_id)
    assert not loaded.problems
    assert [e.kind for e in loaded.events] == [
        EventKind.INCIDENT_OPENED, EventKind.NOTE, EventKind.ACKNOWLEDGED]
    assert [e.id for e in loaded.events] == [1, 2, 3]


async def test_a_restart_in_a_follower_says_it_is_not_journaled_here(tmp_path, first):
    from console.clock import FakeClock
    from screenshots.scenes import START

    c = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=c)
    app = second_console(tmp_path, fleet, c, cluster=fleet.cluster, flags=fleet.flags,
                         probe=fleet.probe, service_map=demo_service_map(), sleep=c.advance)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        board = app.query_one("#board")
        board.move_cursor(row=board.get_row_index("payment-api"))
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        body = flat(screen_text(app))
        assert "NOT be journaled in this console" in body
        assert f"another console (pid {first.pid}) records this incident" in body
        await pilot.press("n")
        await quiesce(app, pilot)


def test_a_follower_reads_only_what_is_new_and_waits_for_a_whole_line(tmp_path):
    """A line being written (no newline yet) is not an error and not lost."""
    from console.incident.follow import open_or_follow

    writer = Journal.open_or_resume(tmp_path, actor="alice")
    writer.open_incident("payment-api")
    follower = open_or_follow(tmp_path)
    assert follower.read_only and follower.holder == str(__import__("os").getpid())
    follower.refresh()
    assert [e.id for e in follower.events] == [1] and follower.is_open
    path = writer.path
    line = b'{"id": 2, "at": "2026-11-27T09:02:00Z", "kind": "note", "details": {"text": "hi"}}\n'
    with open(path, "ab") as f:
        f.write(line[:30])
    assert follower.refresh() is False and [e.id for e in follower.events] == [1]
    assert follower.problems == []
    with open(path, "ab") as f:
        f.write(line[30:])
    assert follower.refresh() is True
    assert [(e.id, e.details.get("text")) for e in follower.events] == [(1, None), (2, "hi")]
    writer.close()


async def test_a_restart_confirmed_in_a_follower_is_in_the_export(tmp_path, first, capsys):
    """Not in the other console's journal, but not lost: a side file of this
    console's, which `cbconsole export` merges into the incident."""
    from console.clock import FakeClock
    from console.incident.export import main as export_main
    from screenshots.scenes import START

    c = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=c)
    app = second_console(tmp_path, fleet, c, cluster=fleet.cluster, flags=fleet.flags,
                         probe=fleet.probe, service_map=demo_service_map(), sleep=c.advance)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        board = app.query_one("#board")
        board.move_cursor(row=board.get_row_index("payment-api"))
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "the export merges them" in flat(screen_text(app))
        target = app.screen.plan.target
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.mitigations.in_flight, "the restart's outcome", DEADLINE_S)
        await quiesce(app, pilot)
    loaded = load_incident(tmp_path / "demo", first.incident_id)
    assert [e.kind for e in loaded.events] == [EventKind.INCIDENT_OPENED]  # its file: untouched
    capsys.readouterr()
    assert export_main(["--demo", "--state-dir", str(tmp_path), "--incident", first.incident_id,
                        "--no-impact"]) == 0
    out = capsys.readouterr().out
    assert f"Action restart on {target}: confirmed" in out
    assert f"Mitigation applied (restart on {target})" in out
