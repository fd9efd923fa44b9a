"""An incident across clusters (issue 18): the sites its events happened
in, whether it spans several, each site's own timeline of breaker
transitions and actions, and the data-quality events (a source answering
PARTIAL) for the postmortem. A journal of the one implicit site "" has no
site: none of this shows for it."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from console.incident.describe import describe, offset
from console.incident.store import EventKind, JournalEvent

#: What each cluster's own timeline lists.
PER_SITE = (EventKind.BREAKER_TRANSITION, EventKind.ACTION, EventKind.ROLLOUT_SEEN,
            EventKind.SERVICE_RECOVERED)


def sites_of(events: Iterable[JournalEvent]) -> list[str]:
    """The named sites the incident's events happened in, by name."""
    return sorted({e.site for e in events if e.site})


def spans(events: Iterable[JournalEvent]) -> str | None:
    """"spans eu-west, us-east" when the events come from several sites."""
    sites = sites_of(events)
    return f"spans {', '.join(sites)}" if len(sites) > 1 else None


def _line(e: JournalEvent, zone: ZoneInfo, t0: datetime | None, name, text) -> dict:
    return {"id": e.id, "at": e.at.isoformat(),
            "time": e.at.astimezone(zone).strftime("%H:%M:%S"), "t_plus": offset(e.at, t0),
            "kind": e.kind.value, "service": e.service, "text": describe(e, name, text)}


def clusters(events: list[JournalEvent], zone: ZoneInfo, t0: datetime | None,
             name: Callable = str, text: Callable = str) -> list[dict]:
    """Per site, in name order: its transitions and actions in time order."""
    by_time = sorted(events, key=lambda e: (e.at, e.id))
    return [{"site": site, "events": [_line(e, zone, t0, name, text) for e in by_time
                                      if e.site == site and e.kind in PER_SITE]}
            for site in sites_of(events)]


def data_quality(events: list[JournalEvent], zone: ZoneInfo, t0: datetime | None,
                 text: Callable = str) -> list[dict]:
    """Each PARTIAL source: when it started and ended, and its warnings
    (scrubbed when journaled)."""
    out = []
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        if e.kind not in (EventKind.DATA_PARTIAL, EventKind.DATA_COMPLETE):
            continue
        warnings = [text(str(w)) for w in (e.details.get("warnings") or "").split("\n") if w]
        out.append({"at": e.at.isoformat(), "time": e.at.astimezone(zone).strftime("%H:%M:%S"),
                    "t_plus": offset(e.at, t0), "kind": e.kind.value,
                    "source": text(str(e.details.get("source") or "")), "site": e.site,
                    "partial": e.kind == EventKind.DATA_PARTIAL, "warnings": warnings})
    return out


def render_clusters(p: dict, name: Callable) -> list[str]:
    """The markdown of the clusters affected and the data quality."""
    lines: list[str] = []
    if p.get("clusters"):
        lines += ["", "## Clusters affected", ""]
        if p.get("spans"):
            lines += [f"The incident {p['spans']}.", ""]
        for cluster in p["clusters"]:
            lines += [f"### {name(cluster['site'])}", ""]
            lines += [f"- {e['time']} ({e['t_plus']}) - {e['text']}" for e in cluster["events"]]
            if not cluster["events"]:
                lines.append("- no transition or action recorded here")
            lines.append("")
        lines.pop()
    if p.get("data_quality"):
        lines += ["", "## Data quality", "",
                  "Sources that answered with warnings (some data may be missing):", ""]
        for d in p["data_quality"]:
            where = f"{d['source']} ({name(d['site'])})" if d["site"] else d["source"]
            if d["partial"]:
                said = "; ".join(d["warnings"]) or "no warning text"
                lines.append(f"- {d['time']} ({d['t_plus']}) - {where} PARTIAL: {said}")
            else:
                lines.append(f"- {d['time']} ({d['t_plus']}) - {where} complete again")
    return lines
