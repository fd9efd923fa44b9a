"""What the board remembers between polls: per-service transition history and
the recent error-rate series behind the sparkline. Bounded, so a week-long
session or a flapping breaker cannot grow it without limit."""

from __future__ import annotations

from collections import deque

from console.model import FleetSnapshot, Transition

MAX_TRANSITIONS = 200
SPARK_POINTS = 20


class FleetHistory:
    def __init__(
        self, max_transitions: int = MAX_TRANSITIONS, spark_points: int = SPARK_POINTS
    ) -> None:
        self._max_transitions = max_transitions
        self._spark_points = spark_points
        self._transitions: dict[str, deque[Transition]] = {}
        self._seen: dict[str, set[tuple]] = {}
        self._errors: dict[str, deque[float | None]] = {}

    def add_transitions(self, transitions: list[Transition] | tuple[Transition, ...]) -> int:
        """Add transitions, skipping ones already known (backfill and live polls
        overlap). Returns how many were new."""
        added = 0
        for t in sorted(transitions, key=lambda t: t.at):
            seen = self._seen.setdefault(t.service, set())
            if t.key in seen:
                continue
            history = self._transitions.setdefault(
                t.service, deque(maxlen=self._max_transitions)
            )
            if len(history) == history.maxlen:
                seen.discard(history[0].key)
            history.append(t)
            seen.add(t.key)
            added += 1
        return added

    def apply(self, snapshot: FleetSnapshot) -> None:
        """Take in one successful poll."""
        self.add_transitions(snapshot.transitions)
        for service in snapshot.services:
            series = self._errors.setdefault(
                service.service, deque(maxlen=self._spark_points)
            )
            series.append(service.error_percent)

    def transitions(self, service: str) -> list[Transition]:
        """The service's transitions, newest first."""
        return sorted(self._transitions.get(service, ()), key=lambda t: t.at, reverse=True)

    def error_series(self, service: str) -> list[float | None]:
        """Recent error percentages, oldest first; None where there were no calls."""
        return list(self._errors.get(service, ()))
