"""The operator's incident keys (a n N c R S), the response clock in the
header, the postmortem export (e) and the escalation contacts (x). The
prompts and the postmortem are imported when first used: the first frame
does not need them."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Callable

from textual.app import App

from console.clock import Clock
from console.errors import describe_error
from console.incident.store import EventKind, RootCauseCategory
from console.incident.tracker import IncidentTracker, current_text
from console.ui.diagnosis_flow import DiagnosisController
from console.ui.journal_bridge import JournalBridge
from console.ui.poller import Poller
from console.ui.selection import Selection
from console.ui.silence_flow import Silences
from widgets.status import ResponseView

log = logging.getLogger(__name__)


class IncidentController:
    """Every event goes through `journal` (None tracker: says why); `app`
    shows the prompts and runs the export worker; `diagnosis` preselects a
    root cause, `poller`'s snapshot says which services are still open;
    `redraw` draws every view."""

    def __init__(self, app: App, *, journal: JournalBridge, selection: Selection, poller: Poller,
                 diagnosis: DiagnosisController, silences: Silences, clock: Clock,
                 escalation: list[tuple[str, str]], export_dir: Path | None,
                 timezone_name: str, redraw: Callable[[], None]) -> None:
        self.app = app
        self.journal = journal
        self.selection = selection
        self.poller = poller
        self.diagnosis = diagnosis
        self.silences = silences  # a offers the page's silence too, R its expiry
        self.clock = clock
        self.escalation = escalation
        self.export_dir = export_dir
        self.timezone_name = timezone_name
        self.redraw = redraw

    def tracker(self) -> IncidentTracker | None:
        """The tracker of the incident the keys act on: the selected service's
        own after a split, else the console's. None without a journal."""
        return self.journal.for_service(self.selection.service())

    def about(self) -> str | None:
        """The service the open incident is about: the one it was opened
        for while it is in it, else the first still in it."""
        tracker = self.journal.tracker
        if tracker is None or not tracker.is_open:
            return None
        services = tracker.services
        opened = tracker.journal.first(EventKind.INCIDENT_OPENED)
        if opened is not None and opened.service in services:
            return opened.service
        return services[0] if services else None

    def response_view(self, now: datetime) -> ResponseView | None:
        tracker = self.tracker()
        if tracker is not None and not tracker.is_open:
            # The selected service's incident is over: another one open still counts.
            tracker = next((t for t in self.journal.trackers() if t.is_open), tracker)
        if tracker is None or not tracker.is_open:
            return None
        clock = tracker.response_clock(now)
        if clock is None:
            return None
        return ResponseView(
            incident_id=tracker.journal.incident_id or "?",
            severity=clock.severity,
            remaining_s=clock.remaining.total_seconds(),
            acknowledged=clock.acknowledged_at is not None,
        )

    def _open_tracker(self) -> IncidentTracker | None:
        tracker = self.tracker()
        if tracker is None or not tracker.is_open:
            self.app.notify("No open incident.", severity="warning")
            return None
        return tracker

    def _with_id(self, refusal: str) -> IncidentTracker | None:
        """The incident the key acts on, if it has begun; else says `refusal`."""
        tracker = self.tracker()
        if tracker is None or tracker.journal.incident_id is None:
            self.app.notify(refusal, severity="warning")
            return None
        return tracker

    def _context(self, tracker: IncidentTracker) -> str:
        """What a prompt is about, shown under its title."""
        services = ", ".join(tracker.services) or "no service"
        return f"Incident {tracker.journal.incident_id} · {services}"

    def _prompt(self, screen, what: str, call, *first) -> None:
        """A prompt whose answer (a text, or a tuple) is recorded as `what`:
        `call(*first, *answer, when answered)`; no answer records nothing."""
        def answered(answer) -> None:
            if answer:
                answers = tuple(answer) if isinstance(answer, (tuple, list)) else (answer,)
                self.journal.record(what, call, *first, *answers, self.clock())
        self.app.push_screen(screen, callback=answered)

    def acknowledge(self) -> None:
        if self.journal.refused_here("acknowledge"):
            return
        tracker = self._open_tracker()
        if tracker is None:
            return
        if tracker.journal.first(EventKind.ACKNOWLEDGED):
            self.app.notify("Already acknowledged.")
            self.silences.offer(tracker)  # the page too, if not silenced yet
            return
        what = "Acknowledged" if tracker is self.journal.tracker else (
            f"Acknowledged {tracker.journal.incident_id}")  # a split-off service's own
        self.journal.record(what, tracker.acknowledge, self.clock())
        self.silences.offer(tracker)  # with [alertmanager] ack_silence: the page too

    def note(self) -> None:
        if self.journal.refused_here("add a note"):
            return
        tracker = self._with_id("No incident to add a note to.")
        if tracker is None:
            return
        from widgets.prompts import TextPrompt

        self._prompt(TextPrompt("Note for the incident timeline", context=self._context(tracker)),
                     "Note", tracker.note)

    def amend_note(self) -> None:
        if self.journal.refused_here("amend a note"):
            return
        tracker = self.tracker()
        notes = [e for e in tracker.journal.events if e.kind == EventKind.NOTE] if tracker else []
        if not notes:
            self.app.notify("No note to amend.", severity="warning")
            return
        note = notes[-1]
        amended = [e for e in tracker.journal.events if e.kind == EventKind.NOTE_AMENDED
                   and e.details.get("amends") == note.id]
        current = str((amended[-1] if amended else note).details.get("text") or "")
        from widgets.prompts import TextPrompt

        self._prompt(TextPrompt(f"Amend note #{note.id} (the first version is kept)",
                                value=current, context=self._context(tracker)),
                     "Note amended", tracker.amend_note, note.id)

    def root_cause(self) -> None:
        if self.journal.refused_here("set the root cause"):
            return
        tracker = self._with_id("No incident to set a root cause for.")
        if tracker is None:
            return
        preselect, why = None, ""
        diagnosis = self.diagnosis.of(self.selection.key(pin=True))
        if diagnosis and any(rv.likely_cause for v in (diagnosis.downstream, diagnosis.caller)
                             for rv in v.revisions):
            preselect = RootCauseCategory.RECENT_DEPLOYMENT.value
            why = "preselected: the diagnosis found a rollout just before the breaker opened"
        categories = [c.value for c in RootCauseCategory]
        from widgets.prompts import RootCausePrompt

        self._prompt(RootCausePrompt(categories, preselect=preselect, why=why,
                                     context=self._context(tracker)),
                     "Root cause", tracker.root_cause)

    def resolve(self) -> None:
        if self.journal.refused_here("resolve"):
            return
        tracker = self.tracker()
        if tracker is not None and not tracker.is_open and tracker.journal.incident_id:
            self._amend_resolution(tracker)
            return
        tracker = self._open_tracker()
        if tracker is None:
            return
        snapshot = self.poller.snapshot
        services = ", ".join(tracker.services) or "no service"
        still_open = [s for s in tracker.services if snapshot and (
            st := snapshot.service(s)) and st.state != st.state.CLOSED]
        body = f"Services: {services}."
        if still_open:
            body += f"\nStill not CLOSED: {', '.join(still_open)}."
        from widgets.prompts import TextPrompt

        def prompt() -> None:
            self._prompt(TextPrompt(
                f"Resolve incident {tracker.journal.incident_id}?", body=body,
                placeholder="resolution summary: what ended it, in a line",
                required="Say in a line what resolved it (escape: not resolved).",
                hint="enter resolves with this summary (R amends it later), escape does not "
                     "resolve",
            ), "Resolved", tracker.resolve)

        # First the page's silence (its expiry is journaled in the incident, before it ends).
        self.silences.offer_expire(tracker, then=prompt)

    def _amend_resolution(self, tracker: IncidentTracker) -> None:
        resolved = tracker.journal.first(EventKind.RESOLVED)
        current = current_text(tracker.journal.events, resolved.id, "summary") or ""
        from widgets.prompts import TextPrompt

        self._prompt(TextPrompt(
            f"Amend the resolution summary of {tracker.journal.incident_id} "
            "(the first version is kept)", value=current,
            placeholder="resolution summary: what ended it, in a line",
        ), "Resolution summary amended", tracker.amend_resolution)

    def split(self) -> None:
        if self.journal.refused_here("split a service off"):
            return
        tracker = self._open_tracker()
        if tracker is None:
            return
        service = self.selection.service(pin=True)
        if service not in tracker.services:
            self.app.notify(f"{service} is not part of the incident.", severity="warning")
            return
        if len(tracker.services) == 1:
            self.app.notify("It is the incident's only service: resolve (R) instead.",
                            severity="warning")
            return
        from widgets.prompts import YesNo

        self.app.push_screen(
            YesNo(f"Split {service} off incident {tracker.journal.incident_id}?",
                  f"{service} and its events so far move into an incident of its own, "
                  "starting now (its response clock too); it will not rejoin by itself."),
            callback=lambda yes: yes and self.journal.record(
                f"{service} split off into an incident of its own", tracker.split,
                service, "", self.clock()))

    def export(self) -> None:
        tracker = self._with_id("No incident to export.")
        if tracker is None:
            return
        if self.journal.followed() is None:  # the impact so far, from a source that counts calls
            self.journal.call(tracker.sample_counters)
        events, incident_id = list(tracker.journal.events), tracker.journal.incident_id
        self.app.run_worker(lambda: self._export(tracker, events, incident_id), name="_export",
                            group="export", thread=True, exit_on_error=False)

    def _export(self, tracker: IncidentTracker, events, incident_id: str) -> None:
        from console.incident import postmortem
        from console.incident.export import count_impact, write_atomically
        from console.incident.store import merge_side_events
        from console.sources.prometheus.impact import read_recorded

        try:
            state_dir = self.journal.tracker.journal.state_dir
            events, _ = merge_side_events(state_dir, incident_id, events)  # a follower's actions
            now = self.clock()
            impact = count_impact(events, now, read_recorded)
            text = postmortem.render(events, impact, now=now, tz=self.timezone_name)
            directory = self.export_dir or tracker.journal.state_dir / "exports"
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"postmortem-{incident_id}.md"
            write_atomically(path, text)
        except Exception as error:  # noqa: BLE001
            log.warning("export of %s failed", incident_id, exc_info=True)
            self.app.call_from_thread(self.app.notify, f"Export failed: {describe_error(error)}",
                                      severity="error", timeout=15)
            return
        self.app.call_from_thread(self._exported, tracker, str(path))

    def _exported(self, tracker: IncidentTracker, path: str) -> None:
        if self.journal.followed() is None:  # the other console's journal is not written
            self.journal.call(tracker.exported, "md", path, self.clock())
        self.app.notify(f"Postmortem written to {path}", timeout=15)
        self.redraw()

    def show_escalation(self) -> None:
        rows = list(self.escalation) or [("—", "no escalation contacts in the config")]
        from widgets.help import HelpScreen

        self.app.push_screen(HelpScreen(rows, title="Escalation contacts", columns=("who", "how")))
