"""The timeline pane's view-model: a row per journal event, each event's
text made once, and a full redraw only when the journal changed (between
events only the summary's duration moves)."""

from __future__ import annotations

from datetime import datetime

from console.incident import applied as mitigations
from console.incident.store import EventKind
from console.incident.tracker import IncidentTracker, start_time, without_moved
from console.model.fleet import BreakerState, FleetSnapshot
from widgets.timeline import IncidentView, TimelinePane, TimelineRow, summary_text


def _state_label(value) -> str:
    try:
        return BreakerState(value).label
    except ValueError:
        return str(value)


class TimelineView:
    def __init__(self) -> None:
        self._drawn: tuple[str, int] | None = None  # (incident id, events) last drawn
        self._texts: tuple[str, dict[str, str]] | None = None  # incident id, event id -> text
        self._incident: IncidentView | None = None

    def draw(self, pane: TimelinePane, tracker: IncidentTracker | None,
             snapshot: FleetSnapshot | None, now: datetime) -> None:
        if tracker is None or tracker.journal.incident_id is None:
            pane.show(None, [], now)
            return
        journal = tracker.journal
        events = journal.events
        drawn = (journal.incident_id, len(events))
        drawn = (*drawn, len(journal.pending))  # an event written since is redrawn
        if drawn == self._drawn and not journal.pending:
            # Only the summary's duration moves between events.
            pane.query_one("#timeline-summary").update(summary_text(self._incident, now))
            return
        events = without_moved(events)  # a split service's went with it
        from console.incident import postmortem  # the first incident event brings it in

        t0 = start_time(events)
        pending = {e.id for e in journal.pending}
        # Every event, in time order (the pane folds a flapper's transitions
        # and draws only what is on screen); each event's text made once.
        texts = self._texts
        if texts is None or texts[0] != journal.incident_id:
            texts = self._texts = (journal.incident_id, {})
        described = texts[1]
        rows = []
        for e in sorted(events, key=lambda e: (e.at, e.id)):
            if e.kind == EventKind.COUNTERS:
                continue  # the impact's samples: the journal's, not the incident's
            text = described.get(e.id)
            if text is None:
                text = described[e.id] = postmortem.describe(e)
            rows.append(TimelineRow(
                at=e.at,
                offset=postmortem.offset(e.at, t0) or "",
                kind=e.kind.value,
                service=e.service,
                text=text,
                written=e.id not in pending,
                state=_state_label(e.details.get("to"))
                if e.kind == EventKind.BREAKER_TRANSITION else "",
            ))
        resolved = next((e for e in events if e.kind == EventKind.RESOLVED), None)
        states = {}
        for name in tracker.services:
            status = snapshot.service(name) if snapshot else None
            if status is not None:
                states[name] = status.state
        self._incident = IncidentView(
            incident_id=journal.incident_id,
            started_at=t0,
            ended_at=resolved.at if resolved else None,
            states=states,
            mitigations=mitigations.count(events),  # no dry run, cancel or refusal
            acknowledged=any(e.kind == EventKind.ACKNOWLEDGED for e in events),
            root_caused=any(e.kind == EventKind.ROOT_CAUSE for e in events),
            journal=str(journal.path or ""),
            spans=tracker.spans,
        )
        self._drawn = drawn
        pane.show(self._incident, rows, now)
