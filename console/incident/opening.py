"""How a poll opens an incident or adds to it, for the tracker: which alert
counts, which services are in it and since when, and a poll cut to one
incident's services (after a split each incident sees only its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Sequence

from console.incident.events import response_seconds
from console.incident.store import Detail
from console.model.fleet import Alert, BreakerState, FleetSnapshot


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def earliest(firing: Sequence[Alert]) -> Alert | None:
    """The alert that became active first (one without a time if none has one)."""
    timed = [a for a in firing if a.active_at]
    return min(timed, key=lambda a: a.active_at) if timed else (firing[0] if firing else None)


def severity_details(severity: str, response_times_s: dict[str, float]) -> dict[str, Detail]:
    """The severity and its response time, as an opening records them."""
    return {"severity": severity, "response_s": response_seconds(severity, response_times_s)}


def opening(snapshot: FleetSnapshot, firing: Sequence[Alert], open_now: list[str],
            first_open: Callable[[str], datetime | None]) -> tuple[list[str], datetime, dict]:
    """(the services, the incident's start, what incident_opened records of
    the alert) for an incident this poll opens. `first_open`: when a
    service's breaker was first seen OPEN."""
    now = snapshot.fetched_at
    alert = earliest(firing)
    named = sorted((a for a in firing if a.service), key=lambda a: a.active_at or now)
    services = list(dict.fromkeys(a.service for a in named)) or open_now
    opened_at = {s: first_open(s) for s in services}
    first = min((t for t in opened_at.values() if t), default=None)
    if not named:
        # Named after the breaker that opened first, not the first by name.
        services.sort(key=lambda s: opened_at[s] or now)
    at = (alert.active_at if alert and alert.active_at else None) or first or now
    details: dict[str, Detail] = {
        "opened_by": "alert" if alert else "breaker",
        "alert": alert.name if alert else None,
        "alert_active_at": iso(alert.active_at) if alert else None,
        "first_open_at": iso(first),
    }
    return services, at, details


def joining(snapshot: FleetSnapshot, firing: Sequence[Alert], open_now: list[str]) -> list[str]:
    """The services this poll says are in trouble, each once, in order: an
    alert's, a breaker OPEN now, one that opened during the poll."""
    opened = [t.service for t in snapshot.transitions if t.to_state == BreakerState.OPEN]
    candidates = [a.service for a in firing if a.service] + open_now + opened
    return list(dict.fromkeys(candidates))


def without(snapshot: FleetSnapshot, services: set[str]) -> FleetSnapshot:
    return snapshot.model_copy(update={
        "services": tuple(s for s in snapshot.services if s.service not in services),
        "transitions": tuple(t for t in snapshot.transitions if t.service not in services),
        "alerts": tuple(a for a in snapshot.alerts if a.service not in services),
    })


def only(snapshot: FleetSnapshot, service: str, since: datetime | None) -> FleetSnapshot:
    """One service's part of a poll; alerts only if they became active since
    its incident started (an older alert must not back-date its clock)."""
    return snapshot.model_copy(update={
        "services": tuple(s for s in snapshot.services if s.service == service),
        "transitions": tuple(t for t in snapshot.transitions if t.service == service),
        "alerts": tuple(a for a in snapshot.alerts if a.service == service and a.active_at
                        and (since is None or a.active_at >= since)),
    })
