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

from console.incident import (
    RESPONSE_TIMES_S, alert_time, current_text, first, start_time, without_moved,
)
from console.journalfile import EventKind, JournalEvent, RootCauseCategory, affected_services
from console.model import BreakerState
from console.recorder import Stage

if TYPE_CHECKING:
    from console.sources.promimpact import Impact

FILL_IN = "(to be filled in)"
NOT_RECORDED = "not recorded"

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
_CONFIG = ("Review {svc}'s breaker configuration (runbook Prevention 1: failure_threshold 5, "
           "success_threshold 2, recovery_timeout 60)")
_NETWORK = ("Check network policies and service discovery for {svc} (runbook Fix Root "
            "Cause: `kubectl get networkpolicies`, `kubectl get services {svc}`)")
_DATABASE = ("Add database and Redis connectivity to {svc}'s readiness check (runbook "
             "Prevention 3; Diagnosis 5: postgres 5432, redis 6379)")
_ROLLOUT = ("Review recent changes before and after each rollout of {svc} (runbook "
            "Diagnosis 3: `kubectl rollout history deployment/{svc}`)")
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
# U+202E reorders the line. Markdown injection is not the concern (the
# reader trusts the journal's writers); these bytes acting is.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_JSON_UNESCAPED = re.compile(f"[\x7f-\x9f{_BIDI}]")  # json.dumps escapes C0 itself


def visible(line: str) -> str:
    """One markdown line with every control character written as an escape,
    as the console shows it (widgets.text.literal): ESC as \\x1b, RLO as
    \\u202e, a backslash doubled so the escapes stay unambiguous."""
    def escape(m: re.Match) -> str:
        code = ord(m[0])
        return f"\\x{code:02x}" if code < 0xA0 else f"\\u{code:04x}"

    return _CONTROLS.sub(escape, line.replace("\\", "\\\\"))


def json_text(doc: dict) -> str:
    """`doc` as JSON, non-ASCII kept readable but DEL, C1 and bidi controls
    escaped like the C0 ones json already escapes: lossless, and inert in a
    terminal."""
    import json

    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return _JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n"


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


def _one_line(value) -> str:
    return " ".join(str(value).split())


def _state(value) -> str:
    try:
        return BreakerState(value).label
    except ValueError:
        return str(value)


def describe(e: JournalEvent) -> str:
    """One event as a timeline line."""
    d = e.details
    by = f" ({e.actor})"
    match e.kind:
        case EventKind.INCIDENT_OPENED:
            how = "on the alert" if d.get("opened_by") == "alert" else "on a breaker seen OPEN"
            return f"Incident opened {how}: {d.get('services') or e.service or 'unknown service'}"
        case EventKind.ALERT_FIRED:
            return f"Alert {d.get('alert')} firing"
        case EventKind.BREAKER_TRANSITION:
            back = " (read back from history)" if d.get("observed") == "backfill" else ""
            return (f"{e.service} {d.get('instance')}: {_state(d.get('from'))} -> "
                    f"{_state(d.get('to'))}{back}")
        case EventKind.ACTION:
            extra = f" - {_one_line(d['error'])}" if d.get("error") else ""
            return f"Action {d.get('action')} on {d.get('target')}: {d.get('stage')}{extra}{by}"
        case EventKind.DATA_GAP:
            return f"Data gap: {_one_line(d.get('error') or 'no data')}"
        case EventKind.DATA_BACK:
            return f"Data back after {d.get('gap_s')} s"
        case EventKind.SERVICE_RECOVERED:
            return f"{e.service} recovered (CLOSED, held {d.get('held_s')} s)"
        case EventKind.ROLLOUT_SEEN:
            cause = d.get("change_cause") or "no change-cause"
            return f"Rollout seen: {d.get('deployment')} revision {d.get('revision')} ({cause})"
        case EventKind.ACKNOWLEDGED:
            return f"Acknowledged{by}"
        case EventKind.NOTE:
            return f"Note #{e.id}: {_one_line(d.get('text'))}{by}"
        case EventKind.NOTE_AMENDED if d.get("of") == "resolution summary":
            return (f"Resolution summary amended: {_one_line(d.get('text'))} "
                    f"(was: {_one_line(d.get('previous'))}){by}")
        case EventKind.NOTE_AMENDED:
            return (f"Note #{d.get('amends')} amended: {_one_line(d.get('text'))} "
                    f"(was: {_one_line(d.get('previous'))}){by}")
        case EventKind.ROOT_CAUSE:
            return f"Root cause ({d.get('category')}): {_one_line(d.get('text'))}{by}"
        case EventKind.RESOLVED:
            summary = f": {_one_line(d['summary'])}" if d.get("summary") else ""
            return f"Resolved{summary}{by}"
        case EventKind.SERVICE_JOINED:
            return f"{e.service} joined the incident"
        case EventKind.SERVICE_SPLIT:
            reason = f": {_one_line(d['reason'])}" if d.get("reason") else ""
            return f"{e.service} split off as a separate problem{reason}{by}"
        case EventKind.EXPORT:
            return f"Postmortem exported ({d.get('format')}) to {d.get('path') or 'stdout'}{by}"
    return e.kind.value


def _mitigations(events: list[JournalEvent]) -> list[list[JournalEvent]]:
    """Action events grouped into one chain per mitigation: a chain starts at
    `asked` (or the first step seen) and ends at a final stage."""
    final = {Stage.CANCELLED.value, Stage.FAILED.value, Stage.VERIFIED.value,
             Stage.UNKNOWN.value}
    chains: list[list[JournalEvent]] = []
    open_chain: dict[tuple, list[JournalEvent]] = {}
    for e in events:
        if e.kind != EventKind.ACTION:
            continue
        key = (e.details.get("action"), e.service, e.details.get("target"))
        chain = open_chain.get(key)
        if chain is None or e.details.get("stage") == Stage.ASKED.value:
            chain = open_chain[key] = []
            chains.append(chain)
        chain.append(e)
        if e.details.get("stage") in final:
            open_chain.pop(key, None)
    return chains


def _prevention(events, category: RootCauseCategory | None, services: list[str],
                overdue: bool, response_s: float | None) -> list[str]:
    svc = services[0] if services else "the service"
    items = [t.format(svc=svc) for t in PREVENTION[category or RootCauseCategory.OTHER]]
    if alert_time(events) is None:
        items.append("Create the CircuitBreakerOpen alert where this incident had none "
                     "(runbook Prevention 5)")
    if first(events, EventKind.DATA_GAP):
        items.append(_MONITOR.format(svc=svc) + ": the data had gaps during this incident")
    if overdue and response_s:
        items.append(f"Review paging: acknowledged after the {response_s / 60:g}-minute "
                     "response time (runbook Escalation)")
    t0 = start_time(events)
    for rollout in (e for e in events if e.kind == EventKind.ROLLOUT_SEEN):
        # A rollout after T+0 is a mitigation (ours or someone's), not a suspect.
        if category != RootCauseCategory.RECENT_DEPLOYMENT and (t0 is None or rollout.at <= t0):
            items.append(f"Check whether the rollout of {rollout.details.get('deployment')} "
                         f"(revision {rollout.details.get('revision')}) contributed")
    for chain in _mitigations(events):
        if chain[0].details.get("action") == "fallback" and _FALLBACK.format(svc=svc) not in items:
            items.append(_FALLBACK.format(svc=svc) + ": fallback was needed during this incident")
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
        requests_failed_share=impact.failed_share, window_start=impact.start.isoformat(),
        window_end=impact.end.isoformat(), source=impact.source,
    )
    share = impact.failed_share
    if share is None:
        reason = ("the profile has no failure or success counter"
                  if impact.failed is None or impact.succeeded is None
                  else f"no calls counted {window}")
        out["unknown_reason"] = reason
        out["requests_failed"] = f"unknown ({reason})"
        return out
    text = (f"{100 * share:.1f}% (about {impact.failed:,.0f} of {impact.total:,.0f} calls "
            "failed")
    if impact.rejected:
        text += (f"; {impact.rejected:,.0f} more rejected by the open breaker, "
                 f"{100 * impact.not_served_share:.1f}% not served")
    out["requests_failed"] = text + f"; Prometheus {impact.source}, {window})"
    return out


#: A flapping breaker writes hundreds of transitions: beyond this many for one
#: service the markdown keeps the first and last few and counts the rest
#: (the journal and the JSON export keep every one).
FLAP_KEEP = 4


def _event_lines(events: list[dict]) -> list[str]:
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
        hidden[middle[0]] = (f"- {a['time']} to {b['time']} - {len(middle)} more breaker "
                             f"transitions of {service} (flapping; all of them are in the "
                             "journal and the JSON export)")
    lines = []
    for i, e in enumerate(events):
        if i in hidden:
            lines.append(hidden[i])
        if i not in skip:
            lines.append(f"- {e['time']} ({e['t_plus']}) - {e['text']}")
    return lines


def build(events: Iterable[JournalEvent], impact: Impact | str | None = None, *,
          now: datetime, tz: str = "UTC", problems: Iterable[str] = ()) -> dict:
    """The postmortem's content. `impact`: counted calls, or why they are
    unknown (a string), or None when no Prometheus was recorded."""
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
        return {"event": label, "at": at.isoformat() if at else None, "time": _clock(at, zone),
                "t_plus": offset(at, t0), "note": note}

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
    applied = next((e for e in events if e.kind == EventKind.ACTION
                    and e.details.get("stage") == Stage.SUCCEEDED.value), None)
    recovered = {e.service: e for e in events if e.kind == EventKind.SERVICE_RECOVERED}
    last_recovery = max((recovered[s] for s in services if s in recovered),
                        key=lambda e: e.at, default=None)
    missing = [s for s in services if s not in recovered]
    recovery_note = (f"{', '.join(missing)} not recorded as recovered"
                     if last_recovery and missing else None)
    timeline = [
        alert_row,
        row("On-call engineer acknowledged", ack, note=ack.actor if ack else None),
        row("Root cause identified", cause, note=cause.actor if cause else None),
        row("Mitigation applied", applied, note=(
            f"{applied.details.get('action')} on {applied.details.get('target')}"
            if applied else None)),
        row("Service recovered", last_recovery, note=recovery_note),
        row("Incident resolved", resolved, note=resolved.actor if resolved else None),
    ]
    others = [{"id": e.id, "at": e.at.isoformat(), "time": _clock(e.at, zone, seconds=True),
               "t_plus": offset(e.at, t0), "kind": e.kind.value, "service": e.service,
               "actor": e.actor, "text": describe(e)}
              for e in by_time if e.id not in used]

    category = None
    if cause is not None:
        try:
            category = RootCauseCategory(cause.details.get("category"))
        except ValueError:
            category = None
    severity = str(opened.details.get("severity") or "unknown") if opened else "unknown"
    clock = _response(events, severity)
    end = resolved.at if resolved else None
    resolution = []
    for chain in _mitigations(events):
        head, last = chain[0], chain[-1]
        resolution.append({
            "action": head.details.get("action"), "service": head.service,
            "target": head.details.get("target"), "started_at": head.at.isoformat(),
            "time": _clock(head.at, zone), "outcome": last.details.get("stage"),
            "stages": [{"stage": e.details.get("stage"), "time": _clock(e.at, zone)}
                       for e in chain],
            "actor": head.actor,
            "error": last.details.get("error"),
        })
    title = f"Circuit Breaker Open - {', '.join(services) or 'unknown service'}"
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
                                  clock["response_s"] if clock else None),
        "lessons_learned": None,
        "journal_problems": list(problems),
    }


def _response(events: list[JournalEvent], severity: str) -> dict | None:
    t0, ack = start_time(events), first(events, EventKind.ACKNOWLEDGED)
    seconds = RESPONSE_TIMES_S.get(severity)
    if t0 is None or seconds is None:
        return None
    deadline = t0 + timedelta(seconds=seconds)
    return {"response_s": seconds, "deadline": deadline.isoformat(),
            "acknowledged_at": ack.at.isoformat() if ack else None,
            "overdue": ack.at > deadline if ack else None}


def render_json(events: Iterable[JournalEvent], impact: Impact | str | None = None, *,
                now: datetime, tz: str = "UTC", problems: Iterable[str] = ()) -> dict:
    return build(events, impact, now=now, tz=tz, problems=problems)


def render(events: Iterable[JournalEvent], impact: Impact | str | None = None, *,
           now: datetime, tz: str = "UTC", problems: Iterable[str] = ()) -> str:
    """The postmortem as markdown, RUNBOOK-004's template heading by heading."""
    p = build(events, impact, now=now, tz=tz, problems=problems)
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
        lines += _event_lines(p["events"])
    lines += ["", "## Root Cause", ""]
    cause = p["root_cause"]
    if cause is None:
        lines += ["unknown (not recorded)"]
    else:
        lines += [_one_line(cause["text"]), ""]
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
        error = f" - {_one_line(m['error'])}" if m["error"] else ""
        lines.append(f"- {m['time']} {m['action']} on {m['target']} ({m['service']}): "
                     f"**{m['outcome']}**{error} [{stages}] ({m['actor']})")
    if p["resolved_at"]:
        resolved = p["timeline"][-1]
        summary = f": {_one_line(p['resolution_summary'])}" if p["resolution_summary"] else ""
        lines.append(f"- {resolved['time']} incident resolved by {p['resolved_by']}{summary}")
    else:
        lines.append("- Not resolved yet.")
    lines += ["", "## Prevention", ""]
    lines += [f"- [ ] {item}" for item in p["prevention"]]
    lines += ["", "## Lessons Learned", "", FILL_IN]
    if p["journal_problems"]:
        lines += ["", "---", "", "Journal problems (lines skipped when reading it):", ""]
        lines += [f"- {_one_line(x)}" for x in p["journal_problems"]]
    return "\n".join(visible(line) for line in lines) + "\n"
