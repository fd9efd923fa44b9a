"""The poll process (`python -m console.sources.pollproc`): owns the
PrometheusSource (HTTP, JSON, reading the series, transitions, history) and
answers each "poll" request on its stdin with the snapshot as rows on its
stdout (console.sources.pollproc.wire), so the console's process never holds
the GIL for a poll's work.

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
    gc.disable()  # see the collection after each answer
    resume = hello.get("resume")
    source: PrometheusSource | None = None
    encoder = SnapshotEncoder()
    told: set[str] = set()
    while True:
        try:
            request = inbox.recv()
        except (EOFError, OSError):
            return 0  # the console is gone
        if request[0] != "poll":
            return 0
        try:
            if source is None:  # built at a poll: its failure is that poll's answer
                source = PrometheusSource(hello["url"], **hello["kwargs"])
                if resume:
                    prime(source, resume)
                gc.freeze()  # the imports and the source live as long as the process
            reply = ("ok", encoder.encode(source.poll()))
        except Exception as error:  # noqa: BLE001 - the console shows every failure
            log.info("poll failed in the poll process", exc_info=True)
            reply = ("error", encode_error(error))
        new = [s for s in secrets.known() if s not in told]
        told.update(new)
        outbox.send((*reply, _stats(source) if source else {}, new))
        # No collection during a poll (a poll's ~50,000 short-lived objects
        # set off full ones, 100-200 ms at 5,000 breakers): one after each
        # answer is sent, while nobody waits for this process.
        del reply
        gc.collect()
        trim()


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
            outbox.send(("error", encode_error(error), {}, []))
        except OSError:
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
