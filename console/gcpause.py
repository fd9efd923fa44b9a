"""No collection walks what a poll leaves alive.

A poll at 20,000 breakers holds hundreds of thousands of short-lived
containers at once (the parsed JSON of four sites, the rows being built)
and leaves ~130,000 tracked objects alive: the new snapshot, its services,
their instances. None of them is in a reference cycle: reference counting
frees them when the next snapshot replaces them. Yet the collector walked
them: a full collection caught mid-poll took 250-650 ms with the GIL held,
and after each poll a young one, then a middle one, ~100 ms each, walked
the new snapshot again (make bench-sites); key presses waited behind them.

So automatic collection is off while any poll reads, and when the last one
is done what is young then is frozen (gc.freeze: moved where no collection
walks it), not collected. Cyclic garbage made meanwhile (Textual's drawing
makes some while a poll runs) is frozen with it; once every SWEEP_S the
frozen objects are unfrozen and collected in full, once (~50-300 ms at
5,000-20,000 breakers, logged), and what lives is frozen again.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Seconds between sweeps of the frozen objects (their cyclic garbage).
SWEEP_S = 600.0

_lock = threading.Lock()
_depth = 0  # polls reading now
_paused_by_us = False  # we disabled it (cbconsole's start-up may have already)
_since: float | None = None  # monotonic time of the pause
_swept = time.monotonic()  # the last sweep (or the start)


@contextmanager
def paused() -> Iterator[None]:
    """Automatic collection off for the block (nested and concurrent blocks
    share one pause); when the last one ends, what is young is frozen."""
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
            freeze()


def pausing(call: Callable[[], T]) -> Callable[[], T]:
    """`call` run under `paused()` (a site's poll on a thread of its own)."""
    def run() -> T:
        with paused():
            return call()
    return run


def freeze() -> None:
    """What is young now out of every collection's way; the sweep when due."""
    global _swept
    gc.freeze()
    with _lock:  # two polls ending together sweep once
        if time.monotonic() - _swept < SWEEP_S:
            return
        _swept = time.monotonic()
    start = time.perf_counter()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    log.info("swept %d frozen objects in %.0f ms: %d unreachable", frozen,
             (time.perf_counter() - start) * 1000, found)


def overdue(after_s: float) -> bool:
    """True if polls have kept the collector paused for `after_s` seconds
    (polls that overlap without a gap, a poll hung past its deadline)."""
    since = _since
    return since is not None and time.monotonic() - since > after_s


def collect_if_overdue(after_s: float = 30.0) -> None:
    """Polls back to back may never leave a gap: freeze (and sweep, when due)
    anyway, so that cyclic garbage does not pile up for good."""
    global _since
    if overdue(after_s):
        with _lock:
            if _since is not None:
                _since = time.monotonic()
        freeze()
