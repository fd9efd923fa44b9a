"""The postmortem: RUNBOOK-004's Postmortem Template, heading by heading,
filled from an incident's journal. What the journal does not know says
"not recorded" or "unknown"; what only a person knows says "(to be filled in)".

`build` (console.incident.sections) makes the content (a JSON-able dict);
`render` writes it as markdown, `render_json` returns it as is. Pure: the
impact is counted by the caller. Its parts: `sections` (the content),
`describe` (one event as a line), `prevention`, `mdtext` (escaping).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable
from zoneinfo import ZoneInfo

from console import secrets
from console.incident.clusters import render_clusters
from console.incident.describe import carried_out, describe, offset  # noqa: F401
from console.incident.mdtext import json_text, md_name, md_text, visible  # noqa: F401
from console.incident.prevention import PREVENTION, likely_causes  # noqa: F401
from console.incident.sections import RUNBOOK_CAUSES, build, flapping  # noqa: F401
from console.incident.store import EventKind, JournalEvent

if TYPE_CHECKING:
    from console.model.impact import Impact

FILL_IN = "(to be filled in)"
NOT_RECORDED = "not recorded"

#: A flapping breaker writes hundreds of transitions: beyond this many for one
#: service the markdown keeps the first and last few and counts the rest
#: (the journal and the JSON export keep every one).
FLAP_KEEP = 4


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
    if p["sites"]:
        spans = f" (the incident {p['spans']})" if p["spans"] else ""
        lines[-1:-1] = [f"**Clusters:** {', '.join(map(md_name, p['sites']))}{spans}"]
    lines += ["## Timeline", "", f"Times in {zone}; T+ counts from the alert.", ""]
    for r in p["timeline"]:
        when = f"{r['time']} ({r['t_plus']})" if r["time"] else NOT_RECORDED
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(f"- {when} - {r['event']}{note}")
    if p["events"]:
        lines += ["", "Every other recorded event:", ""]
        lines += _event_lines(p["events"], set(p["flapping"]))
    lines += render_clusters(p, md_name)
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
        lines.append(f"- {m['time']} {carried_out(m['action'], m['target'], md_name)} "
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
