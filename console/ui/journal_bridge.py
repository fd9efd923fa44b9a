"""The console's side of the incident journal: the tracker (or why there is
none), the lock between the poll worker and the keys, the writes off the
loop, and a journal another console writes (followed read-only, taken over
when that console exits)."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import suppress
from typing import Callable

from textual.app import App
from textual.message import Message

from console.diagnosis.findings import Diagnosis
from console.errors import describe_error
from console.incident.follow import FollowedJournal, take_over
from console.incident.tracker import IncidentTracker
from console.model.fleet import FleetSnapshot
from console.ui.journal_writer import JournalWrites
from console.ui.recorder import AppRecorder

log = logging.getLogger(__name__)


class Followed(Message):
    """A followed journal was read again; `taken`: the tracker of the journal
    this console now holds, the other console having exited."""

    def __init__(self, tracker: IncidentTracker, taken: IncidentTracker | None) -> None:
        self.tracker = tracker
        self.taken = taken
        super().__init__()


def _on_loop() -> bool:
    """True on the app's event loop, False in a thread worker."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class JournalBridge:
    """`tracker` may be None (no journal: `unavailable` says why). `app`
    runs the workers and shows what went wrong; `recorder` hands the action
    steps to the journal this console holds; `redraw` draws every view."""

    def __init__(self, app: App, tracker: IncidentTracker | None, *, unavailable: str,
                 recorder: AppRecorder, redraw: Callable[[], None]) -> None:
        self.app = app
        self.tracker = tracker
        self.unavailable = unavailable
        self.recorder = recorder
        self.redraw = redraw
        self.lock = threading.RLock()  # fed by the poll worker, keys on the loop
        # Journal writes (each an fsync) in a worker, in order: never on the loop.
        self.writes = JournalWrites(app, self.journals)
        for journal in self.journals():
            self.writes.attach(journal)

    def call(self, call, *args):
        """Run one tracker call, from the event loop or the poll worker; a
        journal failure is shown, never fatal."""
        try:
            with self.lock:
                return call(*args)
        except Exception as error:  # noqa: BLE001 - JournalError, ValueError, OSError
            log.warning("journal call %s failed", getattr(call, "__name__", call), exc_info=True)
            message = f"journal: {describe_error(error)}"
            if _on_loop():
                self.app.notify(message, severity="error", timeout=10)
            else:
                with suppress(RuntimeError):  # the app is closing: nothing to tell
                    self.app.call_from_thread(self.app.notify, message, severity="error",
                                              timeout=10)
            return None

    def feed(self, snapshot: FleetSnapshot, stale: bool = False) -> None:
        """One poll's snapshot into the incident (the poller's call)."""
        if self.tracker is not None:
            self.call(self.tracker.feed, snapshot, stale)

    def trackers(self) -> list[IncidentTracker]:
        """The console's incident and its split-off ones."""
        return [] if self.tracker is None else [self.tracker, *self.tracker.split_off]

    def journals(self) -> list:
        """Every journal this console writes: its incident's and split-offs'."""
        return [t.journal for t in self.trackers()]

    def for_service(self, service: str | None) -> IncidentTracker | None:
        """The tracker of `service`'s incident: its own after a split, else
        the console's. None without a journal."""
        return None if self.tracker is None else self.tracker.for_service(service)

    # --- writes ------------------------------------------------------------------

    def due(self) -> None:
        self.writes.start()

    def written(self) -> None:
        for words, problem in self.writes.written():
            if problem is None:
                self.app.notify(f"{words}: recorded")
            else:
                self.not_written(words, problem)
        self.redraw()

    def not_written(self, what: str, problem: str | None) -> None:
        self.app.notify(f"{what}: NOT yet written ({problem}); kept in memory and retried",
                        severity="error", timeout=15)

    def record(self, what: str, call, *args) -> None:
        """An operator event: recorded, and said to be only once it is on disk."""
        if self.tracker is None:
            self.app.notify(f"No journal: {self.unavailable or 'not configured'}",
                            severity="error")
            return
        event = self.call(call, *args)
        if event is None:
            return
        journal = getattr(call, "__self__", self.tracker).journal  # the incident it went to
        if journal.is_written(event):
            self.app.notify(f"{what}: recorded")
        elif journal.on_pending is not None and not journal.problem:
            # Said once the writer has it on disk (written).
            self.writes.say_when_written(journal, event, what)
        else:
            self.not_written(what, journal.problem)
        self.redraw()

    def rollouts_seen(self, diagnosis: Diagnosis, site: str = "") -> None:
        """Rollouts of an affected service's deployments go into the incident."""
        service = diagnosis.target.service
        tracker = self.for_service(service)
        if tracker is None or not tracker.is_open or service not in tracker.services:
            return
        for view in (diagnosis.downstream, diagnosis.caller):
            for rv in view.revisions:
                self.call(tracker.rollout_seen, service,
                          f"{diagnosis.target.namespace}/{view.name}", rv.revision, site)

    def problem(self) -> str | None:
        """What the header says about the journal, or None."""
        if self.tracker is None:
            return self.unavailable or None
        followed = self.followed()
        if followed is not None:
            text = (f"followed read-only: {followed.who} records this incident"
                    if followed.incident_id else
                    f"followed read-only: {followed.who} records incidents here; none is open")
            return f"{text} ({followed.problem})" if followed.problem else text
        journal = next((j for j in self.journals() if j.problem), self.tracker.journal)
        if journal.problem:
            waiting = len(journal.pending)
            return f"{journal.problem}: {waiting} event(s) kept in memory, retried every second"
        return None

    # --- a journal another console writes (console.incident.follow) ----------------

    def followed(self) -> FollowedJournal | None:
        journal = self.tracker.journal if self.tracker is not None else None
        return journal if isinstance(journal, FollowedJournal) else None

    def refused_here(self, what: str) -> bool:
        """An incident key in a console that follows another one's journal:
        it writes nothing and says where to do it."""
        followed = self.followed()
        if followed is None:
            return False
        subject = "this incident" if followed.incident_id else "the incidents"
        self.app.notify(f"Read-only journal here: another console records {subject} "
                        f"(pid {followed.holder}): use it to {what}. Nothing was changed.",
                        severity="warning", timeout=10)
        return True

    def not_journaled_warning(self) -> str | None:
        """For a mutating dialog in a follower: said before it is confirmed."""
        followed = self.followed()
        if followed is None:
            return None
        side = followed.side_file
        if side is None:
            return (f"This action will NOT be journaled in this console: {followed.who} "
                    "records incidents here, and none is open: it is recorded nowhere.")
        return (f"This action will NOT be journaled in this console: {followed.who} records "
                f"this incident. Its steps are kept in {side.name} in the state directory; "
                "the export merges them. Say so in the other console (n).")

    def tick(self) -> None:
        """Each second: events waiting for a writable disk, in order; and, in
        a worker (file reads), what a followed console wrote and whether its
        lock is free to take over."""
        self.writes.retry()
        if self.followed() is None:
            return
        if any(w.group == "follow" and not w.is_finished for w in self.app.workers):
            return  # the last read is still going: reads never overlap
        tracker = self.tracker
        self.app.run_worker(lambda: self._follow(tracker), name="_follow", group="follow",
                            thread=True, exit_on_error=False)

    def _follow(self, tracker: IncidentTracker) -> None:
        journal = tracker.journal
        taken = None
        try:
            changed = journal.refresh()
            if changed:
                with self.lock:
                    tracker.reload()
            mine = take_over(journal)
            if mine is not None:
                taken = IncidentTracker(mine, tracker.config, tracker.source_details)
        except Exception as error:  # noqa: BLE001 - shown, never fatal; tried again next tick
            log.warning("reading the followed journal failed", exc_info=True)
            with suppress(RuntimeError):  # the app is closing
                self.app.call_from_thread(self.app.notify, f"journal: {describe_error(error)}",
                                          severity="error", timeout=10)
            return
        if changed or taken is not None:
            self.app.post_message(Followed(tracker, taken))

    def on_followed(self, message: Followed) -> None:
        taken = message.taken
        if message.tracker is not self.tracker:
            if taken is not None:
                taken.journal.close()  # a stale read: never keep a lock nobody uses
            return
        if taken is not None:
            with self.lock:
                self.tracker = taken
                self.recorder.forward = taken.journal
            for journal in self.journals():  # its split-off incidents' too
                self.writes.attach(journal)
            journal = taken.journal
            where = (f"this console now records incident {journal.incident_id}"
                     if journal.is_open else f"this console now records {journal.state_dir}")
            self.app.notify(f"The other console has exited: took over the journal: {where}.",
                            timeout=15)
            for problem in journal.problems:
                self.app.notify(f"journal: {problem}", severity="warning", timeout=15)
        self.redraw()
