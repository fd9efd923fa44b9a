"""The breaker transitions the polls showed, for the tracker: the recent ones
of each service (an opening's lead-up) and those recorded into the incident,
each once. A backfilled transition read back after a restart is the live one
it repeats, not a new one."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Iterable

from console.incident.store import EventKind, JournalEvent
from console.model.fleet import BreakerState, FleetSnapshot, Observed, Transition

#: Transitions kept per service before they belong to an incident (the lead-up).
RECENT_PER_SERVICE = 100


def _key_of(event: JournalEvent) -> tuple:
    d = event.details
    return (event.service, d.get("instance"), BreakerState(d.get("from", "unknown")),
            BreakerState(d.get("to", "unknown")), event.at)


class Observations:
    def __init__(self, lead_up_s: float, dedup_tolerance_s: float) -> None:
        self.lead_up_s = lead_up_s
        self.dedup_tolerance_s = dedup_tolerance_s
        self.recent: dict[str, deque[Transition]] = {}
        self._swept = datetime.min.replace(tzinfo=timezone.utc)
        self._recorded: list[JournalEvent] = []
        self._keys: set[tuple] = set()

    def rebuild(self, events: Iterable[JournalEvent]) -> None:
        """The transitions the incident's journal already holds."""
        self._recorded = [e for e in events if e.kind == EventKind.BREAKER_TRANSITION]
        self._keys = {_key_of(e) for e in self._recorded}

    # --- Recent (not yet the incident's) -----------------------------------------

    def saw(self, transitions: Iterable[Transition]) -> None:
        for t in transitions:
            self.recent.setdefault(t.service, deque(maxlen=RECENT_PER_SERVICE)).append(t)

    def recent_of(self, service: str) -> deque[Transition]:
        """A copy of one service's recent transitions (a split-off tracker's start)."""
        return deque(self.recent.get(service, ()), maxlen=RECENT_PER_SERVICE)

    def forget_old(self, now: datetime, is_open: bool) -> None:
        """The lead-up and first openings are all `recent` is for: older
        transitions go, so a big flapping fleet cannot fill it (100 x 5,000)."""
        if now - self._swept < timedelta(seconds=60):
            return
        self._swept = now
        # Before an opening, an hour (a console started late reads an hour
        # back); once open, the lead-up has been recorded.
        keep = self.lead_up_s + (60 if is_open else 3600)
        horizon = now - timedelta(seconds=keep)
        for service in list(self.recent):
            recent = self.recent[service]
            while recent and recent[0].at < horizon:
                recent.popleft()
            if not recent:
                del self.recent[service]

    def first_open(self, service: str, snapshot: FleetSnapshot,
                   after: datetime | None = None) -> datetime | None:
        times = [t.at for t in self.recent.get(service, ())
                 if t.to_state == BreakerState.OPEN and (after is None or t.at >= after)]
        status = snapshot.service(service)
        if status is not None and status.state == BreakerState.OPEN and status.since:
            times.append(status.since)
        return min(times, default=None)

    def lead_up(self, service: str, since: datetime) -> list[Transition]:
        """The service's transitions in the lead-up to `since`, oldest first."""
        start = since - timedelta(seconds=self.lead_up_s)
        return [t for t in sorted(self.recent.get(service, ()), key=lambda t: t.at)
                if t.at >= start]

    # --- Recorded ------------------------------------------------------------------

    def take(self, t: Transition) -> bool:
        """True for a transition not recorded yet (it counts as recorded from now)."""
        if t.key in self._keys or self._near_duplicate(t):
            return False
        self._keys.add(t.key)
        return True

    def recorded(self, event: JournalEvent) -> None:
        self._recorded.append(event)

    def _near_duplicate(self, t: Transition) -> bool:
        if t.observed != Observed.BACKFILL:
            return False
        tolerance = timedelta(seconds=self.dedup_tolerance_s)
        return any(
            e.service == t.service and e.details.get("instance") == t.instance
            and e.details.get("from") == t.from_state.value
            and e.details.get("to") == t.to_state.value and abs(e.at - t.at) <= tolerance
            for e in self._recorded
        )
