"""`cbconsole export`: an incident's postmortem (RUNBOOK-004's template) as
markdown or JSON, from its journal. Reads only: it works while a console is
writing the same journal, and takes no lock."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.clock import Clock, system_clock
from console.incident import first, start_time
from console.journalfile import (
    EventKind,
    JournalEvent,
    affected_services,
    list_incidents,
    load_incident,
    merge_side_events,
)
from console.paths import state_dir

IMPACT_TIMEOUT_S = 10.0


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
    which.add_argument("--incident", metavar="ID", help="the incident to export")
    which.add_argument("--latest", action="store_true", help="the latest incident (default)")
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
    return parser


def count_impact(events: list[JournalEvent], now: datetime):
    """The impact from the Prometheus the incident recorded: an Impact, the
    reason it is unknown (str), or None when no Prometheus was recorded."""
    opened = first(events, EventKind.INCIDENT_OPENED)
    url = opened.details.get("prometheus_url") if opened else None
    if not url:
        return None
    from pydantic import ValidationError

    from console.sources.base import SourceError
    from console.sources.promhttp import Unreachable
    from console.sources.promimpact import auth_from_details, impact, profile_from_details

    resolved = first(events, EventKind.RESOLVED)
    start, end = start_time(events), resolved.at if resolved else now
    try:
        return impact(str(url), profile_from_details(opened.details), affected_services(events),
                      start, end, auth=auth_from_details(opened.details),
                      timeout=IMPACT_TIMEOUT_S)
    except Unreachable as exc:
        return f"Prometheus unreachable: {exc}"
    except SourceError as exc:
        return f"Prometheus query failed: {exc}"
    except (ValidationError, ValueError) as exc:
        return f"cannot query Prometheus: {type(exc).__name__}"


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


def main(argv: list[str], clock: Clock = system_clock) -> int:
    args = build_parser().parse_args(argv)
    directory = state_dir(demo=args.demo, override=args.state_dir)
    incidents = list_incidents(directory)
    if not incidents and not args.demo and not args.incident:
        # Nothing real yet: the demo's journal (kept apart so that a demo
        # incident is never picked while a real one exists).
        demo_dir = state_dir(demo=True, override=args.state_dir)
        if list_incidents(demo_dir):
            directory, incidents = demo_dir, list_incidents(demo_dir)
            print(f"cbconsole export: no real incident; exporting the demo's ({directory})",
                  file=sys.stderr)
    if args.incident:
        chosen = next((i for i in incidents if i.id == args.incident), None)
        if chosen is None:
            known = ", ".join(i.id for i in incidents[-5:]) or "none"
            print(f"cbconsole export: no incident {args.incident} in {directory} "
                  f"(latest: {known})", file=sys.stderr)
            return 1
    elif incidents:
        chosen = incidents[-1]
    else:
        print(f"cbconsole export: no incident in {directory}", file=sys.stderr)
        return 1
    try:
        loaded = load_incident(directory, chosen.id)
    except OSError as exc:
        print(f"cbconsole export: cannot read {chosen.path}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    # With the actions of consoles that followed this one's journal.
    events, side_problems = merge_side_events(directory, chosen.id, loaded.events)
    loaded = loaded.model_copy(update={"problems": loaded.problems + tuple(side_problems)})
    for problem in loaded.problems:
        print(f"cbconsole export: warning: {problem}", file=sys.stderr)
    now = clock()
    impact = "not counted (--no-impact)" if args.no_impact else count_impact(events, now)

    from console import postmortem

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
        print(f"cbconsole export: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"cbconsole export: {chosen.id} written to {args.output}", file=sys.stderr)
    return 0
