"""Issue 19, the silence across the console's life, on the Debian package's
Alertmanager: quitting leaves it to expire by itself and says so (on the
terminal: cbconsole run in tmux) and journals it; a console restarted during
the incident takes its own silence back from the journal, read back from
Alertmanager: extended while the page fires and expired by R if still
active, said to be over and never extended if it ended meanwhile."""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timezone

import pytest

from console.clock import FakeClock
from tests.alertmanager import SERVICE
from tests.amconsole import am, console, firing, header, single  # noqa: F401
from tests.screen import keep_notifications, wait_until, wait_until_sync
from tests.tmux import CBCONSOLE, Terminal

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]


def journaled(state) -> list[dict]:
    """The journal's action events as on disk, every incident file."""
    return [e for path in sorted(state.rglob("*.jsonl"))
            for e in map(json.loads, filter(str.strip, path.read_text().splitlines()))
            if e["kind"] == "action"]


def screen_name(app) -> str:
    return type(app.screen).__name__


async def silence_then_quit(tmp_path, backend, manager, *, close: bool = True):
    """The first console: the page silenced with a y, then q. (The silence,
    its journal); `close`: the journal closed, else its lock is held (as by
    a console still running)."""
    app = console(tmp_path, backend, manager)
    async with app.run_test(size=(200, 50)) as pilot:
        await firing(app, pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: screen_name(app) == "YesNo", "the silence dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: manager.silences("active"), "a silence in Alertmanager")
        await wait_until(pilot, lambda: app.silences.held, "the silence held")
    if close:
        app.tracker.journal.close()
    else:
        app.tracker.journal.flush_pending()
    [made] = manager.silences("active")
    left = [e for e in journaled(tmp_path / "state")
            if e["details"].get("action") == "silence_left"]
    assert [e["details"]["silence_id"] for e in left] == [made["id"]]
    assert "ends by itself" in left[0]["details"]["message"]
    return made, app.tracker.journal


async def test_a_restarted_console_takes_its_silence_back_extends_it_and_R_expires_it(
        am, tmp_path):
    manager, backend = am
    made, _ = await silence_then_quit(tmp_path, backend, manager)
    clock = FakeClock(datetime.now().astimezone())
    app = console(tmp_path, backend, manager, clock=clock)  # the incident resumed
    said = keep_notifications(app)  # before the first poll, which may say it
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: any(made["id"] in s and "taken back" in s for s in said),
                         "the silence taken back, said")
        assert [s["id"] for s in manager.silences("active")] == [made["id"]]  # none new
        clock.advance(3600 - 120)  # two minutes left: due while the page fires
        await wait_until(pilot, lambda: [s["endsAt"] for s in manager.silences("active")]
                         != [made["endsAt"]], "the taken-back silence extended", 60)
        [longer] = manager.silences("active")
        assert (longer["createdBy"], longer["comment"]) == (made["createdBy"], made["comment"])
        await wait_until(pilot, lambda: app.silences.held[SERVICE].silence_id == longer["id"],
                         "the console follows the extended silence")
        await pilot.press("R")
        await wait_until(pilot, lambda: screen_name(app) == "YesNo", "the expire dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: manager.silences("active") == [],
                         "the silence expired in Alertmanager")
        assert longer["id"] in {s["id"] for s in manager.silences("expired")}
    steps = [(e["details"]["action"], e["details"]["stage"]) for e in journaled(tmp_path / "state")]
    assert ("silence_adopted", "succeeded") in steps
    assert steps[-3:] == [("silence_expire", "confirmed"), ("silence_expire", "sent"),
                          ("silence_expire", "succeeded")]


async def test_a_silence_that_ended_meanwhile_is_said_so_and_never_extended(am, tmp_path):
    manager, backend = am
    made, _ = await silence_then_quit(tmp_path, backend, manager)
    manager.expire_all()  # a colleague's `amtool silence expire` while the console was down
    clock = FakeClock(datetime.now().astimezone())
    app = console(tmp_path, backend, manager, clock=clock)
    said = keep_notifications(app)  # before the first poll, which may say it
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: any(made["id"] in s and "expired meanwhile" in s
                                            and "not extended" in s for s in said),
                         "the ended silence, said")
        clock.advance(3600 - 120)  # when it would have been due
        polls = []
        for _ in range(3):  # three more polls: none extends it
            last = app.poller.snapshot
            await wait_until(pilot, lambda: app.poller.snapshot is not last, "a poll")
            polls.append(app.poller.snapshot)
        assert manager.silences("active") == []
        await pilot.press("R")  # no silence held: straight to the resolve prompt
        await wait_until(pilot, lambda: screen_name(app) == "TextPrompt", "the resolve prompt")
        await pilot.press("escape")
    steps = [(e["details"]["action"], e["details"]["stage"]) for e in journaled(tmp_path / "state")]
    assert ("silence_adopted", "failed") in steps
    assert not any(action in ("silence_extend", "silence_expire") for action, _ in steps)


async def test_a_console_following_anothers_journal_takes_no_silence_until_it_takes_over(
        am, tmp_path):
    """The other console holds the journal (and would extend its own
    silence): a follower never extends it; once the journal is its own, it does."""
    from console.incident.follow import open_or_follow

    manager, backend = am
    made, holder = await silence_then_quit(tmp_path, backend, manager, close=False)
    clock = FakeClock(datetime.now().astimezone())
    app = console(tmp_path, backend, manager, clock=clock,
                  journal=open_or_follow(tmp_path / "state"))
    said = keep_notifications(app)  # before the first poll, which may say it
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: "JOURNAL followed read-only" in header(app),
                         "the follower says so")
        clock.advance(3600 - 120)  # due, were it this console's
        for _ in range(3):
            last = app.poller.snapshot
            await wait_until(pilot, lambda: app.poller.snapshot is not last, "a poll")
        assert [s["endsAt"] for s in manager.silences("active")] == [made["endsAt"]]
        assert not any("taken back" in s for s in said)
        holder.close()  # the other console is gone: its journal free to take over
        await wait_until(pilot, lambda: any(made["id"] in s and "taken back" in s for s in said),
                         "the silence taken back after the take-over", 60)
        await wait_until(pilot, lambda: [s["endsAt"] for s in manager.silences("active")]
                         != [made["endsAt"]], "then extended", 60)


def test_quitting_says_the_silence_is_left_to_expire_by_itself(am, tmp_path):
    """cbconsole on a terminal: a, y, then q; what it prints once the screen
    is gone names the silence and its end, and the journal has it."""
    manager, backend = am
    config = tmp_path / "config.toml"
    config.write_text(f'poll_interval_s = 1\n[prometheus]\nurl = "{backend.url}"\n'
                      f'[alertmanager]\nurl = "{manager.url}"\nack_silence = "1h"\n')
    argv = [str(CBCONSOLE), "--config", str(config), "--state-dir", str(tmp_path / "state")]
    script = tmp_path / "run.sh"
    script.write_text(f"export HOME={shlex.quote(str(tmp_path))} KUBECONFIG=/nonexistent\n"
                      "unset COLUMNS LINES\n"
                      f"{shlex.join(argv)}\n"
                      'echo "[cbconsole exited $?]"\n'
                      "sleep 3600\n")
    terminal = Terminal(script, size=(200, 50))
    try:
        terminal.wait_for(lambda text: "FIRING" in text, "the page firing on the board")
        terminal.keys("a")
        terminal.wait_for(lambda text: "amtool silence add" in text, "the silence dialog")
        terminal.keys("y")
        wait_until_sync(lambda: manager.silences("active"), "a silence in Alertmanager", 60)
        terminal.wait_for(lambda text: "SILENCED" in text, "SILENCED on the board")
        [made] = manager.silences("active")
        terminal.keys("q")
        text = terminal.wait_for(lambda text: "[cbconsole exited" in text, "cbconsole gone")
    finally:
        terminal.close()
    ends = datetime.fromisoformat(made["endsAt"].replace("Z", "+00:00")).astimezone(timezone.utc)
    assert (f"cbconsole: Alertmanager silence {made['id']} ({SERVICE}) left in place; it ends "
            f"by itself at {ends:%Y-%m-%d %H:%M:%S} UTC") in text
    assert "[cbconsole exited 0]" in text
    assert manager.silences("active") == [made] or [s["id"] for s in
                                                    manager.silences("active")] == [made["id"]]
    left = [e for e in journaled(tmp_path / "state")
            if e["details"].get("action") == "silence_left"]
    assert [(e["details"]["silence_id"], e["actor"]) for e in left] == [
        (made["id"], left[0]["actor"])] and left[0]["actor"] not in ("", "unknown")
