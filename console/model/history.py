"""What the board remembers between polls: per-service transition history and
the recent error-rate series behind the sparkline. Bounded, so a week-long
session or a flapping breaker cannot grow it without limit."""

from __future__ import annotations

from collections import deque

from console.model.fleet import FleetSnapshot, Transition

MAX_TRANSITIONS = 200  # per service: the detail pane's list
MAX_FLEET_TRANSITIONS = 20_000  # in all: 200 x 5,000 services would be a million
SPARK_POINTS = 20


class FleetHistory:
    def __init__(
        self,
        max_transitions: int = MAX_TRANSITIONS,
        spark_points: int = SPARK_POINTS,
        max_fleet_transitions: int = MAX_FLEET_TRANSITIONS,
    ) -> None:
        self._max_transitions = max_transitions
        self._max_fleet = max_fleet_transitions
        self._order: deque[Transition] = deque()  # as added, for the fleet-wide cap
        self._count = 0
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
            history = self._transitions.setdefault(t.service, deque())
            if len(history) == self._max_transitions:
                self._forget(history.popleft())
            history.append(t)
            seen.add(t.key)
            self._order.append(t)
            self._count += 1
            added += 1
        while self._count > self._max_fleet:
            oldest = self._order.popleft()
            history = self._transitions.get(oldest.service)
            if history and history[0] is oldest:  # else already gone with its service's cap
                self._forget(history.popleft())
        if len(self._order) > 2 * max(self._count, 1000):
            # Entries dropped by a service's own cap linger here: rebuild.
            kept = {id(t) for h in self._transitions.values() for t in h}
            self._order = deque(t for t in self._order if id(t) in kept)
        return added

    def _forget(self, t: Transition) -> None:
        self._seen[t.service].discard(t.key)
        self._count -= 1

    def apply(self, snapshot: FleetSnapshot) -> None:
        """Take in one successful poll."""
        self.add_transitions(snapshot.transitions)
        current = snapshot.by_key
        for gone in [key for key in self._errors if key not in current]:
            del self._errors[gone]  # its row is gone from the board too
        for service in snapshot.services:
            series = self._errors.setdefault(  # per (site, service): a row's own trend
                service.key, deque(maxlen=self._spark_points)
            )
            series.append(service.error_percent)

    def transitions(self, service: str, site: str | None = None) -> list[Transition]:
        """The service's transitions (in `site` only, if given), newest first."""
        kept = self._transitions.get(service, ())
        if site is not None:
            kept = [t for t in kept if t.site == site]
        return sorted(kept, key=lambda t: t.at, reverse=True)

    def error_series(self, service: str, site: str = "") -> list[float | None]:
        """Recent error percentages of the row (site, service), oldest first;
        None where there were no calls."""
        return list(self._errors.get((site, service), ()))
