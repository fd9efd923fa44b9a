"""Breaker state history for the Prometheus source: transitions read back from
a range query at the first poll (BACKFILL), then derived by diffing each poll
against the previous one (LIVE), the first diff comparing against the
backfill's last state: no gap, no duplicate.

UNKNOWN is not a state a breaker is in but a gap in what we know (no state
series, or none at 1): it makes no transition, and the state before the gap
is what the next known state is compared with. CONFLICT is a reported
condition and counts as a state.
"""

from __future__ import annotations

from datetime import datetime, timezone
from statistics import median

from console.model.fleet import BreakerState, Observed, Transition

Key = tuple[str, str]  # (service, instance)

#: Forget instances unseen for this long (pods come and go with deployments).
FORGET_AFTER_S = 6 * 3600.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def scrape_interval(series: list[dict]) -> float | None:
    """The median spacing of raw samples (a range-vector answer's `values`);
    None with fewer than two samples."""
    gaps = []
    for s in series:
        times = [float(t) for t, _ in s.get("values", ())]
        gaps += [b - a for a, b in zip(times, times[1:]) if b > a]
    return round(median(gaps), 3) if gaps else None


class StateTracker:
    def __init__(self, site: str = "") -> None:
        self.site = site  # stamped on its transitions
        self.state: dict[Key, BreakerState] = {}
        self.since: dict[Key, datetime | None] = {}
        self.last_transition: dict[str, Transition] = {}
        self._seen: dict[Key, float] = {}

    def _record(self, key: Key, old: BreakerState, new: BreakerState, at: datetime,
                observed: Observed) -> Transition:
        t = Transition(service=key[0], instance=key[1], from_state=old, to_state=new,
                       at=at, observed=observed, site=self.site)
        self.since[key] = at
        last = self.last_transition.get(key[0])
        if last is None or last.at <= at:
            self.last_transition[key[0]] = t
        return t

    def backfill(self, states: dict[Key, dict[float, BreakerState]]) -> list[Transition]:
        """Walk each instance's states over time (timestamp -> state at that
        evaluation step) and record the changes as BACKFILL transitions."""
        found: list[Transition] = []
        for key, points in states.items():
            current = self.state.get(key)
            for ts in sorted(points):
                state = points[ts]
                if state == BreakerState.UNKNOWN:
                    continue
                if current is not None and state != current:
                    found.append(self._record(key, current, state, utc(ts), Observed.BACKFILL))
                elif current is None:
                    self.since.setdefault(key, None)
                current = state
                self._seen[key] = ts
            if current is not None:
                self.state[key] = current
        return sorted(found, key=lambda t: (t.at, t.service, t.instance))

    def observe(self, states: dict[Key, BreakerState], at: datetime) -> list[Transition]:
        """Diff this poll's states against the last known ones: LIVE transitions."""
        found: list[Transition] = []
        now = at.timestamp()
        for key, state in states.items():
            self._seen[key] = now
            if state == BreakerState.UNKNOWN:
                continue
            previous = self.state.get(key)
            if previous is None:
                self.since.setdefault(key, None)
            elif previous != state:
                found.append(self._record(key, previous, state, at, Observed.LIVE))
            self.state[key] = state
        self._forget(now)
        return found

    def since_of(self, key: Key, state: BreakerState) -> datetime | None:
        """When the instance entered `state`; None if unknown (no transition seen)."""
        if state == BreakerState.UNKNOWN or self.state.get(key) != state:
            return None
        return self.since.get(key)

    def _forget(self, now: float) -> None:
        for key in [k for k, seen in self._seen.items() if now - seen > FORGET_AFTER_S]:
            del self._seen[key]
            self.state.pop(key, None)
            self.since.pop(key, None)
