"""The postmortem: RUNBOOK-004's Postmortem Template, heading by heading,
filled from an incident's journal. What the journal does not know says
"not recorded" or "unknown"; what only a person knows says "(to be filled in)".

`build` makes the content (a JSON-able dict); `render` writes it as markdown,
`render_json` returns it as is. Pure: the impact is counted by the caller.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable
from zoneinfo import ZoneInfo

from console import secrets
from console.incident import applied as mitigations
from console.incident.tracker import current_text, without_moved
from console.incident.events import alert_time, first, response_clock, start_time
from console.incident.store import EventKind, JournalEvent, RootCauseCategory, affected_services
from console.model.fleet import BreakerState
from console.mitigations.recorder import Stage
from console.text import JSON_UNESCAPED, literal, one_line

if TYPE_CHECKING:
    from console.model.impact import Impact

FILL_IN = "(to be filled in)"
NOT_RECORDED = "not recorded"
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

# Prevention items, from RUNBOOK-004's Prevention and Fix Root Cause sections.
_TIMEOUT = ("Lower the request timeout for {svc} well below the 30 s that tripped the "
            "breaker (runbook Prevention 1: `timeout: 5.0`)")
_RETRY = ("Add retry with exponential backoff around calls to {svc} (runbook Prevention 2: "
          "RetryPolicy max_attempts=3, initial_delay=1.0, max_delay=10.0)")
_READY = ("Add a readiness check covering {svc} (runbook Prevention 3: `/ready` answers 503 "
          "while a downstream is down)")
_FALLBACK = ("Enable fallback for {svc} (runbook Prevention 1: `fallback_enabled: True`)")
_ERRORS = ("Review error handling around calls to {svc} (runbook Fix Root Cause: "
           "error rate issues)")
_CONFIG = ("Review the breaker configuration of {svc} (runbook Prevention 1: "
           "failure_threshold 5, success_threshold 2, recovery_timeout 60)")
_NETWORK = ("Check network policies and service discovery for {svc} (runbook Fix Root "
            "Cause: `kubectl get networkpolicies`, `kubectl get services {names}`)")
_DATABASE = ("Add database and Redis connectivity to the readiness check of {svc} (runbook "
             "Prevention 3; Diagnosis 5: postgres 5432, redis 6379)")
_ROLLOUT = ("Review recent changes before and after each rollout of {svc} (runbook "
            "Diagnosis 3: `kubectl rollout history deployment/<name>`)")
_SMOKE = ("Run the smoke test after each deployment of {svc} (runbook Load Test: "
          "`scripts/smoke_test.py`, expect 100% success)")
_MONITOR = ("Export breaker state changes as metrics for {svc} and alert on them (runbook "
            "Prevention 4 and 5)")

PREVENTION = {
    RootCauseCategory.DOWNSTREAM_TIMEOUT: (_TIMEOUT, _RETRY, _FALLBACK),
    RootCauseCategory.DOWNSTREAM_ERROR_RATE: (_ERRORS, _FALLBACK, _READY),
    RootCauseCategory.NETWORK: (_NETWORK, _READY, _RETRY),
    RootCauseCategory.DATABASE_CONNECTION: (_DATABASE, _CONFIG, _FALLBACK),
    RootCauseCategory.RATE_LIMITING: (_RETRY, _FALLBACK, _CONFIG),
    RootCauseCategory.RECENT_DEPLOYMENT: (_READY, _SMOKE, _ROLLOUT),
    RootCauseCategory.OTHER: (_CONFIG, _RETRY, _READY),
}


# Control characters (C0, DEL, C1) and Unicode's bidi controls: the export is
# read with cat and less, where ESC ] 0 ; ... BEL retitles the terminal and
# U+202E reorders the line. Every markdown line goes through `visible`.
# What Markdown can read as syntax inside a line: a service called
# "pay_*api*" must not come out as "pay<em>api</em>". Names come from the
# fleet's labels; free text (notes, root cause) is the operator's own markdown.
_MARKDOWN = re.compile(r"[\\`*_\[\]()<>|~&]")


def visible(line: str) -> str:
    """One markdown line with every control character written as an escape,
    as the console shows it (console.text.literal): ESC as \\x1b, RLO as
    \\u202e. Backslashes are the pieces' business (`md_name`, `md_text`),
    so that these escapes stay unambiguous."""
    return literal(line, backslash=False)


def md_name(value) -> str:
    """A name (service, target, instance, actor) for a markdown line: every
    character Markdown reads as syntax backslash-escaped, a backslash too."""
    return _MARKDOWN.sub(r"\\\g<0>", str(value))


def md_text(value) -> str:
    """Free text for a markdown line: one line, its markdown kept, a
    backslash doubled (so a literal "\\x1b" never reads as an escape)."""
    return one_line(value).replace("\\", "\\\\")


def json_text(doc: dict) -> str:
    """`doc` as JSON, non-ASCII kept readable but DEL, C1 and bidi controls
    escaped like the C0 ones json already escapes: lossless, and inert in a
    terminal."""
    import json

    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n"


def _clock(at: datetime | None, tz: ZoneInfo, seconds: bool = False) -> str | None:
    if at is None:
        return None
    return at.astimezone(tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def offset(at: datetime | None, t0: datetime | None) -> str | None:
    """T+mm:ss from the alert (T-mm:ss before it), as the timeline shows it."""
    if at is None or t0 is None:
        return None
    seconds = int(round((at - t0).total_seconds()))
    sign = "-" if seconds < 0 else "+"
    minutes, secs = divmod(abs(seconds), 60)
    return f"T{sign}{minutes:02d}:{secs:02d}"


def _hhmm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _state(value) -> str:
    try:
        return BreakerState(value).label
    except ValueError:
        return str(value)


def describe(e: JournalEvent, name=str, text=one_line) -> str:
    """One event as a timeline line; `name` and `text` escape the names and
    the free text in it (for markdown: md_name, md_text)."""
    d = e.details
    by = f" ({name(e.actor)})"
    svc = name(e.service) if e.service else None
    match e.kind:
        case EventKind.INCIDENT_OPENED:
            how = "on the alert" if d.get("opened_by") == "alert" else "on a breaker seen OPEN"
            return (f"Incident opened {how}: "
                    f"{name(d.get('services') or e.service or 'unknown service')}")
        case EventKind.ALERT_FIRED:
            return f"Alert {name(d.get('alert'))} firing"
        case EventKind.BREAKER_TRANSITION:
            back = " (read back from history)" if d.get("observed") == "backfill" else ""
            return (f"{svc} {name(d.get('instance'))}: {_state(d.get('from'))} -> "
                    f"{_state(d.get('to'))}{back}")
        case EventKind.ACTION:
            words = mitigations.step_words(e)
            error = d.get("error") or (d.get("message") if words == Stage.FAILED.value else None)
            extra = f" - {text(error)}" if error else ""
            return (f"Action {name(d.get('action'))} on {name(d.get('target'))}: "
                    f"{text(words)}{extra}{by}")
        case EventKind.DATA_GAP:
            return f"Data gap: {text(d.get('error') or 'no data')}"
        case EventKind.DATA_BACK:
            return f"Data back after {d.get('gap_s')} s"
        case EventKind.SERVICE_RECOVERED:
            return f"{svc} recovered (CLOSED, held {d.get('held_s')} s)"
        case EventKind.ROLLOUT_SEEN:
            cause = text(d.get("change_cause")) if d.get("change_cause") else "no change-cause"
            return (f"Rollout seen: {name(d.get('deployment'))} revision "
                    f"{d.get('revision')} ({cause})")
        case EventKind.ACKNOWLEDGED:
            return f"Acknowledged{by}"
        case EventKind.NOTE:
            return f"Note #{e.id}: {text(d.get('text'))}{by}"
        case EventKind.NOTE_AMENDED if d.get("of") == "resolution summary":
            return (f"Resolution summary amended: {text(d.get('text'))} "
                    f"(was: {text(d.get('previous'))}){by}")
        case EventKind.NOTE_AMENDED:
            return (f"Note #{d.get('amends')} amended: {text(d.get('text'))} "
                    f"(was: {text(d.get('previous'))}){by}")
        case EventKind.ROOT_CAUSE:
            return f"Root cause ({text(d.get('category'))}): {text(d.get('text'))}{by}"
        case EventKind.RESOLVED:
            summary = f": {text(d['summary'])}" if d.get("summary") else ""
            return f"Resolved{summary}{by}"
        case EventKind.SERVICE_JOINED:
            return f"{svc} joined the incident"
        case EventKind.SERVICE_SPLIT:
            reason = f": {text(d['reason'])}" if d.get("reason") else ""
            return f"{svc} split off as a separate problem{reason}{by}"
        case EventKind.COUNTERS:
            counts = {r: f"{float(d.get(r) or 0):,.0f}" for r in ("failures", "successes",
                                                                     "rejected")}
            return (f"{svc} calls so far: {counts['failures']} failed, {counts['successes']} "
                    f"succeeded, {counts['rejected']} rejected ({text(d.get('source'))})")
        case EventKind.EXPORT:
            return (f"Postmortem exported ({name(d.get('format'))}) to "
                    f"{name(d.get('path') or 'stdout')}{by}")
    return e.kind.value


def _opened_at(events: list[JournalEvent], service: str | None) -> datetime | None:
    """When `service`'s breaker was first seen OPEN (else the incident's start)."""
    opened = next((e.at for e in events if e.kind == EventKind.BREAKER_TRANSITION
                   and e.service == service and e.details.get("to") == BreakerState.OPEN.value),
                  None)
    return opened or start_time(events)


def likely_causes(events: list[JournalEvent]) -> list[tuple[JournalEvent, datetime]]:
    """Rollouts seen that finished within the diagnosis' likely-cause window
    before their service's breaker opened (what it marks LIKELY CAUSE), with
    that opening time."""
    from console.diagnosis.findings import LIKELY_CAUSE_WINDOW

    found = []
    for e in events:
        if e.kind != EventKind.ROLLOUT_SEEN:
            continue
        opened = _opened_at(events, e.service)
        if opened is not None and opened - LIKELY_CAUSE_WINDOW <= e.at <= opened:
            found.append((e, opened))
    return found


def _undo(rollout: JournalEvent, opened: datetime, name, text) -> str:
    d = rollout.details
    ns, _, deployment = str(d.get("deployment") or "").rpartition("/")
    cause = text(d["change_cause"]) if d.get("change_cause") else "no change-cause recorded"
    undo = f"kubectl rollout undo deployment/{deployment}" + (f" -n {ns}" if ns else "")
    minutes = opened - rollout.at
    return (f"Fix or roll back the change of {name(d.get('deployment'))} revision "
            f"{d.get('revision')} (change-cause: {cause}), the likely cause: it rolled out "
            f"{minutes.total_seconds() / 60:.1f} min before the breaker of "
            f"{name(rollout.service)} opened (`{undo}`)")


def _prevention(events, category: RootCauseCategory | None, services: list[str],
                overdue: bool, response_s: float | None, name=str, text=one_line) -> list[str]:
    names = [name(s) for s in services] or ["the service"]
    svc = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    fill = dict(svc=svc, names=" ".join(names))
    causes = likely_causes(events)
    items = [_undo(r, opened, name, text) for r, opened in causes]
    suspects = {r.id for r, _ in causes}
    items += [t.format(**fill) for t in PREVENTION[category or RootCauseCategory.OTHER]]
    if alert_time(events) is None:
        items.append("Create the CircuitBreakerOpen alert where this incident had none "
                     "(runbook Prevention 5)")
    if first(events, EventKind.DATA_GAP):
        items.append(_MONITOR.format(**fill) + ": the data had gaps during this incident")
    if overdue and response_s:
        items.append(f"Review paging: acknowledged after the {response_s / 60:g}-minute "
                     "response time (runbook Escalation)")
    t0 = start_time(events)
    for rollout in (e for e in events if e.kind == EventKind.ROLLOUT_SEEN
                    and e.id not in suspects):
        # A rollout after T+0 is a mitigation (ours or someone's), not a suspect.
        if category != RootCauseCategory.RECENT_DEPLOYMENT and (t0 is None or rollout.at <= t0):
            items.append(f"Check whether the rollout of {name(rollout.details.get('deployment'))} "
                         f"(revision {rollout.details.get('revision')}) contributed")
    for chain in mitigations.applied(events):
        if chain[0].details.get("action") == "fallback":
            service = name(chain[0].service)
            items.append(_FALLBACK.format(svc=service) + ": fallback was needed during this "
                         "incident")
    return list(dict.fromkeys(items))


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


#: A flapping breaker writes hundreds of transitions: beyond this many for one
#: service the markdown keeps the first and last few and counts the rest
#: (the journal and the JSON export keep every one).
FLAP_KEEP = 4


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


def _event_lines(events: list[dict], flapped: set[str]) -> list[str]:
    per_service: dict[str | None, list[int]] = {}
    for i, e in enumerate(events):
        if e["kind"] == EventKind.BREAKER_TRANSITION.value:
            per_service.setdefault(e["service"], []).append(i)
    hidden: dict[int, str] = {}  # index -> summary line shown in place of the first hidden
    skip: set[int] = set()
    for service, indexes in per_service.items():
        if len(indexes) <= 3 * FLAP_KEEP:
            continue
        middle = indexes[FLAP_KEEP:-FLAP_KEEP]
        skip.update(middle)
        a, b = events[middle[0]], events[middle[-1]]
        why = ("flapping: CLOSED and OPEN again" if service in flapped else
               "probes failing: OPEN -> HALF-OPEN -> OPEN, never CLOSED in between")
        hidden[middle[0]] = (f"- {a['time']} to {b['time']} - {len(middle)} more breaker "
                             f"transitions of {md_name(service)} ({why}; all of them are "
                             "in the journal and the JSON export)")
    lines = []
    for i, e in enumerate(events):
        if i in hidden:
            lines.append(hidden[i])
        if i not in skip:
            lines.append(f"- {e['time']} ({e['t_plus']}) - {e['text']}")
    return lines


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
    carried_out = mitigations.applied(events)
    applied = min((e for chain in carried_out for e in chain
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
            f"{name(applied.details.get('action'))} on {name(applied.details.get('target'))}"
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
               "actor": e.actor, "text": describe(e, name, text)}
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
    for chain in carried_out:
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
        "prevention": _prevention(events, category, services,
                                  bool(clock and clock["overdue"]),
                                  clock["response_s"] if clock else None, name, text),
        "lessons_learned": None,
        "journal_problems": list(problems),
        "flapping": sorted(flapping(events)),
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


def render_json(events: Iterable[JournalEvent], impact: Impact | str | None = None, *,
                now: datetime, tz: str = "UTC", problems: Iterable[str] = ()) -> dict:
    return build(events, impact, now=now, tz=tz, problems=problems)


def render(events: Iterable[JournalEvent], impact: Impact | str | None = None, *,
           now: datetime, tz: str = "UTC", problems: Iterable[str] = ()) -> str:
    """The postmortem as markdown, RUNBOOK-004's template heading by heading."""
    p = build(events, impact, now=now, tz=tz, problems=problems, markdown=True)
    zone = p["timezone"]
    lines: list[str] = []
    if p["draft"]:
        generated = datetime.fromisoformat(p["generated_at"]).astimezone(ZoneInfo(zone))
        lines += [f"> **DRAFT**: the incident is not resolved (generated "
                  f"{generated:%Y-%m-%d %H:%M} {zone}).", ""]
    lines += [f"# Incident: {p['title']}", ""]
    lines += [f"**Date:** {p['date'] or 'unknown'}",
              f"**Duration:** {p['duration'] or 'ongoing (draft)'}",
              f"**Severity:** {p['severity']}", ""]
    lines += ["## Timeline", "", f"Times in {zone}; T+ counts from the alert.", ""]
    for r in p["timeline"]:
        when = f"{r['time']} ({r['t_plus']})" if r["time"] else NOT_RECORDED
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(f"- {when} - {r['event']}{note}")
    if p["events"]:
        lines += ["", "Every other recorded event:", ""]
        lines += _event_lines(p["events"], set(p["flapping"]))
    lines += ["", "## Root Cause", ""]
    cause = p["root_cause"]
    if cause is None:
        lines += ["unknown (not recorded)"]
    else:
        lines += [md_text(cause["text"]), ""]
        runbook = f" (runbook: {cause['runbook_cause']})" if cause["runbook_cause"] else ""
        lines += [f"Category: {cause['category']}{runbook}"]
    impact = p["impact"]
    lines += ["", "## Impact", "",
              f"- Users affected: {FILL_IN}",
              f"- Requests failed: {impact['requests_failed']}",
              f"- Revenue impact: {FILL_IN}", ""]
    lines += ["## Resolution", ""]
    if not p["resolution"]:
        lines.append("- No mitigation recorded.")
    for m in p["resolution"]:
        stages = ", ".join(f"{s['stage']} {s['time']}" for s in m["stages"])
        error = f" - {md_text(m['error'])}" if m["error"] else ""
        if m.get("summary"):
            error = f" - {md_text(m['summary'])}{error}"
        lines.append(f"- {m['time']} {md_name(m['action'])} on {md_name(m['target'])} "
                     f"({md_name(m['service'])}): **{m['outcome']}**{error} [{stages}] "
                     f"({md_name(m['actor'])})")
    if p["resolved_at"]:
        resolved = next(r for r in p["timeline"] if r["event"] == "Incident resolved")
        summary = f": {md_text(p['resolution_summary'])}" if p["resolution_summary"] else ""
        lines.append(f"- {resolved['time']} incident resolved by {md_name(p['resolved_by'])}"
                     f"{summary}")
    else:
        lines.append("- Not resolved yet.")
    lines += ["", "## Prevention", ""]
    lines += [f"- [ ] {item}" for item in p["prevention"]]
    lines += ["", "## Lessons Learned", "", FILL_IN]
    if p["journal_problems"]:
        lines += ["", "---", "", "Journal problems (lines skipped when reading it):", ""]
        lines += [f"- {md_text(x)}" for x in p["journal_problems"]]
    # Belt and braces: a token the session obtained is never exported.
    return secrets.redact("\n".join(visible(line) for line in lines) + "\n")
