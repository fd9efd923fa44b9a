"""The BreakerSource the console polls when it reads Prometheus: the poll
itself runs in a child process (console.sources.pollproc.child); here poll()
only sends the request and decodes the compact answer, so the console's
process never holds the GIL for a poll's work (about a second of every
second at 5,000 breakers, which key presses waited behind).

A child that dies or stops answering is replaced at once, the new one
carrying on from the last good poll's states (its backfill reads only the
gap), and that poll fails with PollProcessLost: the poller marks the data
stale and says why, as for any failed poll. The child ends with the console
(see child.py), and close() ends it at a normal exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from console import secrets
from console.errors import Unreachable
from console.model.fleet import FleetSnapshot
from console.sources.base import SourceError
from console.sources.pollproc.resume import resume_state
from console.sources.pollproc.wire import SnapshotDecoder, decode_error
from console.sources.prometheus.source import BACKFILL_TIMEOUT_FACTOR, PrometheusSource

log = logging.getLogger(__name__)

#: Beyond the child's own deadlines: its start (imports) on a loaded machine.
ANSWER_MARGIN_S = 20.0
CLOSE_WAIT_S = 2.0


class PollProcessLost(Unreachable):
    """The poll process died or stopped answering mid-poll: a new one was started."""


class ProcessSource:
    """A PrometheusSource whose polls run in a child process. Takes the
    PrometheusSource's arguments (but no clock: the child reads the system
    clock); a bad URL, profile or missing secret fails here, at start, with
    the same error as the in-process source."""

    #: The console polls it first after its first frame (ui/poller.py).
    starts_after_first_frame = True

    def __init__(self, url: str, **kwargs) -> None:
        if "clock" in kwargs or "tracker" in kwargs:
            raise TypeError("the poll process reads the system clock and keeps its own states")
        local = PrometheusSource(url, **kwargs)  # checks everything; never polls
        local.close()
        self._url_given, self._kwargs = url, kwargs
        self.profile = local.profile
        self.url = local.url
        self.label = local.label
        self.queries_per_poll = local.queries_per_poll
        self.alert_name = local.alert_name
        self.sites = getattr(local, "sites", ("",))  # the sites whose rows it serves
        self._client = local._client  # where the credentials are, for the journal's details
        self.deadline = local.deadline
        self.last_poll_requests = self.last_poll_queries = 0
        self.scrape_interval_s: float | None = None
        self.flavour: str | None = None
        #: The console's own share of the last poll: decoding its answer (seconds).
        self.last_decode_s = 0.0
        #: Poll processes started after the first (each one a death or a hang).
        self.restarts = 0
        self._answer_within = (2 * (local.deadline + local._client.timeout
                                    * BACKFILL_TIMEOUT_FACTOR) + ANSWER_MARGIN_S)
        self._decoder = SnapshotDecoder()
        # One poll at a time per instance; several instances (one per site)
        # may poll at once from their own threads, each with its own child.
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._closed = False
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"ProcessSource({self.url!r}, profile={self.profile.name!r})"

    @property
    def pid(self) -> int | None:
        """The poll process's pid, None before it started."""
        return self._proc.pid if self._proc else None

    def poll(self) -> FleetSnapshot:
        with self._lock:
            if self._closed:
                raise SourceError("the poll process was stopped: the console is closing")
            if self._proc is None:
                self._spawn()
            try:
                reply = self._ask()
            except (EOFError, OSError, TimeoutError) as lost:
                if self._closed:  # close() cut the pipe under this poll
                    raise SourceError("the poll process was stopped: the console is closing")
                how = self._end_child(hung=isinstance(lost, TimeoutError))
                self._spawn()
                self.restarts += 1
                log.warning("poll process %s: a new one (pid %s) was started", how, self.pid)
                raise PollProcessLost(
                    f"the poll process {how} mid-poll; a new one was started") from None
            kind, body, stats, new_secrets = reply
            for secret in new_secrets:
                secrets.remember(secret)
            for name, value in stats.items():
                setattr(self, name, value)
            if kind == "error":
                raise decode_error(body)
            start = time.perf_counter()
            snapshot = self._decoder.decode(body)  # in order: it applies the changes
            self.last_decode_s = time.perf_counter() - start
            return snapshot

    def _ask(self):
        assert self._send is not None and self._recv is not None
        self._send.send(("poll",))
        give_up = time.monotonic() + self._answer_within
        while True:
            if not self._recv.poll(max(0.0, give_up - time.monotonic())):
                raise TimeoutError
            message = self._recv.recv()
            if message[0] != "log":
                return message
            _, level, name, text = message
            logging.getLogger(name).log(level, "[poll process] %s", text)

    # --- The child ---------------------------------------------------------------

    def _spawn(self) -> None:
        to_child, from_parent = os.pipe()  # not inherited by any other child
        from_child, to_parent = os.pipe()
        env = dict(os.environ)
        # The console's own package, wherever it was imported from.
        root = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "console.sources.pollproc"],
                stdin=to_child, stdout=to_parent, stderr=subprocess.PIPE, env=env,
                close_fds=True,
            )
        except OSError as exc:
            raise SourceError(f"cannot start the poll process: {exc.strerror}") from None
        finally:
            os.close(to_child)
            os.close(to_parent)
        self._proc = proc
        self._send = Connection(from_parent, readable=False)
        self._recv = Connection(from_child, writable=False)
        threading.Thread(target=_log_stderr, args=(proc,), daemon=True,
                         name="poll-process-stderr").start()
        # Settings over the pipe, never on the command line; secrets stay
        # where the config names them (environment, files) for the child to read.
        self._send.send({
            "parent": os.getpid(),
            "url": self._url_given,
            "kwargs": self._kwargs,
            "resume": resume_state(self._decoder.last),
            "log_level": logging.getLogger().getEffectiveLevel(),
        })
        log.info("poll process started (pid %d)", proc.pid)

    def _end_child(self, hung: bool) -> str:
        """Close the pipes and reap the child; how it ended, in words."""
        proc = self._proc
        self._close_pipes()
        self._proc = None
        if proc is None:
            return "was gone"
        if hung:
            proc.kill()
        try:
            code = proc.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if hung:
            return f"did not answer within {self._answer_within:g} s and was stopped"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def _close_pipes(self) -> None:
        for connection in (self._send, self._recv):
            if connection is not None:
                try:
                    connection.close()
                except OSError:
                    pass
        self._send = self._recv = None

    def close(self) -> None:
        """End the poll process (its end of file on stdin), killed if it lingers."""
        self._closed = True
        proc = self._proc
        self._close_pipes()
        self._proc = None
        if proc is None:
            return
        try:
            proc.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _log_stderr(proc: subprocess.Popen) -> None:
    """What the child wrote to stderr (an import error, a crash) goes to the
    log, never to the terminal the screen is on."""
    assert proc.stderr is not None
    for line in proc.stderr:
        log.warning("poll process %d stderr: %s", proc.pid,
                    line.decode(errors="replace").rstrip())
