"""The postmortem's content, RUNBOOK-004's Postmortem Template heading by
heading, filled from an incident's journal: a JSON-able dict that
`postmortem.render` writes as markdown. What the journal does not know says
"not recorded" or "unknown"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable
from zoneinfo import ZoneInfo

from console.incident import applied as mitigations
from console.incident import clusters
from console.incident.describe import carried_out, describe, offset
from console.incident.events import (
    alert_time,
    current_text,
    first,
    response_clock,
    start_time,
    without_moved,
)
from console.incident.mdtext import md_name, md_text
from console.incident.prevention import prevention
from console.incident.store import EventKind, JournalEvent, RootCauseCategory, affected_services
from console.model.fleet import BreakerState
from console.mitigations.recorder import Stage
from console.text import one_line

if TYPE_CHECKING:
    from console.model.impact import Impact

#: The journal's own records, not the incident's: never in the event list.
_NOT_EVENTS = (EventKind.EXPORT, EventKind.COUNTERS)

#: RUNBOOK-004's common causes, as it words them.
RUNBOOK_CAUSES = {
    RootCauseCategory.DOWNSTREAM_TIMEOUT: "Downstream service timeout (>30s)",
    RootCauseCategory.DOWNSTREAM_ERROR_RATE: "High error rate from downstream (>50%)",
    RootCauseCategory.NETWORK: "Network connectivity issues",
    RootCauseCategory.DATABASE_CONNECTION: "Database connection problems",
    RootCauseCategory.RATE_LIMITING: "Rate limiting by external API",
    RootCauseCategory.RECENT_DEPLOYMENT: "Recent deployment issues",
    RootCauseCategory.OTHER: "not one of the runbook's common causes",
}


def _clock(at: datetime | None, tz: ZoneInfo, seconds: bool = False) -> str | None:
    if at is None:
        return None
    return at.astimezone(tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def _hhmm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _impact(impact: Impact | str | None, tz: ZoneInfo) -> dict:
    out: dict = {"users_affected": None, "revenue_impact": None, "requests_failed_share": None,
                 "failed": None, "succeeded": None, "rejected": None,
                 "window_start": None, "window_end": None, "source": None, "unknown_reason": None}
    if impact is None or isinstance(impact, str):
        reason = impact or "no Prometheus recorded for this incident"
        out["unknown_reason"] = reason
        out["requests_failed"] = f"unknown ({reason})"
        return out
    window = (f"{impact.start.astimezone(tz):%H:%M}-{impact.end.astimezone(tz):%H:%M} "
              f"{tz.key}")
    out.update(
        failed=impact.failed, succeeded=impact.succeeded, rejected=impact.rejected,
        requests_failed_share=impact.not_served_share, failed_only_share=impact.failed_share,
        counters=impact.counters, window_start=impact.start.isoformat(),
        window_end=impact.end.isoformat(), source=impact.source,
    )
    share = impact.not_served_share
    if share is None:
        reason = ("the profile has no failure or success counter"
                  if impact.failed is None or impact.succeeded is None
                  else f"no calls counted {window}")
        out["unknown_reason"] = reason
        out["requests_failed"] = f"unknown ({reason})"
        return out
    # What users saw as 503s: failed calls and those the open breaker rejected.
    rejected = ("no rejected counter in the profile" if impact.rejected is None
                else f"{impact.rejected:,.0f} rejected")
    used = "; ".join(f"{role}: `{q}`" for role, q in impact.counters.items() if q)
    out["requests_failed"] = (
        f"{100 * share:.1f}% of the calls attempted failed or were rejected "
        f"({impact.failed:,.0f} failed + {rejected} of {impact.total:,.0f} attempted = failed "
        f"+ succeeded + rejected; {100 * impact.failed_share:.1f}% failed alone; "
        f"{impact.source}, {window}" + (f"; counters {used}" if used else "") + ")")
    return out


def flapping(events: Iterable[JournalEvent]) -> set[str]:
    """Services whose breaker closed and opened again. OPEN -> HALF-OPEN ->
    OPEN with no CLOSED in between is a probe failing, not a flap."""
    closed: set[tuple] = set()
    flapped: set[str] = set()
    for e in events:
        if e.kind != EventKind.BREAKER_TRANSITION:
            continue
        key = (e.service, e.details.get("instance"))
        to = e.details.get("to")
        if to == BreakerState.CLOSED.value:
            closed.add(key)
        elif to == BreakerState.OPEN.value and key in closed:
            flapped.add(e.service)
    return flapped


def build(events: Iterable[JournalEvent], impact: Impact | str | None = None, *,
          now: datetime, tz: str = "UTC", problems: Iterable[str] = (),
          markdown: bool = False) -> dict:
    """The postmortem's content. `impact`: counted calls, or why they are
    unknown (a string), or None when no Prometheus was recorded. `markdown`:
    names and event texts escaped for a markdown line (JSON keeps them as is)."""
    name, text = (md_name, md_text) if markdown else (str, one_line)
    zone = ZoneInfo(tz)
    events = sorted(without_moved(events), key=lambda e: e.id)
    by_time = sorted(events, key=lambda e: (e.at, e.id))
    opened = first(events, EventKind.INCIDENT_OPENED)
    resolved = first(events, EventKind.RESOLVED)
    services = affected_services(events)
    t0 = start_time(events)
    alert_at = alert_time(events)
    used: set[int] = set()

    def row(label: str, event: JournalEvent | None, at: datetime | None = None,
            note: str | None = None) -> dict:
        at = at or (event.at if event else None)
        if event is not None:
            used.add(event.id)
        return {"event": label, "at": at.isoformat() if at else None,
                "time": _clock(at, zone, seconds=True), "t_plus": offset(at, t0), "note": note}

    fired = first(events, EventKind.ALERT_FIRED)
    if opened and alert_at and not fired:
        alert_row = row("Alert fired", opened, alert_at)
    elif fired:
        alert_row = row("Alert fired", fired)
    else:
        alert_row = row("Alert fired", opened, note="no alert seen: first OPEN observed"
                        if opened else None)
    ack = first(events, EventKind.ACKNOWLEDGED)
    causes = [e for e in events if e.kind == EventKind.ROOT_CAUSE]
    cause = causes[-1] if causes else None
    chains = mitigations.applied(events)
    applied = min((e for chain in chains for e in chain
                   if e.details.get("stage") == Stage.SUCCEEDED.value),
                  key=lambda e: (e.at, e.id), default=None)
    recovered = {e.service: e for e in events if e.kind == EventKind.SERVICE_RECOVERED}
    last_recovery = max((recovered[s] for s in services if s in recovered),
                        key=lambda e: e.at, default=None)
    missing = [name(s) for s in services if s not in recovered]
    recovery_note = (f"{', '.join(missing)} not recorded as recovered"
                     if last_recovery and missing else None)
    timeline = [
        alert_row,
        row("On-call engineer acknowledged", ack, note=name(ack.actor) if ack else None),
        row("Root cause identified", cause, note=name(cause.actor) if cause else None),
        row("Mitigation applied", applied, note=(
            carried_out(applied.details.get("action"), applied.details.get("target"), name)
            if applied else None)),
        row("Service recovered", last_recovery, note=recovery_note),
        row("Incident resolved", resolved, note=name(resolved.actor) if resolved else None),
    ]
    # The template's rows in the order they happened; those not reached last
    # (sorted is stable: among equals, the template's order).
    timeline.sort(key=lambda r: (r["at"] is None, r["at"] or ""))
    # An export is a record of the journal's, not of the incident's.
    others = [{"id": e.id, "at": e.at.isoformat(), "time": _clock(e.at, zone, seconds=True),
               "t_plus": offset(e.at, t0), "kind": e.kind.value, "service": e.service,
               "site": e.site, "actor": e.actor, "text": describe(e, name, text)}
              for e in by_time if e.id not in used and e.kind not in _NOT_EVENTS]

    category = None
    if cause is not None:
        try:
            category = RootCauseCategory(cause.details.get("category"))
        except ValueError:
            category = None
    severity = str(opened.details.get("severity") or "unknown") if opened else "unknown"
    clock = _response(events, now)
    end = resolved.at if resolved else None
    resolution = []
    for chain in chains:
        head, last = chain[0], chain[-1]
        resolution.append({
            "action": head.details.get("action"), "service": head.service,
            "target": head.details.get("target"), "started_at": head.at.isoformat(),
            "time": _clock(head.at, zone), "outcome": last.details.get("stage"),
            "stages": [{"stage": e.details.get("stage"), "time": _clock(e.at, zone)}
                       for e in chain],
            "actor": head.actor,
            "error": last.details.get("error"),
            # The mitigation's own words for what it did (a rollback: to which revision).
            "summary": next((e.details["summary"] for e in chain if e.details.get("summary")),
                            None),
        })
    title = f"Circuit Breaker Open - {', '.join(map(name, services)) or 'unknown service'}"
    return {
        "draft": resolved is None,
        "generated_at": now.isoformat(),
        "incident": opened.details.get("incident") if opened else None,
        "title": title,
        "services": services,
        "timezone": zone.key,
        "date": t0.astimezone(zone).strftime("%Y-%m-%d") if t0 else None,
        "started_at": t0.isoformat() if t0 else None,
        "resolved_at": end.isoformat() if end else None,
        "duration": _hhmm(end - t0) if end and t0 else None,
        "duration_s": (end - t0).total_seconds() if end and t0 else None,
        "severity": severity,
        "response": clock,
        "timeline": timeline,
        "events": others,
        "root_cause": None if cause is None else {
            "text": cause.details.get("text"),
            "category": category.value if category else cause.details.get("category"),
            "runbook_cause": RUNBOOK_CAUSES.get(category) if category else None,
            "identified_at": cause.at.isoformat(), "actor": cause.actor,
        },
        "impact": _impact(impact, zone),
        "resolution": resolution,
        "resolution_summary": current_text(events, resolved.id, "summary") if resolved else None,
        "resolved_by": resolved.actor if resolved else None,
        "prevention": prevention(events, category, services,
                                  bool(clock and clock["overdue"]),
                                  clock["response_s"] if clock else None, name, text),
        "lessons_learned": None,
        "journal_problems": list(problems),
        "flapping": sorted(flapping(events)),
        # Issue 18: the clusters affected, each its own timeline; partial data.
        "sites": clusters.sites_of(events),
        "spans": clusters.spans(events),
        "clusters": clusters.clusters(events, zone, t0, name, text),
        "data_quality": clusters.data_quality(events, zone, t0, text),
    }


def _response(events: list[JournalEvent], now: datetime) -> dict | None:
    """The response clock as the journal recorded it (the header's own)."""
    clock = response_clock(events, now)
    if clock is None:
        return None
    return {"response_s": clock.response_s, "deadline": clock.deadline.isoformat(),
            "acknowledged_at": (clock.acknowledged_at.isoformat()
                                if clock.acknowledged_at else None),
            "overdue": clock.overdue if clock.acknowledged_at else None}
