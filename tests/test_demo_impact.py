"""Issue 12: in the demo the postmortem's impact is computed from the
simulation's own counters (failed + rejected over failed + succeeded +
rejected, per affected service, over the incident), not "unknown": from `e`
in the console and from `cbconsole export --demo --latest` run afterwards in
another process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import Journal
from console.incident.store import EventKind, affected_services
from screenshots.scenes import START
from tests.democonsole import POLL_S, type_text
from widgets.confirm import ConfirmDialog
from widgets.prompts import TextPrompt

pytestmark = [pytest.mark.ui, pytest.mark.integration]

ROOT = Path(__file__).resolve().parent.parent


def impact_line(text: str) -> str:
    return next(x for x in text.splitlines() if x.startswith("- Requests failed:"))


@pytest.mark.slow
async def test_demo_impact_comes_from_the_simulations_counters(tmp_path):
    clock = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=clock)
    state = tmp_path / "state"
    journal = Journal.open_or_resume(state / "demo", actor="alice", clock=clock)
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=10))
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=tracker, export_dir=tmp_path / "exports",
        poll_interval=3600, clock=clock, sleep=clock.advance,
    )
    # The simulation's own totals as each poll read them: a service counts
    # from the first poll that saw it in the incident to the last poll.
    first: dict[str, tuple[int, int, int]] = {}
    last: dict[str, tuple[int, int, int]] = {}

    async def poll(pilot) -> None:
        clock.advance(POLL_S)
        app.poller.start()
        await app.workers.wait_for_complete()
        await pilot.pause()
        for name in affected_services(journal.events) if journal.is_open else ():
            t = fleet.totals[name]
            first.setdefault(name, (t.failures, t.successes, t.rejected))
            last[name] = (t.failures, t.successes, t.rejected)

    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        for _ in range(10):
            await poll(pilot)
        assert journal.is_open
        board = app.query_one("#board")
        board.move_cursor(row=board.get_row_index("payment-api"))
        await pilot.pause()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        for _ in range(60):
            await poll(pilot)
            if any(e.kind == EventKind.SERVICE_RECOVERED and e.service == "payment-api"
                   for e in journal.events):
                break
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        await type_text(pilot, "restarted")
        await pilot.press("enter")
        await pilot.pause()
        assert not journal.is_open
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
    journal.close()

    failed = sum(last[s][0] - first[s][0] for s in first)
    succeeded = sum(last[s][1] - first[s][1] for s in first)
    rejected = sum(last[s][2] - first[s][2] for s in first)
    attempted = failed + succeeded + rejected
    assert failed + rejected > 0 and succeeded > 0, (failed, succeeded, rejected)
    share = f"{100 * (failed + rejected) / attempted:.1f}%"
    expected = (f"- Requests failed: {share} of the calls attempted failed or were rejected "
                f"({failed:,} failed + {rejected:,} rejected of {attempted:,} attempted")

    exported = list((tmp_path / "exports").glob("postmortem-*.md"))
    assert len(exported) == 1
    in_console = impact_line(exported[0].read_text())
    assert in_console.startswith(expected), in_console
    assert "demo fleet" in in_console

    # Afterwards, in another process: the same counts, from the journal alone.
    done = subprocess.run(
        [sys.executable, "-m", "console", "export", "--demo", "--latest",
         "--state-dir", str(state)],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert impact_line(done.stdout) == in_console
    assert not re.search(r"Requests failed: unknown", done.stdout)


def test_a_counter_reset_leaves_that_interval_out(tmp_path):
    """A console restarted mid-incident: the demo counts from 0 again."""
    from datetime import timedelta

    from console.incident.export import sampled_impact

    clock = FakeClock(START)
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    journal.open_incident("payment-api", services=["payment-api"], at=START)
    for minute, (f, s, r) in enumerate([(10, 100, 0), (30, 120, 50), (2, 5, 1), (12, 25, 11)]):
        journal.add(EventKind.COUNTERS, service="payment-api",
                    at=START + timedelta(minutes=minute),
                    details={"failures": f, "successes": s, "rejected": r, "source": "demo"})
    counted = sampled_impact(journal.events)
    journal.close()
    # (30-10)+(12-2) failed, (120-100)+(25-5) succeeded, 50+10 rejected
    assert (counted.failed, counted.succeeded, counted.rejected) == (30, 40, 60)
    assert round(counted.not_served_share, 4) == round(90 / 130, 4)
