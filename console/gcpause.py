"""No automatic garbage collection while a poll reads its answers.

A poll at 20,000 breakers holds hundreds of thousands of short-lived
containers at once (the parsed JSON of four sites, the rows being built).
None of them is in a reference cycle: reference counting frees them all. Yet
each allocation counts toward the next collection, and the collections walk
them. A full one caught mid-poll took 250-650 ms with the GIL held, and
key presses waited behind it (make bench-sites). Paused while any poll reads,
the collector runs once when the last one is done, on the poll's thread,
over what is still alive then.
"""

from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_depth = 0  # polls reading now
_paused_by_us = False  # we disabled it (cbconsole's start-up may have already)
_since: float | None = None  # monotonic time of the pause


@contextmanager
def paused() -> Iterator[None]:
    """Automatic collection off for the block (nested and concurrent blocks
    share one pause); a young collection when the last one ends keeps the
    generations' cadence, so the older ones still come in their turn."""
    global _depth, _paused_by_us, _since
    with _lock:
        if _depth == 0:
            _paused_by_us = gc.isenabled()
            _since = time.monotonic()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            resume = _depth == 0 and _paused_by_us
            if _depth == 0:
                _since = None
            if resume:
                gc.enable()
        if resume:
            gc.collect(0)


def pausing(call: Callable[[], T]) -> Callable[[], T]:
    """`call` run under `paused()` (a site's poll on a thread of its own)."""
    def run() -> T:
        with paused():
            return call()
    return run


def overdue(after_s: float) -> bool:
    """True if polls have kept the collector paused for `after_s` seconds
    (polls that overlap without a gap, a poll hung past its deadline)."""
    since = _since
    return since is not None and time.monotonic() - since > after_s


def collect_if_overdue(after_s: float = 30.0) -> None:
    """Polls back to back may never leave a gap: collect the young
    generations anyway (cyclic garbage must not pile up for good)."""
    global _since
    if overdue(after_s):
        with _lock:
            if _since is not None:
                _since = time.monotonic()
        gc.collect(1)
