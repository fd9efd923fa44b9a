"""The journal under kill -9: a child process appends and reports each
confirmed event; killed at random moments, then resumed, no confirmed event
may be missing and the file must load."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.incident.journal import EventKind, Journal
from console.incident.store import load_incident, read_events

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 50


def child(state_dir: Path, mode: str, seed: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crashchild", str(state_dir), mode, str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def confirmed_of(output: bytes) -> list[tuple[str, int]]:
    # The last line may be cut by the kill: only whole lines count.
    return [(a, int(b)) for a, b in (line.split() for line in output.decode().splitlines(True)
                                      if line.endswith("\n"))]


@pytest.mark.slow
def test_every_confirmed_event_survives_kill_minus_9(tmp_path):
    rng = random.Random(20250102)
    confirmed: list[tuple[str, int]] = []
    for round_ in range(ROUNDS):
        proc = child(tmp_path, "loop", seed=round_)
        first = proc.stdout.readline()  # it is running and has written one
        assert first, proc.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.05))
        proc.kill()  # SIGKILL: no cleanup, no flush, mid-write or not
        rest = proc.stdout.read()
        assert proc.wait() == -signal.SIGKILL
        confirmed += confirmed_of(first + rest)

        loaded = read_events(next(tmp_path.glob("incident-*.jsonl")))
        ids = [e.id for e in loaded.events]
        assert ids == sorted(set(ids)), "ids are unique and increasing"
        missing = {i for _, i in confirmed} - set(ids)
        assert not missing, f"round {round_}: confirmed but lost: {sorted(missing)}"
        # Nothing but a torn tail is ever wrong with the file.
        assert all("torn last line" in p for p in loaded.problems), loaded.problems

    assert len({incident for incident, _ in confirmed}) == 1  # resumed every time
    assert len(confirmed) > ROUNDS
    with Journal.open_or_resume(tmp_path) as journal:
        assert journal.is_open
        assert journal.append(EventKind.RESOLVED)
    assert load_incident(tmp_path, confirmed[0][0]).problems == ()


def test_a_write_torn_by_a_crash_is_reported_and_the_next_starts_clean(tmp_path):
    proc = child(tmp_path, "torn")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    confirmed = confirmed_of(out)
    assert [i for _, i in confirmed] == [1]  # the opening; the note was torn
    path = next(tmp_path.glob("incident-*.jsonl"))
    assert not path.read_bytes().endswith(b"\n")

    journal = Journal.open_or_resume(tmp_path)
    assert len(journal.problems) == 1 and "torn last line" in journal.problems[0]
    assert [e.id for e in journal.events] == [1]
    assert journal.append(EventKind.NOTE, details={"text": "after the crash"})
    journal.close()
    loaded = read_events(path)
    assert loaded.problems == ()
    assert [(e.id, e.kind) for e in loaded.events] == [
        (1, EventKind.INCIDENT_OPENED), (2, EventKind.NOTE)]


def test_two_consoles_on_one_state_dir(tmp_path):
    """The second is told who holds the directory and follows its incident
    read-only, new lines as they come; once the first dies (even by kill -9)
    the lock is gone and the second takes the incident over."""
    from argparse import Namespace

    from console.cli import open_journal
    from console.config import Config
    from console.incident.journal import JournalLocked

    state = tmp_path / "demo"  # where `--demo --state-dir tmp_path` keeps it
    proc = child(state, "loop")
    try:
        first_line = proc.stdout.readline()
        assert first_line, proc.stderr.read().decode()
        incident = first_line.split()[0].decode()
        try:
            Journal.open_or_resume(state)
        except JournalLocked as locked:
            assert f"pid {proc.pid}" in str(locked) and str(state) in str(locked)
        else:
            raise AssertionError("a second journal opened the directory")
        tracker, why = open_journal(Config(), Namespace(demo=True, state_dir=tmp_path), None)
        assert tracker is not None and why == "", why
        from console.incident.follow import take_over
        followed = tracker.journal
        assert followed.read_only and followed.holder == str(proc.pid)
        assert followed.incident_id == incident and followed.is_open
        seen = max(e.id for e in followed.events)
        deadline = time.monotonic() + 60
        while max(e.id for e in followed.events) <= seen:  # the child keeps writing
            assert time.monotonic() < deadline, "the follower never saw a new event"
            followed.refresh()
        ids = [e.id for e in followed.events]
        assert ids == list(range(1, len(ids) + 1)), "every event, once, in order"
        assert take_over(followed) is None  # still held
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    last = max(n for _, n in confirmed_of(first_line + out))
    resumed = take_over(followed)
    assert resumed is not None and not resumed.read_only
    assert resumed.incident_id == incident and resumed.is_open
    assert max(e.id for e in resumed.events) >= last
    assert resumed.append(EventKind.NOTE, details={"text": "taken over"})
    resumed.close()


def test_a_state_dir_that_cannot_be_written(tmp_path):
    """In a process of its own: every append says False and waits in memory;
    nothing is claimed written. (Root writes through permission bits, so the
    directory is blocked by a file in its place.)"""
    blocked = tmp_path / "state"
    blocked.write_text("not a directory")
    proc = child(blocked, "blocked")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert [line.split()[:4] for line in lines] == [
        ["append", "False", "pending", str(n)] for n in (2, 3, 4)]
    assert all("journal not writable" in line for line in lines)
    assert blocked.read_text() == "not a directory"
