"""Reading an incident's events: when it started, its response clock, a
note's current text, and what a split moved away.

The one computation of the response clock, shared by the header (the
tracker) and the postmortem, so both say what the journal recorded: the
response time written at the opening (`[incident] response_times_s`), and the
deadline written at the acknowledgement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from pydantic import BaseModel, ConfigDict

from console.incident.journal import Journal
from console.incident.store import Detail, EventKind, JournalEvent

#: RUNBOOK-004's response times (Escalation).
RESPONSE_TIMES_S = {"P0": 300.0, "P1": 1800.0}

Events = Iterable[JournalEvent] | Journal


class ResponseClock(BaseModel):
    """The header's response clock: acknowledge before `deadline`."""

    model_config = ConfigDict(frozen=True)

    severity: str
    started_at: datetime  # the alert's activation, else the incident's opening
    deadline: datetime
    remaining: timedelta  # at acknowledgement if acknowledged; negative when late
    overdue: bool
    acknowledged_at: datetime | None = None

    @property
    def response_s(self) -> float:
        return (self.deadline - self.started_at).total_seconds()


def first(events: Events, kind: EventKind) -> JournalEvent | None:
    """The first event of a kind: from a list, or from the journal's index."""
    if isinstance(events, Journal):
        return events.first(kind)
    return next((e for e in events if e.kind == kind), None)


def parse_time(value: Detail) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else None


def alert_time(events: Events) -> datetime | None:
    """When the alert became active, if an alert was ever seen."""
    events = events if isinstance(events, Journal) else list(events)
    opened = first(events, EventKind.INCIDENT_OPENED)
    if opened and opened.details.get("alert_active_at"):
        return parse_time(opened.details["alert_active_at"])
    fired = first(events, EventKind.ALERT_FIRED)
    return fired.at if fired else None


def start_time(events: Events) -> datetime | None:
    """The incident's T+0: the alert's activation, else its opening."""
    events = events if isinstance(events, Journal) else list(events)
    opened = first(events, EventKind.INCIDENT_OPENED)
    return alert_time(events) or (opened.at if opened else None)


def response_seconds(severity: str, response_times_s: dict[str, float] | None = None) -> float:
    """The configured response time of a severity (P0's for one not configured)."""
    return ((response_times_s or {}).get(severity) or RESPONSE_TIMES_S.get(severity)
            or RESPONSE_TIMES_S["P0"])


def response_clock(events: Events, now: datetime, *, severity: str = "P0",
                   response_times_s: dict[str, float] | None = None) -> ResponseClock | None:
    """Deadline, time remaining and overdue; None without an incident. Counts
    from the alert's activation (else the opening) until acknowledged, then
    shows how the acknowledgement did. What the journal recorded wins over
    `severity` and `response_times_s` (today's config), which only stand in
    for a journal written before it recorded them."""
    events = events if isinstance(events, Journal) else list(events)
    opened = first(events, EventKind.INCIDENT_OPENED)
    if opened is None:
        return None
    severity = str(opened.details.get("severity") or severity)
    started = start_time(events) or opened.at
    ack = first(events, EventKind.ACKNOWLEDGED)
    deadline = parse_time(ack.details.get("deadline")) if ack else None
    if deadline is None:
        recorded = opened.details.get("response_s")
        seconds = (float(recorded) if isinstance(recorded, (int, float))
                   and not isinstance(recorded, bool) and recorded > 0
                   else response_seconds(severity, response_times_s))
        deadline = started + timedelta(seconds=seconds)
    resolved = first(events, EventKind.RESOLVED)
    until = ack.at if ack else (resolved.at if resolved else now)
    remaining = deadline - until
    return ResponseClock(severity=severity, started_at=started, deadline=deadline,
                         remaining=remaining, overdue=remaining < timedelta(0),
                         acknowledged_at=ack.at if ack else None)


def current_text(events: Iterable[JournalEvent], event_id: int, key: str = "text") -> str | None:
    """A note's or a resolution summary's latest version (amendments applied)."""
    text = None
    for e in events:
        if e.id == event_id:
            text = e.details.get(key)
        elif e.kind == EventKind.NOTE_AMENDED and e.details.get("amends") == event_id:
            text = e.details.get("text")
    return None if text is None else str(text)


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
