"""A circuit breaker with RUNBOOK-004's semantics, driven by simulated time.

CLOSED -> OPEN after `failure_threshold` consecutive failures; OPEN ->
HALF_OPEN once `recovery_timeout` seconds have passed (on a timer, so it
happens with no traffic too); HALF_OPEN -> CLOSED after `success_threshold`
consecutive successful probes, HALF_OPEN -> OPEN on any failed probe.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from console.model.fleet import DEFAULT_RECOVERY_TIMEOUT_S, BreakerState

OnTransition = Callable[[BreakerState, BreakerState, datetime], None]

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class SimBreaker:
    def __init__(
        self,
        now: datetime,
        *,
        failure_threshold: int = 5,
        recovery_timeout: float = DEFAULT_RECOVERY_TIMEOUT_S,
        success_threshold: int = 2,
        on_transition: OnTransition | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.recovery_timeout = timedelta(seconds=recovery_timeout)
        self.success_threshold = success_threshold
        self.on_transition = on_transition
        self.state = CLOSED
        self.since = now
        self.opened_at: datetime | None = None
        self._due: datetime | None = None  # opened_at + recovery_timeout, while open
        self.failures = 0  # consecutive, while closed
        self.successes = 0  # consecutive probes, while half-open

    @property
    def half_open_at(self) -> datetime | None:
        """When an open breaker goes half-open; None unless open."""
        return self._due

    def advance(self, now: datetime) -> None:
        """Let the recovery timer fire. The transition is dated when it was
        due, not when we noticed, so coarse ticks do not skew the history."""
        due = self._due
        if due is not None and now >= due:
            self._move(HALF_OPEN, due)

    def allow(self, now: datetime) -> bool:
        """May a call go through now? False while open (a rejected call)."""
        self.advance(now)
        return self.state is not OPEN

    def record_success(self, now: datetime) -> None:
        if self.state is CLOSED:
            self.failures = 0
        elif self.state is HALF_OPEN:
            self.successes += 1
            if self.successes >= self.success_threshold:
                self._move(CLOSED, now)
        # While open, a late answer from an earlier call changes nothing.

    def record_failure(self, now: datetime) -> None:
        if self.state is CLOSED:
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self._move(OPEN, now)
        elif self.state is HALF_OPEN:
            self._move(OPEN, now)

    def _move(self, to_state: BreakerState, at: datetime) -> None:
        from_state = self.state
        self.state = to_state
        self.since = at
        self.failures = 0
        self.successes = 0
        self.opened_at = at if to_state is OPEN else None
        self._due = at + self.recovery_timeout if to_state is OPEN else None
        if self.on_transition is not None:
            self.on_transition(from_state, to_state, at)
