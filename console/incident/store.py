"""The incident journal on disk: its event model, the secret scrub, the tolerant
reader and the incident listing. Read-only: `cbconsole export` uses this while
a console writes (no lock needed, a line being written reads as a torn tail).

One JSON Lines file per incident, `incident-<id>.jsonl`, one event a line.
"""

from __future__ import annotations

import glob
import re
import sys
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from console import secrets

FILE_PREFIX, FILE_SUFFIX = "incident-", ".jsonl"
#: `side-<incident>.pid-<pid>.jsonl`: the actions a console took while it
#: followed another console's journal (a file is written by one console only).
SIDE_PREFIX = "side-"

Detail = str | int | float | bool | None

#: One shared set per combination of fields given (see JournalEvent.model_post_init).
_FIELDS_SET: dict[frozenset[str], set[str]] = {}


class EventKind(str, Enum):
    INCIDENT_OPENED = "incident_opened"
    ALERT_FIRED = "alert_fired"  # the alert seen after an incident opened without it
    BREAKER_TRANSITION = "breaker_transition"
    ACTION = "action"
    DATA_GAP = "data_gap"
    DATA_BACK = "data_back"
    #: A source answered with warnings (PARTIAL) / answered without them again.
    DATA_PARTIAL = "data_partial"
    DATA_COMPLETE = "data_complete"
    SERVICE_RECOVERED = "service_recovered"
    ROLLOUT_SEEN = "rollout_seen"
    ACKNOWLEDGED = "acknowledged"
    NOTE = "note"
    NOTE_AMENDED = "note_amended"
    ROOT_CAUSE = "root_cause"
    RESOLVED = "resolved"
    SERVICE_JOINED = "service_joined"
    SERVICE_SPLIT = "service_split"
    EXPORT = "export"
    #: A service's call totals as its source counted them (no Prometheus to ask).
    COUNTERS = "counters"


class RootCauseCategory(str, Enum):
    """RUNBOOK-004's common causes, plus other."""

    DOWNSTREAM_TIMEOUT = "downstream timeout"
    DOWNSTREAM_ERROR_RATE = "downstream error rate"
    NETWORK = "network"
    DATABASE_CONNECTION = "database connection"
    RATE_LIMITING = "rate limiting by an external API"
    RECENT_DEPLOYMENT = "recent deployment"
    OTHER = "other"


class JournalEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int  # 1, 2, ... in the order written, within one incident
    at: datetime
    kind: EventKind
    service: str | None = None
    actor: str = "unknown"
    details: dict[str, Detail] = Field(default_factory=dict)
    #: The site (cluster) it happened in; "" the implicit site (and every
    #: event of a journal written before sites existed).
    site: str = ""

    def model_post_init(self, context) -> None:
        # A long incident holds tens of thousands of events, most of them a
        # flapping breaker's. pydantic gives every instance its own set of
        # the fields given (728 bytes, half of an event): a frozen model never
        # changes it in place (a copy gets its own), so events given the same
        # fields share one. Names and short values repeat: one copy each.
        given = self.__pydantic_fields_set__
        object.__setattr__(self, "__pydantic_fields_set__",
                           _FIELDS_SET.setdefault(frozenset(given), given))
        fields = self.__dict__
        for name in ("service", "actor", "site"):
            if fields[name]:
                fields[name] = sys.intern(fields[name])
        details = fields["details"]
        for key, value in details.items():
            if type(value) is str and len(value) <= 80:
                details[key] = sys.intern(value)

    def line(self) -> bytes:
        """Its journal line. No `site` key for the implicit site: a
        single-site console writes its journal exactly as before."""
        return self.model_dump_json(exclude=None if self.site else {"site"}).encode() + b"\n"

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        return value.astimezone(timezone.utc)


# --- Secrets -----------------------------------------------------------------------

scrub_text = secrets.scrub_text  # the journal's guard; one copy, with the log's
_SECRET_KEY = re.compile(r"authorization|token|password|passwd|secret|api[_-]?key|cookie", re.I)
def scrub(details: dict[str, Detail] | None) -> dict[str, Detail]:
    clean: dict[str, Detail] = {}
    for key, value in (details or {}).items():
        if isinstance(value, str):
            value = secrets.MASK if _SECRET_KEY.search(key) and value else scrub_text(value)
        clean[str(key)] = value
    return clean


# --- Reading -----------------------------------------------------------------------


class Loaded(BaseModel):
    """One incident file as read: the good events, what was wrong, and where
    a torn tail starts (bytes a crash left mid-line)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    events: tuple[JournalEvent, ...] = ()
    problems: tuple[str, ...] = ()
    torn_at: int | None = None  # byte offset of a torn last line
    missing_newline: bool = False  # a good last line without its newline

    @property
    def incident_id(self) -> str:
        return incident_id_of(self.path)


def incident_id_of(path: Path) -> str:
    return path.name[len(FILE_PREFIX):-len(FILE_SUFFIX)]


def incident_path(state_dir: Path, incident_id: str) -> Path:
    return Path(state_dir) / f"{FILE_PREFIX}{incident_id}{FILE_SUFFIX}"


def _parse(line: bytes) -> JournalEvent | None:
    try:
        return JournalEvent.model_validate_json(line)
    except (ValidationError, ValueError):
        return None


def read_events(path: Path) -> Loaded:
    """Every good event of one file, in file order. A bad line is reported and
    skipped, the lines around it kept; a bad last line without its newline is a
    torn write (a crash mid-append), reported with its offset."""
    data = Path(path).read_bytes()
    events: list[JournalEvent] = []
    problems: list[str] = []
    torn_at: int | None = None
    missing_newline = False
    offset = 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        event = _parse(line)
        if event is not None:
            events.append(event)
            missing_newline = last
        elif last:
            torn_at = start
            problems.append(
                f"{Path(path).name} line {number}: torn last line ({len(line)} bytes, "
                "no newline: a write cut short), skipped"
            )
        else:
            problems.append(f"{Path(path).name} line {number}: not a journal event, skipped")
    return Loaded(path=Path(path), events=tuple(events), problems=tuple(problems),
                  torn_at=torn_at, missing_newline=missing_newline)


class Tail(BaseModel):
    """The whole lines of a file after an offset, and where the next read starts."""

    model_config = ConfigDict(frozen=True)

    events: tuple[JournalEvent, ...] = ()
    problems: tuple[str, ...] = ()
    offset: int = 0


def read_from(path: Path, offset: int = 0) -> Tail:
    """The events written after `offset`, for a reader following a file another
    process appends to. A last line without its newline is still being
    written: it is left for the next read, not reported."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    events: list[JournalEvent] = []
    problems: list[str] = []
    start = 0
    for line in data[:end].split(b"\n")[:-1]:
        event = _parse(line) if line.strip() else None
        if event is not None:
            events.append(event)
        elif line.strip():
            problems.append(f"{Path(path).name} at byte {offset + start}: not a journal event, "
                            "skipped")
        start += len(line) + 1
    return Tail(events=tuple(events), problems=tuple(problems), offset=offset + end)


def incident_files(state_dir: Path) -> list[Path]:
    try:
        return sorted(Path(state_dir).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))
    except OSError:
        return []


class IncidentSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    path: Path
    title: str
    services: tuple[str, ...] = ()
    opened_at: datetime | None = None
    resolved: bool = False
    resolved_at: datetime | None = None
    last_at: datetime | None = None  # the last event's time: when it was last active
    events: int = 0
    problems: tuple[str, ...] = ()


def summarize(loaded: Loaded) -> IncidentSummary:
    opened = next((e for e in loaded.events if e.kind == EventKind.INCIDENT_OPENED), None)
    resolved = next((e for e in loaded.events if e.kind == EventKind.RESOLVED), None)
    services = affected_services(loaded.events)
    title = str(opened.details.get("title") or "") if opened else ""
    return IncidentSummary(
        id=loaded.incident_id,
        path=loaded.path,
        title=title or f"Circuit Breaker Open - {', '.join(services) or 'unknown service'}",
        services=tuple(services),
        opened_at=opened.at if opened else None,
        resolved=resolved is not None,
        resolved_at=resolved.at if resolved else None,
        last_at=max((e.at for e in loaded.events), default=None),
        events=len(loaded.events),
        problems=loaded.problems,
    )


def affected_services(events) -> list[str]:
    """The incident's services in joining order, those split out removed."""
    services: list[str] = []
    for e in events:
        if e.kind in (EventKind.INCIDENT_OPENED, EventKind.SERVICE_JOINED):
            names = [e.service] if e.service else []
            names += [s for s in str(e.details.get("services") or "").split(",") if s]
            for name in names:
                if name not in services:
                    services.append(name)
        elif e.kind == EventKind.SERVICE_SPLIT and e.service in services:
            services.remove(e.service)
    return services


def list_incidents(state_dir: Path) -> list[IncidentSummary]:
    """Every incident in the directory, oldest first (unreadable files reported
    as problems of an empty incident, not hidden)."""
    found = []
    for path in incident_files(state_dir):
        try:
            found.append(summarize(read_events(path)))
        except OSError as exc:
            found.append(IncidentSummary(
                id=incident_id_of(path), path=path, title="(unreadable)",
                problems=(f"{path.name}: {exc.strerror or exc}",),
            ))
    far_past = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(found, key=lambda s: (s.opened_at or far_past, s.id))


def latest(incidents: list[IncidentSummary]) -> IncidentSummary | None:
    """The incident most recently active: the one whose last event is the
    latest (a resolve is an event; an incident opened later but quiet since
    is not "latest")."""
    far_past = datetime.min.replace(tzinfo=timezone.utc)
    return max(incidents, key=lambda s: (s.last_at or s.opened_at or far_past, s.id),
               default=None)


def load_incident(state_dir: Path, incident_id: str) -> Loaded:
    """One incident's events (FileNotFoundError if there is no such incident)."""
    return read_events(incident_path(state_dir, incident_id))


# --- Side files ----------------------------------------------------------------------


def side_path(state_dir: Path, incident_id: str, pid: int) -> Path:
    return Path(state_dir) / f"{SIDE_PREFIX}{incident_id}.pid-{pid}{FILE_SUFFIX}"


def merge_side_events(state_dir: Path, incident_id: str,
                      events) -> tuple[list[JournalEvent], list[str]]:
    """The incident's events and, after them, the actions other consoles took
    while following it (their side files), numbered on from its last id. With
    the problems found in the side files."""
    events, extra, problems = list(events), [], []
    pattern = f"{SIDE_PREFIX}{glob.escape(incident_id)}.pid-*{FILE_SUFFIX}"
    try:
        paths = sorted(Path(state_dir).glob(pattern))
    except OSError:
        paths = []
    for path in paths:
        try:
            side = read_events(path)
        except OSError as exc:
            problems.append(f"{path.name}: {exc.strerror or exc}")
            continue
        extra += side.events
        problems += side.problems
    last = max((e.id for e in events), default=0)
    for n, event in enumerate(sorted(extra, key=lambda e: e.at), start=1):
        events.append(event.model_copy(update={"id": last + n}))
    return events, problems
