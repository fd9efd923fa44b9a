"""A second console on a state directory another console writes: it follows
that console's journal read-only, and takes it over once that console exits.

`FollowedJournal` holds no lock. It reads the open incident's file as
`cbconsole export` does (whole lines only: the line being written waits for
the next read), each time only the bytes added since, and notices a new
incident's file. It writes nothing of the other console's: `add` raises `JournalFollowed`;
an action taken here goes, step by step, to this console's side file
(`store.side_path`), which the export merges into the incident.
`take_over` tries the lock (cheap while it is held) and, once it is free,
resumes the directory as a restarted console would.
"""

from __future__ import annotations

import os
from pathlib import Path

from console.clock import Clock, system_clock
from console.incident.journal import Journal, JournalError, JournalLocked, append_durably
from console.incident.store import (
    Detail,
    EventKind,
    JournalEvent,
    Loaded,
    incident_files,
    read_from,
    scrub,
    side_path,
    summarize,
)
from console.mitigations.recorder import ActionEvent


class JournalFollowed(JournalError):
    """Nothing is written to a followed journal: the other console records."""


class FollowedJournal(Journal):
    read_only = True

    def __init__(self, state_dir: Path, holder: str, *, actor: str | None = None,
                 clock: Clock = system_clock) -> None:
        super().__init__(state_dir, actor=actor, clock=clock)
        self.holder = holder  # the pid of the console that writes, as it wrote it
        self._offset = 0
        self._known: set[Path] = set()  # incident files read whole once
        self._side_ids = 0
        self._side_problem: str | None = None

    @property
    def who(self) -> str:
        return f"another console (pid {self.holder})"

    def refresh(self) -> bool:
        """Read what the other console wrote since the last call. True if an
        event came (or another incident became the current one)."""
        with self._mutex:
            try:
                changed = self._read_new() if self._path is not None else False
                if self._path is None or self._resolved:
                    changed = self._look_for_new() or changed
            except OSError as exc:
                self.problem = (f"cannot read the followed journal: {exc.strerror or exc} "
                                f"({exc.filename or self.state_dir})")
                return False
            self.problem = self._side_problem
            return changed

    def _read_new(self) -> bool:
        size = os.stat(self._path).st_size
        if size == self._offset:
            return False
        if size < self._offset:
            # Cut back (a console resuming after a crash removes a torn line): read it again.
            self._offset = 0
            self._set_events(())
        tail = read_from(self._path, self._offset)
        self._offset = tail.offset
        self.problems.extend(tail.problems)
        for event in tail.events:
            if event.id > self._last_id:
                self._remember(event)
        return bool(tail.events)

    def _look_for_new(self) -> bool:
        """The latest open incident among files not read before (at the start:
        all of them, as a console resuming picks one)."""
        found = []
        for path in incident_files(self.state_dir):
            if path in self._known:
                continue
            tail = read_from(path)
            if not tail.events:
                continue  # being created: read again next time
            self._known.add(path)
            loaded = Loaded(path=path, events=tail.events, problems=tail.problems)
            summary = summarize(loaded)
            if not summary.resolved:
                found.append((summary.opened_at or tail.events[0].at, path.name, path, tail))
        if not found:
            return False
        _, _, path, tail = max(found)
        self._path, self._offset = path, tail.offset
        self._set_events(tail.events)
        self.problems.extend(tail.problems)
        return True

    # --- Nothing is written ----------------------------------------------------------

    def open_incident(self, *args, **kwargs):
        raise JournalFollowed(f"{self.who} records incidents in {self.state_dir}")

    def add(self, *args, **kwargs):
        raise JournalFollowed(f"{self.who} records this incident: nothing is written here")

    @property
    def side_file(self) -> Path | None:
        """Where this console keeps the actions it takes on this incident."""
        if self._path is None:
            return None
        return side_path(self.state_dir, self.incident_id, os.getpid())

    def record(self, event: ActionEvent) -> None:
        """An action's step, durably, into this console's side file: the
        other console's journal is never written by two."""
        with self._mutex:
            path = self.side_file
            if path is None:
                return  # no incident: not journaled, as in a console that writes
            self._side_ids += 1
            details: dict[str, Detail] = {
                **event.details, "action": event.action, "stage": event.stage.value,
                "target": event.target, "console": f"pid {os.getpid()}, following pid "
                f"{self.holder}",
            }
            line = JournalEvent(id=self._side_ids, at=event.at, kind=EventKind.ACTION,
                                service=event.service, actor=self.actor, details=scrub(details),
                                site=event.site)
            try:
                append_durably(path, line.line())
            except OSError as exc:
                self.problem = self._side_problem = (
                    f"side file not writable, an action step is lost: {exc.strerror or exc} "
                    f"({path})")

    def flush_pending(self) -> bool:
        return True


def open_or_follow(state_dir: Path, actor: str | None = None, *,
                   clock: Clock = system_clock) -> Journal:
    """The directory's journal, locked and resumed; or, if another console
    holds it, that console's journal followed read-only (already read)."""
    try:
        return Journal.open_or_resume(state_dir, actor, clock=clock)
    except JournalLocked as locked:
        followed = FollowedJournal(state_dir, locked.holder, actor=actor, clock=clock)
        followed.refresh()
        return followed


def take_over(followed: FollowedJournal) -> Journal | None:
    """The directory's journal, locked and resumed, once the console that
    held it has gone; None while it (or another console) still holds it."""
    try:
        return Journal.open_or_resume(followed.state_dir, followed.actor, clock=followed.clock)
    except JournalLocked as locked:
        followed.holder = locked.holder  # a third console may have taken it
        return None
