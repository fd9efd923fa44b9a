"""One journal event as a line of the timeline (the console's timeline pane
and the postmortem's event list), and its T+ offset."""

from __future__ import annotations

from datetime import datetime

from console.incident import applied as mitigations
from console.incident.store import EventKind, JournalEvent
from console.mitigations.base import on_target
from console.mitigations.recorder import Stage
from console.mitigations.registry import BY_NAME
from console.model.fleet import BreakerState
from console.text import one_line


def offset(at: datetime | None, t0: datetime | None) -> str | None:
    """T+mm:ss from the alert (T-mm:ss before it), as the timeline shows it."""
    if at is None or t0 is None:
        return None
    seconds = int(round((at - t0).total_seconds()))
    sign = "-" if seconds < 0 else "+"
    minutes, secs = divmod(abs(seconds), 60)
    return f"T{sign}{minutes:02d}:{secs:02d}"


def carried_out(action, target, name=str) -> str:
    """A mitigation done to a target, in the words of the registry's
    mitigation of the recorded name (one it does not know: the name as is)."""
    mitigation = BY_NAME.get(str(action))
    if mitigation is None:
        return on_target(name(action), name(target))
    return mitigation.carried_out(name(target))


def _state(value) -> str:
    try:
        return BreakerState(value).label
    except ValueError:
        return str(value)


def describe(e: JournalEvent, name=str, text=one_line) -> str:
    """One event as a timeline line; `name` and `text` escape the names and
    the free text in it (for markdown: md_name, md_text). An event of a
    named site (cluster) says which: "[eu-west]"."""
    line = _describe(e, name, text)
    return f"{line} [{name(e.site)}]" if e.site else line


def _describe(e: JournalEvent, name, text) -> str:
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
            return (f"Action {carried_out(d.get('action'), d.get('target'), name)}: "
                    f"{text(words)}{extra}{by}")
        case EventKind.DATA_GAP:
            return f"Data gap: {text(d.get('error') or 'no data')}"
        case EventKind.DATA_BACK:
            return f"Data back after {d.get('gap_s')} s"
        case EventKind.DATA_PARTIAL:
            said = "; ".join(text(w) for w in str(d.get("warnings") or "").split("\n") if w)
            return f"Data PARTIAL from {name(d.get('source'))}: {said or 'no warning text'}"
        case EventKind.DATA_COMPLETE:
            return f"Data complete again from {name(d.get('source'))}"
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
