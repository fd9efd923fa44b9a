"""The console's incident keys and timeline: the tracker fed from every
poll, the operator's events (a n N c R S), the response clock in the header,
the postmortem export (e) and the escalation contacts (x). Mixed into
CBConsoleApp. The prompts and the postmortem are imported when first used:
the first frame does not need them."""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from datetime import datetime

from textual import work
from textual.message import Message

from console.diagnosis.findings import Diagnosis
from console.errors import describe_error
from console.incident.follow import FollowedJournal, take_over
from console.incident.tracker import IncidentTracker, current_text
from console.incident.store import EventKind, RootCauseCategory
from widgets.status import ResponseView
from widgets.timeline import TimelinePane

log = logging.getLogger(__name__)


class Followed(Message):
    """A followed journal was read again; `taken`: the tracker of the journal
    this console now holds, the other console having exited."""

    def __init__(self, tracker: IncidentTracker, taken: IncidentTracker | None) -> None:
        self.tracker = tracker
        self.taken = taken
        super().__init__()


class IncidentKeys:
    """The incident journal's side of the console; `self.tracker` may be None
    (no journal: the header says why)."""

    # --- incident journal -----------------------------------------------------------

    def _journal(self, call, *args):
        """Run one tracker call, from the event loop or the poll worker; a
        journal failure is shown, never fatal."""
        try:
            with self.tracker_lock:
                return call(*args)
        except Exception as error:  # noqa: BLE001 - JournalError, ValueError, OSError
            log.warning("journal call %s failed", getattr(call, "__name__", call), exc_info=True)
            message = f"journal: {describe_error(error)}"
            if threading.get_ident() == self.loop_thread:
                self.notify(message, severity="error", timeout=10)
            else:
                with suppress(RuntimeError):  # the app is closing: nothing to tell
                    self.call_from_thread(self.notify, message, severity="error", timeout=10)
            return None

    def _journals(self) -> list:
        """Every journal this console writes: its incident's and split-offs'."""
        if self.tracker is None:
            return []
        return [t.journal for t in [self.tracker, *self.tracker.split_off]]

    def on_journal_due(self) -> None:
        self.journal_writes.start()

    def on_journal_written(self) -> None:
        for words, problem in self.journal_writes.written():
            if problem is None:
                self.notify(f"{words}: recorded")
            else:
                self._not_written(words, problem)
        self.refresh_views()

    def _not_written(self, what: str, problem: str | None) -> None:
        self.notify(f"{what}: NOT yet written ({problem}); kept in memory and retried",
                    severity="error", timeout=15)

    # --- a journal another console writes (console.incident.follow) ----------------------------

    def _followed(self) -> FollowedJournal | None:
        journal = self.tracker.journal if self.tracker is not None else None
        return journal if isinstance(journal, FollowedJournal) else None

    def _refused_here(self, what: str) -> bool:
        """An incident key in a console that follows another one's journal:
        it writes nothing and says where to do it."""
        followed = self._followed()
        if followed is None:
            return False
        subject = "this incident" if followed.incident_id else "the incidents"
        self.notify(f"Read-only journal here: another console records {subject} "
                    f"(pid {followed.holder}): use it to {what}. Nothing was changed.",
                    severity="warning", timeout=10)
        return True

    def _not_journaled_warning(self) -> str | None:
        """For a mutating dialog in a follower: said before it is confirmed."""
        followed = self._followed()
        if followed is None:
            return None
        side = followed.side_file
        if side is None:
            return (f"This action will NOT be journaled in this console: {followed.who} "
                    "records incidents here, and none is open: it is recorded nowhere.")
        return (f"This action will NOT be journaled in this console: {followed.who} records "
                f"this incident. Its steps are kept in {side.name} in the state directory; "
                "the export merges them. Say so in the other console (n).")

    def _follow_tick(self) -> None:
        """Each second, in a worker (file reads): what the other console
        wrote, and whether its lock is free to take over."""
        if self._followed() is None:
            return
        if any(w.group == "follow" and not w.is_finished for w in self.workers):
            return  # the last read is still going: reads never overlap
        self._follow(self.tracker)

    @work(thread=True, exit_on_error=False, group="follow")
    def _follow(self, tracker: IncidentTracker) -> None:
        journal = tracker.journal
        taken = None
        try:
            changed = journal.refresh()
            if changed:
                with self.tracker_lock:
                    tracker.reload()
            mine = take_over(journal)
            if mine is not None:
                taken = IncidentTracker(mine, tracker.config, tracker.source_details)
        except Exception as error:  # noqa: BLE001 - shown, never fatal; tried again next tick
            log.warning("reading the followed journal failed", exc_info=True)
            with suppress(RuntimeError):  # the app is closing
                self.call_from_thread(self.notify, f"journal: {describe_error(error)}",
                                      severity="error", timeout=10)
            return
        if changed or taken is not None:
            self.post_message(Followed(tracker, taken))

    def on_followed(self, message: Followed) -> None:
        taken = message.taken
        if message.tracker is not self.tracker:
            if taken is not None:
                taken.journal.close()  # a stale read: never keep a lock nobody uses
            return
        if taken is not None:
            with self.tracker_lock:
                self.tracker = taken
                self.recorder.forward = taken.journal
            for journal in self._journals():  # its split-off incidents' too
                self.journal_writes.attach(journal)
            journal = taken.journal
            where = (f"this console now records incident {journal.incident_id}"
                     if journal.is_open else f"this console now records {journal.state_dir}")
            self.notify(f"The other console has exited: took over the journal: {where}.",
                        timeout=15)
            for problem in journal.problems:
                self.notify(f"journal: {problem}", severity="warning", timeout=15)
        self.refresh_views()

    def _journal_problem(self) -> str | None:
        if self.tracker is None:
            return self.journal_unavailable or None
        followed = self._followed()
        if followed is not None:
            text = (f"followed read-only: {followed.who} records this incident"
                    if followed.incident_id else
                    f"followed read-only: {followed.who} records incidents here; none is open")
            return f"{text} ({followed.problem})" if followed.problem else text
        journal = next((t.journal for t in [self.tracker, *self.tracker.split_off]
                        if t.journal.problem), self.tracker.journal)
        if journal.problem:
            waiting = len(journal.pending)
            return f"{journal.problem}: {waiting} event(s) kept in memory, retried every second"
        return None

    def incident_tracker(self):
        """The tracker of the incident the keys act on: the selected service's
        own after a split, else the console's. None without a journal."""
        if self.tracker is None:
            return None
        return self.tracker.for_service(self.selected_service())

    def _response_view(self, now: datetime) -> ResponseView | None:
        tracker = self.incident_tracker()
        if tracker is not None and not tracker.is_open:
            # The selected service's incident is over: another one open still counts.
            tracker = next((t for t in [self.tracker, *self.tracker.split_off] if t.is_open),
                           tracker)
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

    def _rollouts_seen(self, diagnosis: Diagnosis) -> None:
        """Rollouts of an affected service's deployments go into the incident."""
        tracker = self.tracker.for_service(diagnosis.target.service) if self.tracker else None
        if tracker is None or not tracker.is_open or diagnosis.target.service not in tracker.services:
            return
        for view in (diagnosis.downstream, diagnosis.caller):
            for rv in view.revisions:
                self._journal(tracker.rollout_seen, diagnosis.target.service,
                              f"{diagnosis.target.namespace}/{view.name}", rv.revision)

    def _show_timeline(self, now: datetime) -> None:
        self.timeline.draw(self.view(TimelinePane), self.incident_tracker(), self.snapshot, now)

    def _operator(self, what: str, call, *args) -> None:
        """An operator event: recorded, and said to be only once it is on disk."""
        if self.tracker is None:
            self.notify(f"No journal: {self.journal_unavailable or 'not configured'}",
                        severity="error")
            return
        event = self._journal(call, *args)
        if event is None:
            return
        journal = getattr(call, "__self__", self.tracker).journal  # the incident it went to
        if journal.is_written(event):
            self.notify(f"{what}: recorded")
        elif journal.on_pending is not None and not journal.problem:
            # Said once the writer has it on disk (on_journal_written).
            self.journal_writes.say_when_written(journal, event, what)
        else:
            self._not_written(what, journal.problem)
        self.refresh_views()

    def _need_open_incident(self) -> bool:
        tracker = self.incident_tracker()
        if tracker is None or not tracker.is_open:
            self.notify("No open incident.", severity="warning")
            return False
        return True

    def _incident_context(self) -> str:
        """What a prompt is about, shown under its title."""
        tracker = self.incident_tracker()
        services = ", ".join(tracker.services) or "no service"
        return f"Incident {tracker.journal.incident_id} · {services}"

    def action_acknowledge(self) -> None:
        if self._refused_here("acknowledge"):
            return
        if not self._need_open_incident():
            return
        tracker = self.incident_tracker()
        if tracker.journal.first(EventKind.ACKNOWLEDGED):
            self.notify("Already acknowledged.")
            self.silences.offer(tracker)  # the page too, if not silenced yet (issue 19)
            return
        what = "Acknowledged" if tracker is self.tracker else (
            f"Acknowledged {tracker.journal.incident_id}")  # a split-off service's own
        self._operator(what, tracker.acknowledge, self.clock())
        self.silences.offer(tracker)  # with [alertmanager] ack_silence: the page too

    def action_note(self) -> None:
        if self._refused_here("add a note"):
            return
        tracker = self.incident_tracker()
        if tracker is None or tracker.journal.incident_id is None:
            self.notify("No incident to add a note to.", severity="warning")
            return
        from widgets.prompts import TextPrompt

        self.push_screen(TextPrompt("Note for the incident timeline",
                                    context=self._incident_context()),
                         callback=lambda text: text and self._operator(
                             "Note", tracker.note, text, self.clock()))

    def action_amend_note(self) -> None:
        if self._refused_here("amend a note"):
            return
        tracker = self.incident_tracker()
        notes = [e for e in tracker.journal.events if e.kind == EventKind.NOTE] if tracker else []
        if not notes:
            self.notify("No note to amend.", severity="warning")
            return
        note = notes[-1]
        amended = [e for e in tracker.journal.events if e.kind == EventKind.NOTE_AMENDED
                   and e.details.get("amends") == note.id]
        current = str((amended[-1] if amended else note).details.get("text") or "")
        from widgets.prompts import TextPrompt

        self.push_screen(TextPrompt(f"Amend note #{note.id} (the first version is kept)",
                                    value=current, context=self._incident_context()),
                         callback=lambda text: text and self._operator(
                             "Note amended", tracker.amend_note, note.id, text, self.clock()))

    def action_root_cause(self) -> None:
        if self._refused_here("set the root cause"):
            return
        tracker = self.incident_tracker()
        if tracker is None or tracker.journal.incident_id is None:
            self.notify("No incident to set a root cause for.", severity="warning")
            return
        preselect, why = None, ""
        service = self.selected_service(pin=True)
        diagnosis = self.diagnoses.get(service) if service else None
        if diagnosis and any(rv.likely_cause for v in (diagnosis.downstream, diagnosis.caller)
                             for rv in v.revisions):
            preselect = RootCauseCategory.RECENT_DEPLOYMENT.value
            why = "preselected: the diagnosis found a rollout just before the breaker opened"
        categories = [c.value for c in RootCauseCategory]
        from widgets.prompts import RootCausePrompt

        self.push_screen(RootCausePrompt(categories, preselect=preselect, why=why,
                                         context=self._incident_context()),
                         callback=lambda answer: answer and self._operator(
                             "Root cause", tracker.root_cause, answer[0], answer[1],
                             self.clock()))

    def action_resolve(self) -> None:
        if self._refused_here("resolve"):
            return
        tracker = self.incident_tracker()
        if tracker is not None and not tracker.is_open and tracker.journal.incident_id:
            self._amend_resolution()
            return
        if not self._need_open_incident():
            return
        services = ", ".join(tracker.services) or "no service"
        still_open = [s for s in tracker.services if self.snapshot and (
            st := self.snapshot.service(s)) and st.state != st.state.CLOSED]
        body = f"Services: {services}."
        if still_open:
            body += f"\nStill not CLOSED: {', '.join(still_open)}."
        from widgets.prompts import TextPrompt

        def prompt() -> None:
            self.push_screen(TextPrompt(
                f"Resolve incident {tracker.journal.incident_id}?", body=body,
                placeholder="resolution summary: what ended it, in a line",
                required="Say in a line what resolved it (escape: not resolved).",
                hint="enter resolves with this summary (R amends it later), escape does not "
                     "resolve",
            ), callback=lambda text: text and self._operator(
                "Resolved", tracker.resolve, text, self.clock()))

        # Issue 19: first offers to expire the page's silence (journaled in the incident).
        self.silences.offer_expire(tracker, then=prompt)

    def _amend_resolution(self) -> None:
        tracker = self.incident_tracker()
        resolved = tracker.journal.first(EventKind.RESOLVED)
        current = current_text(tracker.journal.events, resolved.id, "summary") or ""
        from widgets.prompts import TextPrompt

        self.push_screen(TextPrompt(
            f"Amend the resolution summary of {tracker.journal.incident_id} "
            "(the first version is kept)", value=current,
            placeholder="resolution summary: what ended it, in a line",
        ), callback=lambda text: text and self._operator(
            "Resolution summary amended", tracker.amend_resolution, text, self.clock()))

    def action_split(self) -> None:
        if self._refused_here("split a service off"):
            return
        if not self._need_open_incident():
            return
        service = self.selected_service(pin=True)
        tracker = self.incident_tracker()
        if service not in tracker.services:
            self.notify(f"{service} is not part of the incident.", severity="warning")
            return
        if len(tracker.services) == 1:
            self.notify("It is the incident's only service: resolve (R) instead.",
                        severity="warning")
            return
        from widgets.prompts import YesNo

        self.push_screen(YesNo(f"Split {service} off incident {tracker.journal.incident_id}?",
                               f"{service} and its events so far move into an incident of "
                               "its own, starting now (its response clock too); it will not "
                               "rejoin by itself."),
                         callback=lambda yes: yes and self._operator(
                             f"{service} split off into an incident of its own", tracker.split,
                             service, "", self.clock()))

    def action_export(self) -> None:
        tracker = self.incident_tracker()
        if tracker is None or tracker.journal.incident_id is None:
            self.notify("No incident to export.", severity="warning")
            return
        if self._followed() is None:  # the impact so far, from a source that counts calls
            self._journal(tracker.sample_counters)
        self._export(tracker, list(tracker.journal.events), tracker.journal.incident_id)

    @work(thread=True, exit_on_error=False, group="export")
    def _export(self, tracker, events, incident_id: str) -> None:
        from console.incident import postmortem
        from console.incident.export import count_impact, write_atomically

        from console.incident.store import merge_side_events
        from console.sources.prometheus.impact import read_recorded

        try:
            state_dir = self.tracker.journal.state_dir
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
            self.call_from_thread(self.notify, f"Export failed: {describe_error(error)}",
                                  severity="error", timeout=15)
            return
        self.call_from_thread(self._exported, tracker, str(path))

    def _exported(self, tracker, path: str) -> None:
        if self._followed() is None:  # the other console's journal is not written
            self._journal(tracker.exported, "md", path, self.clock())
        self.notify(f"Postmortem written to {path}", timeout=15)
        self.refresh_views()

    def action_escalation(self) -> None:
        rows = list(self.escalation) or [("—", "no escalation contacts in the config")]
        from widgets.help import HelpScreen

        self.push_screen(HelpScreen(rows, title="Escalation contacts", columns=("who", "how")))
