"""What the operator says into an incident: the acknowledgement (with its
response clock), notes and their amendments, the root cause, exports. The
base of IncidentTracker, which adds what the polls show."""

from __future__ import annotations

from datetime import datetime

from console.incident.events import ResponseClock, current_text, first, response_clock
from console.incident.journal import Journal, JournalError, NoOpenIncident
from console.incident.opening import iso
from console.incident.settings import TrackerConfig
from console.incident.store import Detail, EventKind, JournalEvent, RootCauseCategory


class OperatorRecord:
    """One incident's journal and the operator's events in it."""

    def __init__(self, journal: Journal, config: TrackerConfig | None = None) -> None:
        self.journal = journal
        self.config = config or TrackerConfig()

    # --- Operator ------------------------------------------------------------------

    def acknowledge(self, at: datetime | None = None) -> JournalEvent | None:
        """The on-call engineer took it; None if already acknowledged."""
        self._need_open()
        if first(self.journal, EventKind.ACKNOWLEDGED):
            return None
        at = at or self.journal.clock()
        clock = self.response_clock(at)
        details: dict[str, Detail] = {}
        if clock:
            details = {"severity": clock.severity, "response_s": clock.response_s,
                       "deadline": iso(clock.deadline), "overdue": clock.overdue}
        return self._add(EventKind.ACKNOWLEDGED, at=at, details=details)[-1]

    def note(self, text: str, at: datetime | None = None) -> JournalEvent:
        self._need_incident()
        return self._add(EventKind.NOTE, at=at, details={"text": _text(text)})[-1]

    def amend_note(self, note_id: int, text: str, at: datetime | None = None) -> JournalEvent:
        """A new version of a note; the original stays in the journal."""
        self._need_incident()
        events = self.journal.events
        if not any(e.id == note_id and e.kind == EventKind.NOTE for e in events):
            raise JournalError(f"no note #{note_id} in this incident")
        return self._add(EventKind.NOTE_AMENDED, at=at, details={
            "amends": note_id, "text": _text(text), "previous": current_text(events, note_id),
        })[-1]

    def amend_resolution(self, text: str, at: datetime | None = None) -> JournalEvent:
        """A new version of the resolution summary, amended as a note is."""
        self._need_incident()
        events = self.journal.events
        resolved = first(self.journal, EventKind.RESOLVED)
        if resolved is None:
            raise JournalError(f"incident {self.journal.incident_id} is not resolved")
        return self._add(EventKind.NOTE_AMENDED, at=at, details={
            "amends": resolved.id, "of": "resolution summary", "text": _text(text),
            "previous": current_text(events, resolved.id, "summary"),
        })[-1]

    def root_cause(self, text: str, category: RootCauseCategory | str,
                   at: datetime | None = None) -> JournalEvent:
        self._need_incident()
        category = RootCauseCategory(category)
        return self._add(EventKind.ROOT_CAUSE, at=at,
                         details={"text": _text(text), "category": category.value})[-1]

    def exported(self, fmt: str, path: str | None, at: datetime | None = None) -> JournalEvent:
        self._need_incident()
        return self._add(EventKind.EXPORT, at=at, details={"format": fmt, "path": path})[-1]

    # --- Response clock ------------------------------------------------------------

    def response_clock(self, now: datetime) -> ResponseClock | None:
        """The header's response clock (console.incident.events.response_clock)."""
        return response_clock(self.journal, now, severity=self.config.severity,  # its index
                              response_times_s=self.config.response_times_s)

    # --- Helpers -------------------------------------------------------------------

    def _add(self, kind: EventKind, *, service: str | None = None, at: datetime | None = None,
             details: dict[str, Detail] | None = None, site: str = "") -> list[JournalEvent]:
        return [self.journal.add(kind, service=service, at=at, details=details, site=site)]

    def _need_incident(self) -> None:
        if self.journal.incident_id is None:
            raise NoOpenIncident("no incident: nothing to record this into")

    def _need_open(self) -> None:
        if not self.journal.is_open:
            raise NoOpenIncident("no open incident")


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("empty text")
    return text
