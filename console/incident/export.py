"""`cbconsole export`: an incident's postmortem (RUNBOOK-004's template) as
markdown or JSON, from its journal. Reads only: it works while a console is
writing the same journal, and takes no lock."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.clock import Clock, system_clock
from console.incident.events import first, start_time
from console.incident.store import (
    EventKind,
    IncidentSummary,
    JournalEvent,
    affected_services,
    latest,
    list_incidents,
    load_incident,
    merge_side_events,
)
from console.errors import SourceError, Unreachable
from console.model.impact import Impact
from console.paths import state_dir
from console.ports import ImpactReader

log = logging.getLogger(__name__)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone {name!r} (e.g. UTC, Europe/Paris)")
    return name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cbconsole export",
        description="Write an incident's postmortem (RUNBOOK-004 template) from its journal.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--incident", metavar="ID",
                       help="the incident to export (looked for in the demo's journal too)")
    which.add_argument("--latest", action="store_true",
                       help="the latest incident (default): the one most recently active, "
                            "i.e. whose last event (a transition, a note, its resolve) is "
                            "the latest, not the one opened last")
    which.add_argument("--list", action="store_true",
                       help="list every incident, real and demo (ID, services, opened, "
                            "resolved or open) and export nothing")
    parser.add_argument("--format", choices=("md", "json"), default="md",
                        help="markdown (default) or JSON")
    parser.add_argument("-o", "--output", metavar="FILE", type=Path,
                        help="write to FILE (atomically) instead of stdout")
    parser.add_argument("--state-dir", metavar="DIR", type=Path,
                        help="the journal's directory (default: the user state dir)")
    parser.add_argument("--demo", action="store_true", help="the demo fleet's journal")
    parser.add_argument("--no-impact", action="store_true",
                        help="do not query Prometheus for the failed share of requests")
    parser.add_argument("--tz", type=_zone, default="UTC", metavar="ZONE",
                        help="time zone of the times shown (default UTC)")
    from console.logfile import log_level

    parser.add_argument("--log-level", type=log_level, default="INFO", metavar="LEVEL",
                        help="cbconsole.log's level, in the state dir (default INFO)")
    return parser


def count_impact(events: list[JournalEvent], now: datetime,
                 read_impact: ImpactReader | None = None):
    """The impact from the Prometheus the incident recorded (read through
    `read_impact`), else from the call totals its journal sampled: an Impact,
    the reason it is unknown (str), or None when there is neither."""
    opened = first(events, EventKind.INCIDENT_OPENED)
    url = opened.details.get("prometheus_url") if opened else None
    if not url:
        return sampled_impact(events)
    if read_impact is None:
        return "Prometheus not queried: this command has no Prometheus reader"
    from pydantic import ValidationError

    resolved = first(events, EventKind.RESOLVED)
    start, end = start_time(events), resolved.at if resolved else now
    try:
        return read_impact(opened.details, affected_services(events), start, end)
    except Unreachable as exc:
        log.warning("impact not counted: Prometheus unreachable", exc_info=True)
        return f"Prometheus unreachable: {exc}"
    except SourceError as exc:
        log.warning("impact not counted: the query failed", exc_info=True)
        return f"Prometheus query failed: {exc}"
    except (ValidationError, ValueError) as exc:
        log.warning("impact not counted: the incident's Prometheus details", exc_info=True)
        return f"cannot query Prometheus: {type(exc).__name__}"


ROLES = ("failures", "successes", "rejected")


def sampled_impact(events: list[JournalEvent]):
    """The impact from the `counters` samples (a source's own call totals, as
    the demo keeps them): per affected service, the growth from its first
    sample to its last up to the resolution. A drop (the source restarted
    and counts from 0 again) leaves that interval out."""
    resolved = first(events, EventKind.RESOLVED)
    services = affected_services(events)
    samples: dict[str, list[JournalEvent]] = {s: [] for s in services}
    for e in events:
        if (e.kind == EventKind.COUNTERS and e.service in samples
                and (resolved is None or e.at <= resolved.at)):
            samples[e.service].append(e)
    seen = [e for found in samples.values() for e in found]
    if not seen:
        return None
    per_service: dict[str, dict[str, float | None]] = {}
    for service, found in samples.items():
        counted = dict.fromkeys(ROLES, 0.0)
        for a, b in zip(found, found[1:]):
            grew = {r: float(b.details.get(r) or 0) - float(a.details.get(r) or 0)
                    for r in ROLES}
            if min(grew.values()) >= 0:
                counted = {r: counted[r] + grew[r] for r in ROLES}
        if len(found) > 1:
            per_service[service] = counted
    if not per_service:
        return "the call totals were read once only: nothing to count between"
    total = {r: sum(c[r] for c in per_service.values()) for r in ROLES}
    source = str(seen[0].details.get("source") or "the source's own counters")
    return Impact(
        start=min(e.at for e in seen), end=max(e.at for e in seen), services=tuple(services),
        failed=total["failures"], succeeded=total["successes"], rejected=total["rejected"],
        per_service=per_service,
        source=f"{source} (failures, successes, rejected totals sampled in the journal)")


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _when(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S") if at else "unknown"


def _row(i: IncidentSummary, tz: str) -> str:
    end = f"resolved {_when(i.resolved_at, tz)}" if i.resolved else "open"
    return (f"{i.id}  {', '.join(i.services) or 'unknown service'}  "
            f"opened {_when(i.opened_at, tz)}  {end}  last event {_when(i.last_at, tz)}")


def list_all(real: Path, demo: Path, tz: str) -> str:
    """Every incident of both journals, each journal labelled."""
    lines = []
    for label, directory in (("Incidents", real), ("Demo incidents", demo)):
        found = list_incidents(directory)
        flag = " (--demo)" if directory == demo else ""
        lines.append(f"{label} in {directory}{flag} ({tz}):")
        lines += [f"  {_row(i, tz)}" for i in found] or ["  none"]
    return "\n".join(lines) + "\n"


def _ids(incidents: list[IncidentSummary]) -> str:
    return ", ".join(i.id for i in incidents) or "none"


def _choose(args, real: Path, demo: Path) -> tuple[Path, IncidentSummary] | str:
    """(journal directory, incident) or what to say instead."""
    primary, other = (demo, real) if args.demo else (real, demo)
    incidents = list_incidents(primary)
    if args.incident:
        chosen = next((i for i in incidents if i.id == args.incident), None)
        if chosen is not None:
            return primary, chosen
        elsewhere = list_incidents(other)
        chosen = next((i for i in elsewhere if i.id == args.incident), None)
        if chosen is not None:
            which = "the real journal (no --demo)" if args.demo else "the demo's journal (--demo)"
            print(f"cbconsole export: {chosen.id} is in {which}: {other}", file=sys.stderr)
            return other, chosen
        label = "real" if args.demo else "demo (--demo)"
        return (f"no incident {args.incident} in {primary} or {other}; known: "
                f"{_ids(incidents)}; {label}: {_ids(elsewhere)} (cbconsole export --list)")
    if not incidents and not args.demo and list_incidents(demo):
        # Nothing real yet: the demo's journal (kept apart so that a demo
        # incident is never picked while a real one exists).
        print(f"cbconsole export: no real incident; exporting the demo's ({demo})",
              file=sys.stderr)
        primary, incidents = demo, list_incidents(demo)
    chosen = latest(incidents)
    if chosen is None:
        return f"no incident in {primary}"
    print(f"cbconsole export: {chosen.id}, the incident most recently active (last event "
          f"{_when(chosen.last_at, args.tz)} {args.tz}; all of them: --list)", file=sys.stderr)
    return primary, chosen


def main(argv: list[str], clock: Clock = system_clock,
         read_impact: ImpactReader | None = None) -> int:
    args = build_parser().parse_args(argv)
    real = state_dir(demo=False, override=args.state_dir)
    demo = state_dir(demo=True, override=args.state_dir)
    from console import logfile

    logfile.setup(real, args.log_level)  # the demo's incidents are exported from here too
    log.info("cbconsole export %s", " ".join(argv))
    if args.list:
        sys.stdout.write(list_all(real, demo, args.tz))
        return 0
    found = _choose(args, real, demo)
    if isinstance(found, str):
        log.warning("export: %s", found)
        print(f"cbconsole export: {found}", file=sys.stderr)
        return 1
    directory, chosen = found
    try:
        loaded = load_incident(directory, chosen.id)
    except OSError as exc:
        log.warning("cannot read %s", chosen.path, exc_info=True)
        print(f"cbconsole export: cannot read {chosen.path}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    # With the actions of consoles that followed this one's journal.
    events, side_problems = merge_side_events(directory, chosen.id, loaded.events)
    loaded = loaded.model_copy(update={"problems": loaded.problems + tuple(side_problems)})
    for problem in loaded.problems:
        print(f"cbconsole export: warning: {problem}", file=sys.stderr)
    now = clock()
    impact = "not counted (--no-impact)" if args.no_impact else count_impact(events, now, read_impact)

    from console.incident import postmortem

    if args.format == "json":
        doc = postmortem.render_json(events, impact, now=now, tz=args.tz, problems=loaded.problems)
        text = postmortem.json_text(doc)
    else:
        text = postmortem.render(events, impact, now=now, tz=args.tz, problems=loaded.problems)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_atomically(args.output, text)
    except OSError as exc:
        log.warning("cannot write %s", args.output, exc_info=True)
        print(f"cbconsole export: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"cbconsole export: {chosen.id} written to {args.output}", file=sys.stderr)
    return 0
