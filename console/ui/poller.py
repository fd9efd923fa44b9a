"""Polling the breaker source: one poll in flight at most, the next one
after the interval, a capped backoff after failures, and the one place that
decides whether the data on screen is STALE and tells the incident
tracker so: a failed poll, and a poll that hangs past the limit. The poll
runs in a thread worker, which also feeds the tracker a good snapshot."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from textual.app import App
from textual.message import Message

from console import gcpause
from console.clock import Clock
from console.errors import SourceError, describe_error
from console.memtrim import trim
from console.model.fleet import FleetSnapshot
from console.model.history import FleetHistory
from console.ports import BreakerSource
from console.ui.journal_bridge import JournalBridge

log = logging.getLogger(__name__)

STALE_AFTER_POLLS = 3
MAX_BACKOFF_S = 10.0  # an outage's end must show within seconds


class Polled(Message):
    def __init__(self, snapshot: FleetSnapshot, prepared: object = None) -> None:
        self.snapshot = snapshot
        self.prepared = prepared  # Poller.prepare's, made on the poll's thread
        super().__init__()


class PollFailed(Message):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__()


@dataclass
class PollState:
    """What the header needs to tell the truth about freshness."""

    last_good_at: datetime | None = None
    error: str | None = None
    error_at: datetime | None = None
    failures: int = 0
    started_at: datetime | None = None  # of the poll in flight, if any


class Poller:
    """Schedules the polls on `app` (its timers and workers), which gets
    Polled / PollFailed and hands them back (polled, poll_failed). Holds the
    last good snapshot and the history; `journal` gets each snapshot, marked
    stale when it is; `redraw` draws every view."""

    #: gc.freeze() once the first good poll is drawn (cbconsole sets it: cli.long_session).
    freeze_after_first_poll = False

    def __init__(self, app: App, source: BreakerSource, *, clock: Clock, interval: float,
                 journal: JournalBridge, redraw: Callable[[], None]) -> None:
        self.app = app
        self.source = source
        self.clock = clock
        self.interval = interval
        self.journal = journal
        self.redraw = redraw
        self.state = PollState()
        self.snapshot: FleetSnapshot | None = None
        #: snapshot -> what the views draw from it (the board's rows), called
        #: on the poll's thread; its answer for `snapshot` is `prepared`.
        self.prepare: Callable[[FleetSnapshot], object] | None = None
        self.prepared: object = None
        self.history = FleetHistory()
        self.opened_at: datetime | None = None
        self._next = None
        self._hung_told = False  # the tracker knows the poll in flight is overdue
        self._held = False  # a poll process waits for the first frame

    def first_frame(self) -> None:
        """The first frame is out: a poll process may start now."""
        if self._held:
            self._held = False
            self.start()

    def start(self) -> None:
        """Start one poll unless one is in flight: polls never overlap."""
        if self.opened_at is None:
            self.opened_at = self.clock()
            # A poll process starts after the first frame (first_frame).
            self._held = getattr(self.source, "starts_after_first_frame", False)
        if self._held or self.state.started_at is not None:
            return
        if self._next is not None:
            self._next.stop()
            self._next = None
        self.state.started_at = self.clock()
        self.app.run_worker(self._poll, name="_poll", group="poll", thread=True,
                            exit_on_error=False)

    def _poll(self) -> None:
        try:
            with gcpause.paused():  # what it leaves alive is frozen (gcpause)
                snapshot = self.source.poll()
                if not isinstance(snapshot, FleetSnapshot):
                    raise SourceError(
                        f"the source answered {type(snapshot).__name__}, not a snapshot")
                snapshot.warm()  # here, not on the event loop
                prepared = self._prepare(snapshot)
        except Exception as error:  # noqa: BLE001 - any failure is shown, never fatal
            log.warning("poll failed: %s", self.source.label, exc_info=True)
            self.app.post_message(PollFailed(describe_error(error)))
        else:
            self.journal.feed(snapshot)  # in the worker: each event costs an fsync
            self.app.post_message(Polled(snapshot, prepared))
        finally:
            trim()  # what the poll read (or decoded) is garbage now

    def _prepare(self, snapshot: FleetSnapshot) -> object:
        """What the views draw from a snapshot, worked out on the poll's
        thread (the board's rows: 20 ms to 100 ms at 20,000 breakers). A
        failure here is the view's to meet again on the loop, not the poll's."""
        if self.prepare is None:
            return None
        try:
            return self.prepare(snapshot)
        except Exception:  # noqa: BLE001
            log.warning("preparing the board off the event loop failed", exc_info=True)
            return None

    def polled(self, message: Polled) -> None:
        self.succeeded()
        self.snapshot = message.snapshot
        self.prepared = message.prepared
        self.history.apply(message.snapshot)
        self.redraw()

    def poll_failed(self, message: PollFailed) -> None:
        error_at = self.failed(message.reason)
        if self.snapshot is not None:
            # The last good data stays, carrying why it is no longer current.
            self.snapshot = self.snapshot.model_copy(
                update={"error": message.reason, "error_at": error_at}
            )
            self.journal.feed(self.snapshot, True)
        self.redraw()

    def tick(self, now: datetime) -> None:
        """Each second: a poll in flight past the limit makes the data STALE
        without any failure to report; the tracker hears it once (a data gap
        from the poll's start), and the next answer ends the gap."""
        gcpause.collect_if_overdue()  # polls back to back leave the collector no gap
        started = self.state.started_at
        if started is None or self._hung_told or self.snapshot is None:
            return
        reason = self.stale_reason(now)
        if reason is not None:
            self._hung_told = True
            self.journal.feed(self.snapshot.model_copy(
                update={"error": reason, "error_at": started}), True)

    def succeeded(self) -> None:
        state = self.state
        if state.last_good_at is None and self.freeze_after_first_poll:
            # The rows and caches the first full board builds live as long
            # as the console: frozen once drawn, no full collection walks them.
            self.app.call_after_refresh(gc.freeze)
        state.started_at = None
        self._hung_told = False
        state.last_good_at = self.clock()
        state.error = state.error_at = None
        state.failures = 0
        self._schedule(self.interval)

    def failed(self, reason: str) -> datetime:
        """Records the failure and schedules the retry; returns when it failed."""
        state = self.state
        state.started_at = None
        self._hung_told = False
        state.error = reason
        state.error_at = self.clock()
        state.failures += 1
        # Capped exponential backoff: a struggling backend is not hammered.
        self._schedule(min(self.interval * 2 ** (state.failures - 1),
                           max(MAX_BACKOFF_S, self.interval)))
        return state.error_at

    def _schedule(self, delay: float) -> None:
        self._next = self.app.set_timer(delay, self.start, name="next-poll")

    def stale_reason(self, now: datetime) -> str | None:
        """Why the data on screen cannot be trusted as current, or None."""
        state = self.state
        limit = STALE_AFTER_POLLS * self.interval
        if state.last_good_at is None and state.error is not None:
            return f"no data: {state.error}"
        # Before the first good poll, the wait counts from the start.
        reference = state.last_good_at or self.opened_at or now
        age = (now - reference).total_seconds()
        if age <= limit:
            return None
        if state.error is not None:
            return state.error
        return f"no answer from the source for {int(age)}s"
