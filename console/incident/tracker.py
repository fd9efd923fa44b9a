"""What the console records by itself, and the operator's incident events.

`IncidentTracker` reads each poll (FleetSnapshot, its alerts, whether the data
is stale), the rollouts the app sees, and the operator's keys, and appends the
incident's events to a Journal: opened, breaker transitions, services joining,
data gaps, recoveries, rollouts. Its state is rebuilt from the journal, so a
restarted console that resumes an incident records nothing twice.

No I/O of its own and no clock: times come from the snapshots (or `at=`).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field

from console.incident.events import (  # noqa: F401 - re-exported for the app
    RESPONSE_TIMES_S,
    ResponseClock,
    alert_time,
    first,
    parse_time,
    response_clock,
    response_seconds,
    start_time,
)
from console.incident.journal import Journal, JournalError, NoOpenIncident
from console.incident.store import (
    Detail,
    EventKind,
    JournalEvent,
    RootCauseCategory,
    affected_services,
)
from console.model.fleet import (
    BreakerState,
    CallTotals,
    Deployment,
    FleetSnapshot,
    Observed,
    Revision,
    Transition,
)

#: Transitions kept per service before they belong to an incident (the lead-up).
RECENT_PER_SERVICE = 100


class TrackerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert_name: str = "CircuitBreakerOpen"
    severity: str = "P0"  # the runbook's severity for CircuitBreakerOpen
    response_times_s: dict[str, float] = Field(default_factory=lambda: dict(RESPONSE_TIMES_S))
    #: A service counts as recovered once its breaker has stayed CLOSED this long.
    recovered_hold_s: float = 60.0
    #: Also open an incident on a breaker seen OPEN, not only on the alert (a
    #: backend without ALERTS, or an alert with a long `for:`).
    open_on_breaker: bool = True
    #: Transitions this long before the opening go into the timeline.
    lead_up_s: float = 300.0
    #: Rollouts this long before the opening are recorded (runbook: "1 hour ago").
    rollout_lookback_s: float = 3600.0
    #: A backfilled transition this close to a recorded one with the same
    #: states is the same transition: after a restart the history is read
    #: back at range-query steps, not at the live polls' times.
    dedup_tolerance_s: float = 30.0


# --- Reading an incident's events (shared with the postmortem) ---------------------


def current_text(events: Iterable[JournalEvent], event_id: int, key: str = "text") -> str | None:
    """A note's or a resolution summary's latest version (amendments applied)."""
    text = None
    for e in events:
        if e.id == event_id:
            text = e.details.get(key)
        elif e.kind == EventKind.NOTE_AMENDED and e.details.get("amends") == event_id:
            text = e.details.get("text")
    return None if text is None else str(text)


def _key_of(event: JournalEvent) -> tuple:
    d = event.details
    return (event.service, d.get("instance"), BreakerState(d.get("from", "unknown")),
            BreakerState(d.get("to", "unknown")), event.at)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


class IncidentTracker:
    """Feed it every poll; call its operator methods from the keys. Every
    method returns the events it appended (check `journal.is_written`)."""

    def __init__(self, journal: Journal, config: TrackerConfig | None = None,
                 source_details: dict[str, Detail] | None = None) -> None:
        self.journal = journal
        self.config = config or TrackerConfig()
        #: Recorded in incident_opened: where the data came from (the export
        #: reads prometheus_url / profile / prometheus_auth to query impact).
        self.source_details = dict(source_details or {})
        self._recent: dict[str, deque[Transition]] = {}
        self._swept = datetime.min.replace(tzinfo=timezone.utc)
        self._closed_seen: dict[str, datetime] = {}  # first poll that saw it CLOSED
        self._in_gap = False
        #: The last good poll's call totals (a source that keeps them) and its time.
        self._totals: dict[str, CallTotals] = {}
        self._totals_at: datetime | None = None
        #: A split-off service -> the tracker of its own incident (a sibling journal).
        self._side: dict[str, IncidentTracker] = {}
        self._rebuild()
        for loaded in journal.split_open:
            side = IncidentTracker(journal.sibling(loaded), self.config, self.source_details)
            for service in side.services:
                self._side[service] = side

    # --- State from the journal ------------------------------------------------

    def _rebuild(self) -> None:
        events = self.journal.events
        self._affected = affected_services(events)
        self._split = {e.service for e in events if e.kind == EventKind.SERVICE_SPLIT}
        self._recorded = [e for e in events if e.kind == EventKind.BREAKER_TRANSITION]
        self._keys = {_key_of(e) for e in self._recorded}
        self._rollouts = {
            (e.details.get("deployment"), e.details.get("revision"), e.details.get("replicaset"))
            for e in events if e.kind == EventKind.ROLLOUT_SEEN
        }
        self._recovered: set[str] = set()
        gap = None
        for e in events:
            if e.kind == EventKind.SERVICE_RECOVERED:
                self._recovered.add(e.service)
            elif e.kind == EventKind.BREAKER_TRANSITION and e.details.get("to") != "closed":
                self._recovered.discard(e.service)
            elif e.kind in (EventKind.DATA_GAP, EventKind.DATA_BACK):
                gap = e
        self._gap_event = gap if gap and gap.kind == EventKind.DATA_GAP else None
        self._in_gap = self._in_gap or self._gap_event is not None

    def reload(self) -> None:
        """Take in what a followed journal read (another console writes it)."""
        self._rebuild()

    @property
    def is_open(self) -> bool:
        return self.journal.is_open

    @property
    def services(self) -> list[str]:
        """The open incident's services (split ones removed)."""
        return list(self._affected) if self.journal.is_open else []

    # --- Polls -------------------------------------------------------------------

    def feed(self, snapshot: FleetSnapshot, stale: bool = False) -> list[JournalEvent]:
        """Take in one poll. `stale`: the app considers the data too old even
        if this poll did not fail."""
        if self.journal.read_only:
            return []  # another console records: it sees the same fleet
        out = self._feed_sides(snapshot, stale)
        return self._feed(snapshot, stale) + out

    def _feed(self, snapshot: FleetSnapshot, stale: bool) -> list[JournalEvent]:
        now = snapshot.fetched_at
        if self._side:  # a split-off service is its own incident's, not this one's
            snapshot = _without(snapshot, set(self._side))
        for t in snapshot.transitions:
            self._recent.setdefault(t.service, deque(maxlen=RECENT_PER_SERVICE)).append(t)
        self._forget_old(now)
        out: list[JournalEvent] = []
        if stale or snapshot.error is not None:
            if not self._in_gap:
                self._in_gap = True
                if self.journal.is_open:
                    since = snapshot.error_at or now
                    reason = snapshot.error or "data stale"
                    out += self._add(EventKind.DATA_GAP, at=since, details={"error": reason})
                    self._gap_event = out[-1]
            return out  # the services are the last good ones: nothing new to learn
        if self._in_gap:
            self._in_gap = False
            gap, self._gap_event = self._gap_event, None
            if gap is not None and self.journal.is_open:
                out += self._add(EventKind.DATA_BACK, at=now, details={
                    "gap_s": round((now - gap.at).total_seconds(), 1)})
        if snapshot.totals:
            self._totals, self._totals_at = snapshot.totals, now

        firing = [a for a in snapshot.alerts
                  if a.name == self.config.alert_name and a.state == "firing"]
        open_now = [s.service for s in snapshot.services if s.state == BreakerState.OPEN]
        if not self.journal.is_open:
            if firing or (self.config.open_on_breaker and open_now):
                out += self._open(snapshot, firing, open_now)
        else:
            out += self._alert_and_joins(snapshot, firing, open_now)
        if self.journal.is_open:
            for t in sorted(snapshot.transitions, key=lambda t: t.at):
                if t.service in self._affected:
                    out += self._transition(t)
            out += self._recoveries(snapshot)
        return out

    def _feed_sides(self, snapshot: FleetSnapshot, stale: bool) -> list[JournalEvent]:
        out: list[JournalEvent] = []
        for service, side in self._side.items():
            start = start_time(side.journal) if side.journal.incident_id else None
            out += side._feed(_only(snapshot, service, start), stale)
        return out

    def for_service(self, service: str | None) -> IncidentTracker:
        """The tracker whose incident the service is in: its own after a split."""
        return self._side.get(service, self) if service else self

    @property
    def split_off(self) -> list[IncidentTracker]:
        """The split-off services' trackers, one per incident."""
        return list(dict.fromkeys(self._side.values()))

    def record(self, event) -> None:
        """ActionRecorder: a mitigation step goes into its service's incident."""
        self.for_service(event.service).journal.record(event)

    def _forget_old(self, now: datetime) -> None:
        """The lead-up and first openings are all `_recent` is for: older
        transitions go, so a big flapping fleet cannot fill it (100 x 5,000)."""
        if now - self._swept < timedelta(seconds=60):
            return
        self._swept = now
        # Before an opening, an hour (a console started late reads an hour
        # back); once open, the lead-up has been recorded.
        keep = self.config.lead_up_s + (60 if self.journal.is_open else 3600)
        horizon = now - timedelta(seconds=keep)
        for service in list(self._recent):
            recent = self._recent[service]
            while recent and recent[0].at < horizon:
                recent.popleft()
            if not recent:
                del self._recent[service]

    def _first_open(self, service: str, snapshot: FleetSnapshot,
                    after: datetime | None = None) -> datetime | None:
        times = [t.at for t in self._recent.get(service, ())
                 if t.to_state == BreakerState.OPEN and (after is None or t.at >= after)]
        status = snapshot.service(service)
        if status is not None and status.state == BreakerState.OPEN and status.since:
            times.append(status.since)
        return min(times, default=None)

    def _open(self, snapshot, firing, open_now) -> list[JournalEvent]:
        now = snapshot.fetched_at
        timed = [a for a in firing if a.active_at]
        alert = min(timed, key=lambda a: a.active_at) if timed else (firing[0] if firing else None)
        named = sorted((a for a in firing if a.service), key=lambda a: a.active_at or now)
        services = list(dict.fromkeys(a.service for a in named)) or open_now
        opened_at = {s: self._first_open(s, snapshot) for s in services}
        first_open = min((t for t in opened_at.values() if t), default=None)
        if not named:
            # Named after the breaker that opened first, not the first by name.
            services.sort(key=lambda s: opened_at[s] or now)
        at = (alert.active_at if alert and alert.active_at else None) or first_open or now
        details: dict[str, Detail] = {
            **self.source_details,
            "severity": self.config.severity,
            "response_s": response_seconds(self.config.severity, self.config.response_times_s),
            "opened_by": "alert" if alert else "breaker",
            "alert": alert.name if alert else None,
            "alert_active_at": _iso(alert.active_at) if alert else None,
            "first_open_at": _iso(first_open),
        }
        out = [self.journal.open_incident(services[0] if services else None,
                                          services=services, at=at, details=details)]
        self._recovered, self._closed_seen = set(), {}
        self._rebuild()
        for service in services:
            out += self._lead_up(service, at)
        return out + self._sample(services)

    def _lead_up(self, service: str, since: datetime) -> list[JournalEvent]:
        start = since - timedelta(seconds=self.config.lead_up_s)
        out: list[JournalEvent] = []
        for t in sorted(self._recent.get(service, ()), key=lambda t: t.at):
            if t.at >= start:
                out += self._transition(t)
        return out

    def _alert_and_joins(self, snapshot, firing, open_now) -> list[JournalEvent]:
        out: list[JournalEvent] = []
        if firing and alert_time(self.journal) is None:
            timed = [a for a in firing if a.active_at]
            alert = min(timed, key=lambda a: a.active_at) if timed else firing[0]
            out += self._add(EventKind.ALERT_FIRED, service=alert.service,
                             at=alert.active_at or snapshot.fetched_at,
                             details={"alert": alert.name, "active_at": _iso(alert.active_at)})
        opened = [t.service for t in snapshot.transitions if t.to_state == BreakerState.OPEN]
        candidates = [a.service for a in firing if a.service] + open_now + opened
        for service in dict.fromkeys(candidates):
            if service in self._affected or service in self._split:
                continue  # a split service stays out: the operator said so
            start = start_time(self.journal)
            at = self._first_open(service, snapshot, after=start) or snapshot.fetched_at
            out += self._add(EventKind.SERVICE_JOINED, service=service, at=at)
            self._affected.append(service)
            out += self._lead_up(service, at)
            out += self._sample([service])
        return out

    def _transition(self, t: Transition) -> list[JournalEvent]:
        if t.key in self._keys or self._near_duplicate(t):
            return []
        self._keys.add(t.key)
        out = self._add(EventKind.BREAKER_TRANSITION, service=t.service, at=t.at, details={
            "instance": t.instance, "from": t.from_state.value, "to": t.to_state.value,
            "observed": t.observed.value,
        })
        self._recorded.append(out[-1])
        if t.to_state != BreakerState.CLOSED:
            self._recovered.discard(t.service)
        return out

    def _near_duplicate(self, t: Transition) -> bool:
        if t.observed != Observed.BACKFILL:
            return False
        tolerance = timedelta(seconds=self.config.dedup_tolerance_s)
        return any(
            e.service == t.service and e.details.get("instance") == t.instance
            and e.details.get("from") == t.from_state.value
            and e.details.get("to") == t.to_state.value and abs(e.at - t.at) <= tolerance
            for e in self._recorded
        )

    def _recoveries(self, snapshot: FleetSnapshot) -> list[JournalEvent]:
        now, out = snapshot.fetched_at, []
        hold = timedelta(seconds=self.config.recovered_hold_s)
        for service in self._affected:
            status = snapshot.service(service)
            if status is None or not status.instances:
                continue
            if status.state != BreakerState.CLOSED:
                self._closed_seen.pop(service, None)
                if status.state not in (BreakerState.UNKNOWN, BreakerState.DISABLED):
                    self._recovered.discard(service)
                continue
            seen = self._closed_seen.setdefault(service, now)
            sinces = [i.since for i in status.instances]
            # Closed everywhere since the last instance closed; unknown: since we saw it.
            closed_at = max(sinces) if all(sinces) else seen
            if service not in self._recovered and now - closed_at >= hold:
                self._recovered.add(service)
                out += self._add(EventKind.SERVICE_RECOVERED, service=service, at=closed_at,
                                 details={"held_s": round((now - closed_at).total_seconds(), 1),
                                          "confirmed_at": _iso(now)})
        return out

    def rollout_seen(self, service: str, deployment: Deployment | str,
                     revision: Revision) -> list[JournalEvent]:
        """A rollout of `deployment` the app saw; recorded once, and only if
        it is recent for the open incident (a recent deployment is a cause)."""
        if not self.journal.is_open or self.journal.read_only:
            return []
        name = (f"{deployment.namespace}/{deployment.name}"
                if isinstance(deployment, Deployment) else str(deployment))
        key = (name, revision.revision, revision.replicaset)
        start = start_time(self.journal)
        lookback = timedelta(seconds=self.config.rollout_lookback_s)
        if key in self._rollouts or (start and revision.created_at < start - lookback):
            return []
        self._rollouts.add(key)
        return self._add(EventKind.ROLLOUT_SEEN, service=service, at=revision.created_at, details={
            "deployment": name, "revision": revision.revision,
            "replicaset": revision.replicaset, "change_cause": revision.change_cause,
        })

    # --- Operator ------------------------------------------------------------------

    def acknowledge(self, at: datetime | None = None) -> JournalEvent | None:
        """The on-call engineer took it; None if already acknowledged."""
        self._need_open()
        if first(self.journal, EventKind.ACKNOWLEDGED):
            return None
        at = at or self.journal.clock()
        clock = self.response_clock(at)
        details: dict[str, Detail] = {}
        if clock:
            details = {"severity": clock.severity, "response_s": clock.response_s,
                       "deadline": _iso(clock.deadline), "overdue": clock.overdue}
        return self._add(EventKind.ACKNOWLEDGED, at=at, details=details)[-1]

    def note(self, text: str, at: datetime | None = None) -> JournalEvent:
        self._need_incident()
        return self._add(EventKind.NOTE, at=at, details={"text": _text(text)})[-1]

    def amend_note(self, note_id: int, text: str, at: datetime | None = None) -> JournalEvent:
        """A new version of a note; the original stays in the journal."""
        self._need_incident()
        events = self.journal.events
        if not any(e.id == note_id and e.kind == EventKind.NOTE for e in events):
            raise JournalError(f"no note #{note_id} in this incident")
        return self._add(EventKind.NOTE_AMENDED, at=at, details={
            "amends": note_id, "text": _text(text), "previous": current_text(events, note_id),
        })[-1]

    def amend_resolution(self, text: str, at: datetime | None = None) -> JournalEvent:
        """A new version of the resolution summary, amended as a note is."""
        self._need_incident()
        events = self.journal.events
        resolved = first(self.journal, EventKind.RESOLVED)
        if resolved is None:
            raise JournalError(f"incident {self.journal.incident_id} is not resolved")
        return self._add(EventKind.NOTE_AMENDED, at=at, details={
            "amends": resolved.id, "of": "resolution summary", "text": _text(text),
            "previous": current_text(events, resolved.id, "summary"),
        })[-1]

    def root_cause(self, text: str, category: RootCauseCategory | str,
                   at: datetime | None = None) -> JournalEvent:
        self._need_incident()
        category = RootCauseCategory(category)
        return self._add(EventKind.ROOT_CAUSE, at=at,
                         details={"text": _text(text), "category": category.value})[-1]

    def resolve(self, summary: str = "", at: datetime | None = None) -> JournalEvent:
        self._need_open()
        self._sample(self._affected)  # the impact counts up to here
        details = {"summary": summary.strip() or None}
        return self._add(EventKind.RESOLVED, at=at, details=details)[-1]

    def split(self, service: str, reason: str = "", at: datetime | None = None) -> JournalEvent:
        """Take a service out of the incident (a separate problem) into an
        incident of its own, with its events so far. That one starts now
        (its response clock too) and stays open until it is resolved."""
        self._need_open()
        if service not in self._affected:
            raise JournalError(f"{service} is not part of incident {self.journal.incident_id}")
        at = at or self.journal.clock()
        main = self.journal.incident_id
        moved = [e for e in self.journal.events if e.service == service and e.kind in MOVED]
        side_journal = self.journal.sibling()
        side_journal.open_incident(service, services=[service], at=at, details={
            **self.source_details, "severity": self.config.severity,
            "response_s": response_seconds(self.config.severity, self.config.response_times_s),
            "opened_by": "split",
            "split_from": main, "alert": None, "alert_active_at": None, "first_open_at": None,
        })
        for e in moved:
            side_journal.add(e.kind, service=e.service, at=e.at,
                             details={**e.details, "moved_from": f"{main}#{e.id}"})
        side = IncidentTracker(side_journal, self.config, self.source_details)
        side._recent = {service: deque(self._recent.get(service, ()),
                                       maxlen=RECENT_PER_SERVICE)}
        side._totals, side._totals_at = self._totals, self._totals_at
        side._sample([service])
        event = self._add(EventKind.SERVICE_SPLIT, service=service, at=at, details={
            "reason": reason.strip() or None, "to_incident": side_journal.incident_id})[-1]
        self._affected.remove(service)
        self._split.add(service)
        self._side[service] = side
        return event

    def exported(self, fmt: str, path: str | None, at: datetime | None = None) -> JournalEvent:
        self._need_incident()
        return self._add(EventKind.EXPORT, at=at, details={"format": fmt, "path": path})[-1]

    def sample_counters(self) -> list[JournalEvent]:
        """Before an export of the open incident: its impact so far."""
        return self._sample(self._affected) if self.journal.is_open else []

    def _sample(self, services: Iterable[str]) -> list[JournalEvent]:
        """The services' call totals as the last good poll read them (a
        source that keeps totals only): the postmortem counts the impact
        from these samples when there is no Prometheus to ask."""
        out: list[JournalEvent] = []
        for service in services:
            t = self._totals.get(service)
            if t is not None and self.journal.is_open and not self.journal.read_only:
                out += self._add(EventKind.COUNTERS, service=service, at=self._totals_at,
                                 details=t.model_dump())
        return out

    # --- Response clock ------------------------------------------------------------

    def response_clock(self, now: datetime) -> ResponseClock | None:
        """The header's response clock (console.incident.events.response_clock)."""
        return response_clock(self.journal, now, severity=self.config.severity,  # its index
                              response_times_s=self.config.response_times_s)

    # --- Helpers -------------------------------------------------------------------

    def _add(self, kind: EventKind, *, service: str | None = None, at: datetime | None = None,
             details: dict[str, Detail] | None = None) -> list[JournalEvent]:
        return [self.journal.add(kind, service=service, at=at, details=details)]

    def _need_incident(self) -> None:
        if self.journal.incident_id is None:
            raise NoOpenIncident("no incident: nothing to record this into")

    def _need_open(self) -> None:
        if not self.journal.is_open:
            raise NoOpenIncident("no open incident")


#: A split-off service's events that go with it into its own incident.
MOVED = (EventKind.BREAKER_TRANSITION, EventKind.SERVICE_RECOVERED, EventKind.ROLLOUT_SEEN,
         EventKind.ACTION)


def without_moved(events: Iterable[JournalEvent]) -> list[JournalEvent]:
    """An incident's events less those a split moved into the split-off
    service's own incident (the journal is append-only: they stay on disk)."""
    events = list(events)
    split_at: dict[str | None, int] = {}
    for e in events:
        if e.kind == EventKind.SERVICE_SPLIT and e.details.get("to_incident"):
            split_at.setdefault(e.service, e.id)
    return [e for e in events if not (
        e.service in split_at and e.kind in MOVED and e.id < split_at[e.service])]


def _without(snapshot: FleetSnapshot, services: set[str]) -> FleetSnapshot:
    return snapshot.model_copy(update={
        "services": tuple(s for s in snapshot.services if s.service not in services),
        "transitions": tuple(t for t in snapshot.transitions if t.service not in services),
        "alerts": tuple(a for a in snapshot.alerts if a.service not in services),
    })


def _only(snapshot: FleetSnapshot, service: str, since: datetime | None) -> FleetSnapshot:
    """One service's part of a poll; alerts only if they became active since
    its incident started (an older alert must not back-date its clock)."""
    return snapshot.model_copy(update={
        "services": tuple(s for s in snapshot.services if s.service == service),
        "transitions": tuple(t for t in snapshot.transitions if t.service == service),
        "alerts": tuple(a for a in snapshot.alerts if a.service == service and a.active_at
                        and (since is None or a.active_at >= since)),
    })


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("empty text")
    return text
