"""A child process for tests/test_crash.py: appends notes to the journal in
a loop, printing "<incident> <id>" once each append is confirmed, until killed.

Usage: python -m tests.crashchild STATE_DIR [loop|torn] [SEED]
       python -m tests.crashchild STATE_DIR hold ISO_TIME
  hold: a first console for tests/test_follow.py: opens an incident at
  ISO_TIME, then appends a note per line read from stdin, printing
  "<incident> <id>" once each is written; at EOF it closes the journal
  (the lock is released, as when a console exits) and exits.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

from datetime import datetime

from console.clock import FakeClock
from console.incident.journal import EventKind, Journal, append_durably


def tearing_writer(path: Path, data: bytes) -> None:
    """Writes the first event whole, then half of the next and dies, as a crash
    in the middle of a write would."""
    if not path.exists() or path.stat().st_size == 0:
        append_durably(path, data)
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, data[: len(data) // 2])
    os.fsync(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def blocked(state_dir: Path) -> None:
    """A state dir that cannot be written: every append must say False and
    keep the event; nothing may claim it was recorded."""
    journal = Journal.open_or_resume(state_dir, actor="crash-test")
    journal.open_incident("payment-api")
    for n in range(3):
        ok = journal.append(EventKind.NOTE, details={"text": f"note {n}"})
        print(f"append {ok} pending {len(journal.pending)} problem {journal.problem}", flush=True)


def hold(state_dir: Path, at: datetime) -> None:
    journal = Journal.open_or_resume(state_dir, actor="alice", clock=FakeClock(at))
    if not journal.is_open:
        journal.open_incident("payment-api", details={
            "severity": "P0", "alert": "CircuitBreakerOpen", "alert_active_at": at.isoformat()})
    print(f"{journal.incident_id} {journal.events[-1].id}", flush=True)
    for line in sys.stdin:
        event = journal.add(EventKind.NOTE, details={"text": line.strip()})
        print(f"{journal.incident_id} {event.id} {journal.is_written(event)}", flush=True)
    journal.close()


def main() -> None:
    state_dir, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "blocked":
        return blocked(state_dir)
    if mode == "hold":
        return hold(state_dir, datetime.fromisoformat(sys.argv[3]))
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    writer = tearing_writer if mode == "torn" else append_durably
    journal = Journal.open_or_resume(state_dir, actor="crash-test", writer=writer)
    out = sys.stdout
    if not journal.is_open:
        opened = journal.open_incident("payment-api")
        if journal.is_written(opened):
            out.write(f"{journal.incident_id} {opened.id}\n")
            out.flush()
    while True:
        # Sizes vary, so the kill lands in writes big and small.
        text = "x" * rng.choice((10, 200, 4000, 30000))
        event = journal.add(EventKind.NOTE, details={"text": text})
        if journal.is_written(event):
            out.write(f"{journal.incident_id} {event.id}\n")
            out.flush()


if __name__ == "__main__":
    main()
