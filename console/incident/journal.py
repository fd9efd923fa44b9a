"""The incident journal: every event of an incident appended, durably, to its
own JSON Lines file in the state directory before the screen says "recorded".

A Journal holds an exclusive lock on the directory for its life (one console
writes a directory). It survives a crash (the open incident is resumed, a torn
last line reported and cut off) and a full or read-only disk (events wait in
memory, in order, and are retried; nothing is claimed written that was not).
The file format and the read-only side live in `store`.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import logging
import os
import re
import threading
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Callable

from console.clock import Clock, system_clock
from console.incident.durable import Writer, append_durably
from console.incident.store import (
    Detail,
    EventKind,
    IncidentSummary,
    JournalEvent,
    Loaded,
    RootCauseCategory,
    incident_files,
    incident_id_of,
    incident_path,
    list_incidents,
    load_incident,
    read_events,
    scrub,
    summarize,
)
from console.mitigations.recorder import ActionEvent

log = logging.getLogger(__name__)

__all__ = [
    "EventKind", "IncidentSummary", "Journal", "JournalError", "JournalEvent",
    "JournalLocked", "Loaded", "NoOpenIncident", "RootCauseCategory", "Writer",
    "append_durably", "list_incidents", "load_incident",
]

LOCK_NAME = "journal.lock"

class JournalError(Exception):
    pass


class JournalLocked(JournalError):
    """Another console writes this directory; `holder` is its pid, as it wrote it."""

    def __init__(self, message: str, holder: str = "unknown") -> None:
        super().__init__(message)
        self.holder = holder


class NoOpenIncident(JournalError):
    """An event needs an incident and there is none."""


def current_user() -> str:
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no USER/LOGNAME and no passwd entry (containers)
        log.debug("no user name", exc_info=True)
        return "unknown"


def split_from(events) -> str | None:
    """The incident a split-off incident was split from, if it was."""
    opened = next(iter(events), None)
    if opened is None or opened.kind != EventKind.INCIDENT_OPENED:
        return None
    return str(opened.details.get("split_from") or "") or None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:40] or "incident"


class Journal:
    """The journal of one state directory. Use `open_or_resume`."""

    #: True for a journal another console writes (console.incident.follow): read, never written.
    read_only = False

    def __init__(self, state_dir: Path, *, actor: str | None = None,
                 clock: Clock = system_clock, writer: Writer = append_durably) -> None:
        self.state_dir = Path(state_dir)
        self.actor = actor or current_user()
        self.clock = clock
        self._writer = writer
        self._mutex = threading.RLock()  # poll and action workers both append
        # One write at a time, taken before the mutex and never under it: the
        # mutex is not held during the I/O, so readers on the event loop never
        # wait for a disk.
        self._write_lock = threading.Lock()
        #: Called (any thread, under the mutex) instead of writing at once when
        #: set: a writer thread drains `flush_pending` (the console's). Unset,
        #: `add` writes before it returns.
        self.on_pending: Callable[[Journal], None] | None = None
        self._lock_fd: int | None = None
        #: What was wrong in the files read at start (torn or bad lines, ...).
        self.problems: list[str] = []
        #: Why events are waiting in memory, or None when all are written.
        self.problem: str | None = None
        self._path: Path | None = None
        self._events: list[JournalEvent] = []
        # Kept beside the list so that nothing per event scans it: an
        # incident with a flapping breaker holds thousands of events.
        self._by_id: dict[int, JournalEvent] = {}
        self._first: dict[EventKind, JournalEvent] = {}  # by kind
        self._last_id = 0
        self._resolved = False
        self._pending: list[tuple[Path, JournalEvent]] = []
        self._newline_first: Path | None = None  # a file whose last line lacks "\n"
        self._parent: Journal | None = None  # a sibling writes under its parent's lock
        self._siblings: list[Journal] = []  # written before the lock is let go
        #: Open incidents split off another one (their own services), found at start.
        self.split_open: list[Loaded] = []

    # --- Start -------------------------------------------------------------------

    @classmethod
    def open_or_resume(cls, state_dir: Path, actor: str | None = None, *,
                       clock: Clock = system_clock,
                       writer: Writer = append_durably) -> Journal:
        """Lock the directory and continue its open incident, if any. Raises
        JournalLocked if another console holds it; a directory that cannot be
        written is not fatal (see `problem`): the console must still work."""
        journal = cls(state_dir, actor=actor, clock=clock, writer=writer)
        try:
            journal._lock()
        except OSError as exc:
            journal.problem = journal._describe(exc, journal.state_dir)
        journal._resume()
        return journal

    def _lock(self) -> None:
        if self._parent is not None:
            self._parent._lock()
            return
        if self._lock_fd is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise JournalLocked(
                    f"another cbconsole (pid {pid}) is using {self.state_dir}", pid
                ) from None
            raise
        with suppress(OSError):  # the pid is for the message only
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _resume(self) -> None:
        loaded: list[Loaded] = []
        for path in incident_files(self.state_dir):
            try:
                loaded.append(read_events(path))
            except OSError as exc:
                self.problems.append(f"{path.name}: {exc.strerror or exc}")
        open_ones = [x for x in loaded if not summarize(x).resolved and x.events]
        # A split-off service's incident is open beside the one it left.
        self.split_open = [x for x in open_ones if split_from(x.events)]
        open_ones = [x for x in open_ones if not split_from(x.events)]
        if not open_ones:
            return
        open_ones.sort(key=lambda x: (summarize(x).opened_at or x.events[0].at, x.path.name))
        current = open_ones[-1]
        for other in open_ones[:-1]:
            self.problems.append(f"incident {other.incident_id} is also unresolved: not resumed")
        self._adopt(current)

    def _adopt(self, current: Loaded) -> None:
        self.problems.extend(current.problems)
        self._path = current.path
        self._set_events(current.events)
        if current.torn_at is not None:
            try:  # the torn bytes were never confirmed: cut them off
                os.truncate(current.path, current.torn_at)
            except OSError:
                self._newline_first = current.path
        elif current.missing_newline:
            self._newline_first = current.path

    def sibling(self, resume: Loaded | None = None) -> Journal:
        """Another incident of this directory (a split-off service's), open
        beside this one: written under the same lock, by the same writer."""
        other = Journal(self.state_dir, actor=self.actor, clock=self.clock, writer=self._writer)
        other._mutex = self._mutex
        other._write_lock = self._write_lock
        other.on_pending = self.on_pending
        other._parent = self
        self._siblings.append(other)
        if resume is not None:
            other._adopt(resume)
        return other

    def _set_events(self, events) -> None:
        self._events, self._by_id, self._last_id, self._resolved = [], {}, 0, False
        self._first = {}
        for event in events:
            self._remember(event)

    def _remember(self, event: JournalEvent) -> None:
        self._events.append(event)
        self._by_id[event.id] = event
        self._first.setdefault(event.kind, event)
        self._last_id = max(self._last_id, event.id)
        self._resolved = self._resolved or event.kind == EventKind.RESOLVED

    # --- State -------------------------------------------------------------------

    @property
    def incident_id(self) -> str | None:
        return None if self._path is None else incident_id_of(self._path)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def events(self) -> tuple[JournalEvent, ...]:
        """The current incident's events, written or waiting, in order."""
        with self._mutex:
            return tuple(self._events)

    def first(self, kind: EventKind) -> JournalEvent | None:
        """The incident's first event of a kind. Kept as events come, not
        searched for: the header and each poll ask, and a long incident has
        tens of thousands of events."""
        with self._mutex:
            return self._first.get(kind)

    @property
    def pending(self) -> tuple[JournalEvent, ...]:
        with self._mutex:
            return tuple(e for _, e in self._pending)

    @property
    def is_open(self) -> bool:
        """An incident is current and not resolved."""
        with self._mutex:
            return self._path is not None and not self._resolved

    def is_written(self, event: JournalEvent) -> bool:
        with self._mutex:
            return self._by_id.get(event.id) is event and not any(
                e is event for _, e in self._pending
            )

    # --- Writing -----------------------------------------------------------------

    def open_incident(self, service: str | None, *, at: datetime | None = None,
                      services: list[str] | tuple[str, ...] = (), title: str | None = None,
                      details: dict[str, Detail] | None = None) -> JournalEvent:
        """Start a new incident (its file) with its incident_opened event
        (`is_written` tells whether it reached the disk)."""
        with self._mutex:
            if self.is_open:
                raise JournalError(f"incident {self.incident_id} is open: resolve it first")
            at = at or self.clock()
            names = list(dict.fromkeys([*([service] if service else []), *services]))
            base = f"{at:%Y%m%d-%H%M%S}-{_slug(names[0] if names else 'incident')}"
            incident_id, n = base, 1
            taken = {p.name for p in incident_files(self.state_dir)} | {
                p.name for p, _ in self._pending
            }
            while incident_path(self.state_dir, incident_id).name in taken:
                n += 1
                incident_id = f"{base}-{n}"
            self._path = incident_path(self.state_dir, incident_id)
            self._set_events(())
            info = {
                "title": title or f"Circuit Breaker Open - {', '.join(names) or 'unknown service'}",
                "services": ",".join(names),
                "incident": incident_id,
            }
            return self.add(EventKind.INCIDENT_OPENED, service=service, at=at,
                               details={**(details or {}), **info})

    def append(self, kind: EventKind | str, *, service: str | None = None,
               details: dict[str, Detail] | None = None, at: datetime | None = None,
               site: str = "") -> bool:
        """Add an event to the current incident. True only once it (and every
        event before it) is on disk; False leaves it queued (see `problem`)."""
        with self._mutex:
            return self.is_written(self.add(kind, service=service, details=details, at=at,
                                            site=site))

    def add(self, kind: EventKind | str, *, service: str | None = None,
            details: dict[str, Detail] | None = None, at: datetime | None = None,
            site: str = "") -> JournalEvent:
        """`append`, returning the event (`is_written` tells if it is on disk)."""
        with self._mutex:
            if self._path is None:
                raise NoOpenIncident("no incident to record into")
            next_id = self._last_id + 1
            event = JournalEvent(
                id=next_id, at=at or self.clock(), kind=EventKind(kind), service=service,
                actor=self.actor, details=scrub(details), site=site,
            )
            self._remember(event)
            self._pending.append((self._path, event))
            if self.on_pending is not None:
                self.on_pending(self)  # written by the writer thread, in order
            else:
                self.flush_pending()
            return event

    def flush_pending(self) -> bool:
        """Write the waiting events, in order. True when none is left. One
        writer at a time; the mutex is held only between the writes."""
        with self._write_lock:
            while True:
                with self._mutex:
                    if not self._pending:
                        self.problem = None
                        return True
                    path, event = self._pending[0]
                    glue = self._newline_first == path
                data = event.line()
                if glue:
                    data = b"\n" + data  # never glue onto a line without its end
                try:
                    self._lock()
                    self._writer(path, data)
                except JournalLocked as exc:
                    with self._mutex:
                        self.problem = str(exc)
                    return False
                except OSError as exc:
                    with self._mutex:
                        self.problem = self._describe(exc, path or self.state_dir)
                    return False
                with self._mutex:
                    if glue:
                        self._newline_first = None
                    self._pending.pop(0)

    @staticmethod
    def _describe(exc: OSError, path: Path) -> str:
        return f"journal not writable: {exc.strerror or exc} ({exc.filename or path})"

    def record(self, event: ActionEvent) -> None:
        """ActionRecorder: every mitigation step, into the current incident (an
        action with no incident at all is not journaled)."""
        if self._path is None:
            return
        details: dict[str, Detail] = {
            **event.details, "action": event.action, "stage": event.stage.value,
            "target": event.target,
        }
        self.append(EventKind.ACTION, service=event.service, at=event.at, details=details,
                    site=event.site)

    def close(self) -> bool:
        """Try the waiting events once more and release the lock. False if
        some could not be written (they are lost with the process)."""
        sides = all([s.flush_pending() for s in self._siblings])
        done = self.flush_pending() and sides
        with self._write_lock, self._mutex:
            if self._lock_fd is not None and self._parent is None:
                os.close(self._lock_fd)
                self._lock_fd = None
            return done

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
