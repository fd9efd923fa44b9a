"""The BreakerSource the console polls when it reads Prometheus: the poll
itself runs in a child process (console.sources.pollproc.child); here poll()
only sends the request and decodes the compact answer, so the console's
process never holds the GIL for a poll's work (about a second of every
second at 5,000 breakers, which key presses waited behind).

One PollHost (one child) serves every ProcessSource given it: a multi-site
console's sites all poll in one poll process (console.sites_cli), each
site's answers tagged with its key. A child that dies or stops answering is
replaced at once, every source in it carrying on from its last good poll's
states (the new child's backfill reads only the gap), and the polls it was
answering fail with PollProcessLost: the poller marks the data stale and
says why, as for any failed poll. The child ends with the console (see
child.py), and close() ends it at a normal exit.
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
from itertools import count
from multiprocessing.connection import Connection
from pathlib import Path

from console import secrets
from console.errors import Unreachable, describe_error
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


class _Gone(Exception):
    """The child of `generation` died (or, `hung`, stopped answering)."""

    def __init__(self, generation: int, hung: bool) -> None:
        super().__init__(generation, hung)
        self.generation, self.hung = generation, hung


class _Slot:
    """One source's poll in flight: its answer, or None once the child is gone."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.reply: tuple | None = None
        self.done = threading.Event()


class PollHost:
    """One poll process and the sources it polls (by key). Thread-safe: the
    sites poll at once from their own threads; a reader thread hands each
    answer to the poll waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._generation = 0  # one per child started
        self._alive = False  # the current child's pipe is still open
        self._how: dict[int, str] = {}  # how each replaced child ended
        self._members: dict[str, ProcessSource] = {}
        self._waiting: dict[str, _Slot] = {}
        self._closed = False
        #: Poll processes started after the first (each one a death or a hang).
        self.restarts = 0
        atexit.register(self.close)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc else None

    def add(self, key: str, member: ProcessSource) -> None:
        with self._lock:
            self._members[key] = member
            if self._alive:
                self._tell(key, member)

    def remove(self, key: str) -> None:
        """The source is closed; the child ends with the last one."""
        with self._lock:
            self._members.pop(key, None)
            last = not self._members
        if last:
            self.close()

    def ask(self, key: str, within: float) -> tuple:
        """The child's answer to a poll of `key`; _Gone if it died or took
        longer than `within` seconds."""
        with self._lock:
            if self._closed:
                raise SourceError("the poll process was stopped: the console is closing")
            if self._proc is None:
                self._spawn()
            slot = _Slot(self._generation)
            if not self._alive:
                raise _Gone(slot.generation, hung=False)
            assert self._send is not None
            self._waiting[key] = slot
            try:
                self._send.send(("poll", key))
            except OSError:
                self._waiting.pop(key, None)
                raise _Gone(slot.generation, hung=False) from None
        if not slot.done.wait(within):
            with self._lock:
                if self._waiting.get(key) is slot:
                    del self._waiting[key]
            raise _Gone(slot.generation, hung=True)
        if slot.reply is None:
            raise _Gone(slot.generation, hung=False)
        return slot.reply

    def replace(self, gone: _Gone, within: float) -> str:
        """A new child for the one that is gone, unless another source's
        poll already started one; how the old one ended, in words."""
        with self._lock:
            if self._closed:
                raise SourceError("the poll process was stopped: the console is closing")
            if gone.generation == self._generation and self._proc is not None:
                self._how[gone.generation] = self._end_child(gone.hung, within)
                self._spawn()
                self.restarts += 1
                log.warning("poll process %s: a new one (pid %s) was started",
                            self._how[gone.generation], self.pid)
            return self._how.get(gone.generation, "was gone")

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
            os.close(from_parent)
            os.close(from_child)
            raise SourceError(f"cannot start the poll process: {exc.strerror}") from None
        finally:
            os.close(to_child)
            os.close(to_parent)
        self._generation += 1
        self._proc, self._alive = proc, True
        self._send = Connection(from_parent, readable=False)
        # The reader owns its end of the pipe: it closes it at the child's end.
        threading.Thread(target=self._read, args=(Connection(from_child, writable=False),
                                                  self._generation),
                         daemon=True, name="poll-process-answers").start()
        threading.Thread(target=_log_stderr, args=(proc,), daemon=True,
                         name="poll-process-stderr").start()
        # Settings over the pipe, never on the command line; secrets stay
        # where the config names them (environment, files) for the child to read.
        self._send.send({"parent": os.getpid(),
                         "log_level": logging.getLogger().getEffectiveLevel()})
        for key, member in self._members.items():
            self._tell(key, member)
        log.info("poll process started (pid %d)", proc.pid)

    def _tell(self, key: str, member: ProcessSource) -> None:
        """The child learns a source: its settings and where to resume from."""
        assert self._send is not None
        self._send.send(("add", key, member.settings()))

    def _read(self, recv: Connection, generation: int) -> None:
        try:
            while True:
                try:
                    message = recv.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "log":
                    _, level, name, text = message
                    logging.getLogger(name).log(level, "[poll process] %s", text)
                elif message[0] == "answer":
                    with self._lock:  # a replaced child's late answer is not the new one's
                        slot = self._waiting.get(message[1])
                        if slot is None or slot.generation != generation:
                            continue
                        del self._waiting[message[1]]
                    slot.reply = message[2:]
                    slot.done.set()
                elif message[0] == "fatal":
                    log.error("the poll process cannot go on: %s", describe_error(
                        decode_error(message[1])))
        finally:
            recv.close()
            with self._lock:
                if generation == self._generation:
                    self._alive = False
                for key, slot in list(self._waiting.items()):
                    if slot.generation == generation:
                        del self._waiting[key]
                        slot.done.set()  # reply None: gone

    def _end_child(self, hung: bool, within: float) -> str:
        """Close the pipe and reap the child; how it ended, in words."""
        proc = self._proc
        self._close_send()
        self._proc, self._alive = None, False
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
            return f"did not answer within {within:g} s and was stopped"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def _close_send(self) -> None:
        if self._send is not None:
            try:
                self._send.close()
            except OSError:
                pass
        self._send = None

    def close(self) -> None:
        """End the poll process (its end of file on stdin), killed if it lingers."""
        with self._lock:
            self._closed = True
            proc = self._proc
            self._close_send()
            self._proc, self._alive = None, False
        if proc is None:
            return
        try:
            proc.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_keys = count(1)


class ProcessSource:
    """A PrometheusSource whose polls run in a poll process: its own, or
    `host`'s, shared with the other sources given that host. Takes the
    PrometheusSource's arguments (but no clock: the child reads the system
    clock); a bad URL, profile or missing secret fails here, at start, with
    the same error as the in-process source."""

    #: The console polls it first after its first frame (ui/poller.py).
    starts_after_first_frame = True

    def __init__(self, url: str, *, host: PollHost | None = None, **kwargs) -> None:
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
        self._answer_within = (2 * (local.deadline + local._client.timeout
                                    * BACKFILL_TIMEOUT_FACTOR) + ANSWER_MARGIN_S)
        self._decoder = SnapshotDecoder()
        # One poll at a time per source; several sources (one per site) poll
        # at once from their own threads, through one host or several.
        self._lock = threading.Lock()
        self._closed = False
        self._host = host or PollHost()
        self._key = f"source-{next(_keys)}"
        self._host.add(self._key, self)

    def __repr__(self) -> str:
        return f"ProcessSource({self.url!r}, profile={self.profile.name!r})"

    @property
    def pid(self) -> int | None:
        """The poll process's pid, None before it started."""
        return self._host.pid

    @property
    def restarts(self) -> int:
        """Poll processes started after the first (each one a death or a hang)."""
        return self._host.restarts

    def settings(self) -> dict:
        """What the child builds this source from, and the states it resumes."""
        return {"url": self._url_given, "kwargs": self._kwargs,
                "resume": resume_state(self._decoder.last)}

    def poll(self) -> FleetSnapshot:
        with self._lock:
            if self._closed:
                raise SourceError("the poll process was stopped: the console is closing")
            try:
                reply = self._host.ask(self._key, self._answer_within)
            except _Gone as gone:
                if self._closed:  # close() cut the pipe under this poll
                    raise SourceError("the poll process was stopped: the console is closing")
                how = self._host.replace(gone, self._answer_within)
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

    def close(self) -> None:
        """This source is done; its poll process ends with the host's last source."""
        self._closed = True
        self._host.remove(self._key)


def _log_stderr(proc: subprocess.Popen) -> None:
    """What the child wrote to stderr (an import error, a crash) goes to the
    log, never to the terminal the screen is on."""
    assert proc.stderr is not None
    for line in proc.stderr:
        log.warning("poll process %d stderr: %s", proc.pid,
                    line.decode(errors="replace").rstrip())
