"""The console's log: `cbconsole.log` in the state directory, rotated, with the
traceback of every exception the console catches and turns into a line on
screen. Scrubbed as the journal is (tokens obtained at runtime included), and
never written to the terminal: the screen is up while the console logs.

A full disk or an unwritable directory never stops the console: the record
is dropped and `problem()` says why, for the console to say it once.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import logging.handlers
import queue
import sys
import threading
from pathlib import Path

from console.secrets import scrub_text

LOG_NAME = "cbconsole.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

_lock = threading.Lock()
_problem: str | None = None
_handler: logging.Handler | None = None  # on the root logger: a QueueHandler
_listener: logging.handlers.QueueListener | None = None  # its thread writes the file
_queue: queue.Queue | None = None


def check_level(value: str) -> str:
    """The level's name, upper case; ValueError naming the choices."""
    name = str(value).strip().upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {value!r} (one of {', '.join(LEVELS)})")
    return name


class ScrubbingFormatter(logging.Formatter):
    """The whole record as written (message, traceback, stack) goes through
    the journal's scrub: an exception's text may quote a token."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record))


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A log file that fails silently: logging's own handleError prints to
    stderr, which would draw over the screen."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        error = sys.exc_info()[1]
        _fail(f"{error.strerror or error}" if isinstance(error, OSError) else
              f"{type(error).__name__}: {error}")
        try:  # a half-open stream is retried from scratch with the next record
            if self.stream is not None:
                self.stream.close()
        except Exception:  # noqa: BLE001 - closing a broken file: nothing to say
            pass
        self.stream = None


def _fail(why: str) -> None:
    global _problem
    with _lock:
        if _problem is None:
            _problem = why


def problem() -> str | None:
    """Why the log cannot be written (the first failure), or None."""
    with _lock:
        return _problem


def path(directory: Path) -> Path:
    return Path(directory) / LOG_NAME


def setup(directory: Path, level: str = "INFO") -> Path:
    """Log into `directory`/cbconsole.log from now on (the root logger, so
    libraries' records come too, and Python's warnings, which would
    otherwise print over the screen). The file is written by a thread of
    its own: a record logged on the event loop never waits for the disk.
    Never raises: see `problem()`."""
    global _handler, _listener, _queue
    shutdown()
    target = path(directory)
    root = logging.getLogger()
    file_handler = QuietRotatingFileHandler(target, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                            encoding="utf-8", delay=True)
    file_handler.setFormatter(ScrubbingFormatter(FORMAT))
    records: queue.Queue = queue.Queue()
    handler = logging.handlers.QueueHandler(records)
    listener = logging.handlers.QueueListener(records, file_handler)
    listener.start()
    with _lock:
        _handler, _listener, _queue = handler, listener, records
    root.addHandler(handler)
    atexit.register(shutdown)  # what is queued is written before the process ends
    root.setLevel(check_level(level))
    logging.captureWarnings(True)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        _fail(f"{exc.strerror or exc} ({exc.filename or target})")
    return target


def unavailable_words() -> str | None:
    """The line the console shows once when the log cannot be written."""
    why = problem()
    if why is None:
        return None
    return f"Log file unavailable ({why}): errors are not logged this session"


def flush() -> None:
    """Wait until every record logged so far is written (or dropped)."""
    with _lock:
        records = _queue
    if records is not None:
        records.join()


def shutdown() -> None:
    """Write what is queued and stop logging to the file (at exit; tests:
    the next one logs elsewhere)."""
    global _handler, _listener, _queue, _problem
    atexit.unregister(shutdown)
    with _lock:
        handler, listener = _handler, _listener
        _handler = _listener = _queue = None
    if handler is not None:
        logging.getLogger().removeHandler(handler)
    if listener is not None:
        listener.stop()  # drains the queue first
        for h in listener.handlers:
            h.close()
    with _lock:
        _problem = None
    logging.captureWarnings(False)
    logging.getLogger().setLevel(logging.WARNING)


def log_level(value: str) -> str:
    """--log-level's argparse type: a clear message for a bad level."""
    try:
        return check_level(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
