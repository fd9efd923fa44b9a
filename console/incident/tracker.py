"""What the console records by itself, and the operator's incident events.

`IncidentTracker` reads each poll (FleetSnapshot, its alerts, whether the data
is stale), the rollouts the app sees, and the operator's keys, and appends the
incident's events to a Journal: opened, breaker transitions, services joining,
data gaps, recoveries, rollouts. Its state is rebuilt from the journal, so a
restarted console that resumes an incident records nothing twice. Its parts:
`opening` (which alert and services open or join an incident), `observed`
(transitions, each recorded once), `recovery` (the CLOSED hold).

No I/O of its own and no clock: times come from the snapshots (or `at=`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from console.incident.events import (  # noqa: F401 - re-exported for the app
    MOVED,
    RESPONSE_TIMES_S,
    ResponseClock,
    alert_time,
    current_text,
    first,
    parse_time,
    response_clock,
    response_seconds,
    start_time,
    without_moved,
)
from console.incident.journal import Journal, JournalError
from console.incident.observed import RECENT_PER_SERVICE, Observations  # noqa: F401
from console.incident.opening import (
    earliest,
    iso,
    joining,
    only,
    opening,
    severity_details,
    without,
)
from console.incident.operator import OperatorRecord
from console.incident.partial import PartialSources
from console.incident import clusters
from console.incident.recovery import Recoveries
from console.incident.settings import TrackerConfig
from console.incident.store import (
    Detail,
    EventKind,
    JournalEvent,
    affected_services,
)
from console.model.fleet import (
    BreakerState,
    CallTotals,
    Deployment,
    FleetSnapshot,
    Revision,
    Transition,
)


class IncidentTracker(OperatorRecord):
    """Feed it every poll; call its operator methods from the keys. Every
    method returns the events it appended (check `journal.is_written`)."""

    def __init__(self, journal: Journal, config: TrackerConfig | None = None,
                 source_details: dict[str, Detail] | None = None) -> None:
        super().__init__(journal, config)
        #: Recorded in incident_opened: where the data came from (the export
        #: reads prometheus_url / profile / prometheus_auth to query impact).
        self.source_details = dict(source_details or {})
        self._seen = Observations(self.config.lead_up_s, self.config.dedup_tolerance_s)
        self._recovery = Recoveries(self.config.recovered_hold_s)
        self._partial = PartialSources()
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
        self._seen.rebuild(events)
        self._rollouts = {
            (e.details.get("deployment"), e.details.get("revision"), e.details.get("replicaset"),
             e.site) for e in events if e.kind == EventKind.ROLLOUT_SEEN
        }
        self._recovery.rebuild(events)
        self._partial.rebuild(events)
        gap = None
        for e in events:
            if e.kind in (EventKind.DATA_GAP, EventKind.DATA_BACK):
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
    def spans(self) -> str | None:
        """"spans eu-west, us-east" when the incident's events come from several sites."""
        return clusters.spans(self.journal.events) if self.journal.is_open else None

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
            snapshot = without(snapshot, set(self._side))
        self._seen.saw(snapshot.transitions)
        self._seen.forget_old(now, self.journal.is_open)
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
            for kind, site, details in self._partial.changes(snapshot):
                out += self._add(kind, at=now, details=details, site=site)
        return out

    def _feed_sides(self, snapshot: FleetSnapshot, stale: bool) -> list[JournalEvent]:
        out: list[JournalEvent] = []
        for service, side in self._side.items():
            start = start_time(side.journal) if side.journal.incident_id else None
            out += side._feed(only(snapshot, service, start), stale)
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

    def _open(self, snapshot, firing, open_now) -> list[JournalEvent]:
        services, at, alert = opening(snapshot, firing, open_now,
                                      lambda s: self._seen.first_open(s, snapshot))
        details: dict[str, Detail] = {
            **self.source_details,
            **severity_details(self.config.severity, self.config.response_times_s),
            **alert,
        }
        out = [self.journal.open_incident(services[0] if services else None,
                                          services=services, at=at, details=details)]
        self._recovery.reset()
        self._rebuild()
        for service in services:
            out += self._lead_up(service, at)
        return out + self._sample(services)

    def _lead_up(self, service: str, since: datetime) -> list[JournalEvent]:
        out: list[JournalEvent] = []
        for t in self._seen.lead_up(service, since):
            out += self._transition(t)
        return out

    def _alert_and_joins(self, snapshot, firing, open_now) -> list[JournalEvent]:
        out: list[JournalEvent] = []
        if firing and alert_time(self.journal) is None:
            alert = earliest(firing)
            out += self._add(EventKind.ALERT_FIRED, service=alert.service,
                             at=alert.active_at or snapshot.fetched_at,
                             details={"alert": alert.name, "active_at": iso(alert.active_at)})
        for service in joining(snapshot, firing, open_now):
            if service in self._affected or service in self._split:
                continue  # a split service stays out: the operator said so
            start = start_time(self.journal)
            at = self._seen.first_open(service, snapshot, after=start) or snapshot.fetched_at
            out += self._add(EventKind.SERVICE_JOINED, service=service, at=at)
            self._affected.append(service)
            out += self._lead_up(service, at)
            out += self._sample([service])
        return out

    def _transition(self, t: Transition) -> list[JournalEvent]:
        if not self._seen.take(t):
            return []
        out = self._add(EventKind.BREAKER_TRANSITION, service=t.service, at=t.at, details={
            "instance": t.instance, "from": t.from_state.value, "to": t.to_state.value,
            "observed": t.observed.value,
        }, site=t.site)
        self._seen.recorded(out[-1])
        if t.to_state != BreakerState.CLOSED:
            self._recovery.not_closed(t.service)
        return out

    def _recoveries(self, snapshot: FleetSnapshot) -> list[JournalEvent]:
        out: list[JournalEvent] = []
        for service, closed_at, held_s in self._recovery.check(snapshot, self._affected):
            out += self._add(EventKind.SERVICE_RECOVERED, service=service, at=closed_at,
                             details={"held_s": held_s, "confirmed_at": iso(snapshot.fetched_at)})
        return out

    def rollout_seen(self, service: str, deployment: Deployment | str,
                     revision: Revision, site: str = "") -> list[JournalEvent]:
        """A rollout of `deployment` the app saw; recorded once, and only if
        it is recent for the open incident (a recent deployment is a cause)."""
        if not self.journal.is_open or self.journal.read_only:
            return []
        name = (f"{deployment.namespace}/{deployment.name}"
                if isinstance(deployment, Deployment) else str(deployment))
        key = (name, revision.revision, revision.replicaset, site)
        start = start_time(self.journal)
        lookback = timedelta(seconds=self.config.rollout_lookback_s)
        if key in self._rollouts or (start and revision.created_at < start - lookback):
            return []
        self._rollouts.add(key)
        return self._add(EventKind.ROLLOUT_SEEN, service=service, at=revision.created_at, details={
            "deployment": name, "revision": revision.revision,
            "replicaset": revision.replicaset, "change_cause": revision.change_cause,
        }, site=site)

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
            **self.source_details,
            **severity_details(self.config.severity, self.config.response_times_s),
            "opened_by": "split",
            "split_from": main, "alert": None, "alert_active_at": None, "first_open_at": None,
        })
        for e in moved:
            side_journal.add(e.kind, service=e.service, at=e.at, site=e.site,
                             details={**e.details, "moved_from": f"{main}#{e.id}"})
        side = IncidentTracker(side_journal, self.config, self.source_details)
        side._seen.recent = {service: self._seen.recent_of(service)}
        side._totals, side._totals_at = self._totals, self._totals_at
        side._sample([service])
        event = self._add(EventKind.SERVICE_SPLIT, service=service, at=at, details={
            "reason": reason.strip() or None, "to_incident": side_journal.incident_id})[-1]
        self._affected.remove(service)
        self._split.add(service)
        self._side[service] = side
        return event

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
