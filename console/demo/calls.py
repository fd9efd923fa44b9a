"""Per-breaker call bookkeeping: the sliding window behind the rates, and
per-service totals like the runbook's *_total counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from console.demo.breaker import SimBreaker
from console.demo.kube import ticks
from console.demo.topology import TICK_S

WINDOW_TICKS = ticks(30.0)  # rates are over the last 30 s of sim time


@dataclass
class Totals:
    """Cumulative per-service counters, like the runbook's *_total metrics."""

    successes: int = 0
    failures: int = 0
    rejected: int = 0
    transitions: int = 0


class Link:
    """One caller pod's breaker for one downstream and its recent calls."""

    __slots__ = ("breaker", "fallback", "window", "ok", "fail", "rej", "quiet_until")

    def __init__(self, breaker: SimBreaker, fallback: str | None) -> None:
        self.breaker = breaker
        self.fallback = fallback  # the fallback mode when on, from the pod's env
        self.window: deque[tuple[int, int, int]] = deque()
        self.ok = self.fail = self.rej = 0  # sums over the window
        # Rejected and fallback calls are logged once a second, not once a call.
        self.quiet_until = 0

    def push(self, ok: int, fail: int, rej: int) -> None:
        if len(self.window) == WINDOW_TICKS:
            o, f, r = self.window.popleft()
            self.ok, self.fail, self.rej = self.ok - o, self.fail - f, self.rej - r
        self.window.append((ok, fail, rej))
        self.ok, self.fail, self.rej = self.ok + ok, self.fail + fail, self.rej + rej

    def rates(self) -> tuple[float | None, float | None, float | None]:
        """(failed, successful, rejected) calls per second; unknown before any tick."""
        seconds = len(self.window) * TICK_S
        if not seconds:
            return None, None, None
        return self.fail / seconds, self.ok / seconds, self.rej / seconds
