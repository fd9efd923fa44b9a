"""The journal's writes, off the event loop: an event added (by a key, a poll,
an action step) waits in memory while a thread worker writes and fsyncs the
waiting events, in order, one drain at a time. The screen says "recorded"
only when the worker reports the event on disk (JournalWritten)."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from textual.message import Message

log = logging.getLogger(__name__)


class JournalDue(Message):
    """Events wait to be written: start the writer unless it runs."""


class JournalWritten(Message):
    """The writer finished a drain: some events reached the disk (or a
    journal's `problem` says why not)."""


class JournalWrites:
    """One drain at a time, over every journal the console writes. `due` may
    be called from any thread (it is the journals' `on_pending`)."""

    def __init__(self, app, journals: Callable[[], list]) -> None:
        self.app = app
        self.journals = journals  # the console's journals now (split-offs, a take-over)
        self._lock = threading.Lock()
        self._draining = False
        self._again = False
        #: Operator events said "recorded" once written: (journal, event, words).
        self.awaited: list[tuple[object, object, str]] = []

    def attach(self, journal) -> None:
        if not getattr(journal, "read_only", False):
            journal.on_pending = self.due

    def due(self, journal=None) -> None:
        with self._lock:
            if self._draining:
                self._again = True  # the running drain goes round once more
                return
            self._draining = True
        self.app.post_message(JournalDue())

    def start(self) -> None:
        """On the loop, after `due`."""
        self.app.run_worker(self._drain, thread=True, group="journal-write",
                            exit_on_error=False, name="journal-write")

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    self._again = False
                for journal in self.journals():
                    if journal.pending:
                        journal.flush_pending()
                with self._lock:
                    if not self._again:
                        self._draining = False
                        break
        except BaseException:
            log.exception("journal writer failed")  # the next tick tries again
            with self._lock:
                self._draining = False
        self.app.post_message(JournalWritten())

    def retry(self) -> None:
        """Each tick: events kept in memory (a full disk) are tried again."""
        if any(j.pending for j in self.journals()):
            self.due()

    def say_when_written(self, journal, event, words: str) -> None:
        self.awaited.append((journal, event, words))

    def written(self) -> list[tuple[str, str | None]]:
        """(words, None) for each awaited event now on disk, (words, why) for
        one the disk refused (kept in memory, retried); the rest still wait."""
        said, waiting = [], []
        for journal, event, words in self.awaited:
            if journal.is_written(event):
                said.append((words, None))
            elif journal.problem:
                said.append((words, journal.problem))
            else:
                waiting.append((journal, event, words))
        self.awaited = waiting
        return said
