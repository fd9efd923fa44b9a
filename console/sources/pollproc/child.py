"""The poll process (`python -m console.sources.pollproc`): owns the
PrometheusSources (HTTP, JSON, reading the series, transitions, history),
one per site the console polls through it, and answers each "poll" request
on its stdin with that source's snapshot as rows on its stdout
(console.sources.pollproc.wire), so the console's process never holds the
GIL for a poll's work. One process serves every site: four sites cost one
interpreter, not four (make bench-sites).

Settings come over the pipe, never on the command line; secrets are read
here from where the config names them (environment, files) and the ones read
are handed to the console, which masks them too. The process ends when the
console does, however it ends: stdin's end of file when idle, and a thread
that sees the parent change (getppid) when a poll is under way.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from console import secrets
from console.memtrim import trim
from console.sources.pollproc.resume import prime
from console.sources.pollproc.wire import SnapshotEncoder, encode_error
from console.sources.prometheus.source import PrometheusSource

log = logging.getLogger(__name__)

#: How often the watcher checks that the console is still there (seconds).
PARENT_CHECK_S = 0.2


class _PipeHandler(logging.Handler):
    """Log records go to the console, which writes them to its log (scrubbed)."""

    def __init__(self, send) -> None:
        super().__init__()
        self._send = send
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(("log", record.levelno, record.name, self.format(record)))
        except Exception:  # noqa: BLE001 - the console is gone: nobody to tell
            pass


def _watch_parent(parent: int) -> None:
    """Exit as soon as the console is gone, even mid-poll. (PR_SET_PDEATHSIG
    would fire when the *thread* that started us ends: the console starts
    this process from a poll worker thread, which ends after its poll.)"""
    while True:
        if os.getppid() != parent:
            os._exit(0)
        threading.Event().wait(PARENT_CHECK_S)


def _stats(source: PrometheusSource) -> dict:
    return {
        "last_poll_requests": source.last_poll_requests,
        "last_poll_queries": source.last_poll_queries,
        "scrape_interval_s": source.scrape_interval_s,
        "flavour": source.flavour,
    }


class _Outbox:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def send(self, message) -> None:
        with self._lock:
            self._connection.send(message)


def serve(inbox: Connection, outbox: _Outbox, hello: dict) -> int:
    """Answer the console's requests until its end of file: ("add", key,
    settings) names a source, ("poll", key) polls it on a thread of its own
    (the sites poll at once, as they do in the console's own process), each
    answer tagged with its key."""
    gc.disable()  # see the collection after each answer
    polls = _Polls(outbox)
    while True:
        try:
            request = inbox.recv()
        except (EOFError, OSError):
            return 0  # the console is gone
        if request[0] == "add":
            _, key, settings = request
            polls.add(key, settings)
        elif request[0] == "poll":
            threading.Thread(target=polls.answer, args=(request[1],), daemon=True,
                             name=f"poll {request[1]}").start()
        else:
            return 0


class _Polls:
    """The sources this process polls, by the console's key for each."""

    def __init__(self, outbox: _Outbox) -> None:
        self._outbox = outbox
        self._settings: dict[str, dict] = {}
        self._sources: dict[str, PrometheusSource] = {}
        self._encoders: dict[str, SnapshotEncoder] = {}
        self._lock = threading.Lock()
        self._running = 0
        self._since_collected = 0  # answers sent since the last collection
        self._told: set[str] = set()

    def add(self, key: str, settings: dict) -> None:
        with self._lock:
            self._settings[key] = settings
            self._encoders[key] = SnapshotEncoder()

    def answer(self, key: str) -> None:
        with self._lock:
            self._running += 1
        source = None
        try:
            source = self._source(key)
            reply = ("ok", self._encoders[key].encode(source.poll()))
        except Exception as error:  # noqa: BLE001 - the console shows every failure
            log.info("poll failed in the poll process", exc_info=True)
            reply = ("error", encode_error(error))
        with self._lock:
            new = [s for s in secrets.known() if s not in self._told]
            self._told.update(new)
        self._outbox.send(("answer", key, *reply, _stats(source) if source else {}, new))
        del reply
        with self._lock:
            self._running -= 1
            self._since_collected += 1
            # No collection during a poll (a poll's ~50,000 short-lived objects
            # set off full ones, 100-200 ms at 5,000 breakers): one once every
            # answer is sent, while nobody waits for this process; or, when
            # the sites keep it busy, once a round of them.
            due = self._running == 0 or self._since_collected >= len(self._settings)
            if due:
                self._since_collected = 0
        if due:
            gc.collect()
            trim()

    def _source(self, key: str) -> PrometheusSource:
        """Built at its first poll: its failure is that poll's answer. One
        poll at a time per key (the console's source waits for each)."""
        source = self._sources.get(key)
        if source is None:
            settings = self._settings[key]
            source = PrometheusSource(settings["url"], **settings["kwargs"])
            if settings.get("resume"):
                prime(source, settings["resume"])
            self._sources[key] = source
            gc.freeze()  # the imports and the source live as long as the process
        return source


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the console decides when to stop
    inbox = Connection(os.dup(0), writable=False)
    outbox = _Outbox(Connection(os.dup(1), readable=False))
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 0)
    os.dup2(quiet, 1)  # a stray print must not corrupt the pipe
    try:
        hello = inbox.recv()
    except (EOFError, OSError):
        return 0
    if os.getppid() != hello["parent"]:
        return 0  # the console died before we were up
    threading.Thread(target=_watch_parent, args=(hello["parent"],), daemon=True,
                     name="watch-parent").start()
    root = logging.getLogger()
    root.addHandler(_PipeHandler(outbox.send))
    root.setLevel(hello.get("log_level", logging.INFO))
    try:
        return serve(inbox, outbox, hello)
    except Exception as error:  # noqa: BLE001 - said to the console, then we end
        log.error("the poll process cannot go on", exc_info=True)
        try:
            outbox.send(("fatal", encode_error(error)))
        except OSError:
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
