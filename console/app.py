"""The Textual application: polls the breaker source in a thread worker and
keeps the board, the detail pane and the header up to date."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Footer, Input, TabbedContent, TabPane

from console.actions import ActionRunner
from console.clock import Clock, system_clock
from console.diagnosis import Diagnosis, gather
from console.history import FleetHistory
from console.incident import IncidentTracker
from console.journalfile import EventKind, RootCauseCategory
from console.model import Alert, FleetSnapshot
from console.plan import Mode, Outcome, Plan, Progress
from console.probe import Probe
from console.recorder import ActionEvent, ActionRecorder
from console.servicemap import ServiceMap
from console.sources.base import BreakerSource, ClusterSource, FlagSource, SourceError
from widgets.actionlog import ActionLog
from widgets.board import BreakerBoard
from widgets.confirm import ConfirmDialog
from widgets.detail import ServiceDetail
from widgets.diagnosis import DiagnosisPane
from widgets.help import HelpScreen
from widgets.prompts import RootCausePrompt, TextPrompt, YesNo
from widgets.status import ResponseView, StatusLine
from widgets.text import multiline
from widgets.timeline import IncidentView, TimelinePane, TimelineRow, summary_text

STALE_AFTER_POLLS = 3
MAX_BACKOFF_S = 10.0  # an outage's end must show within seconds
MUTATING = ("restart", "fallback", "flag")
ACTION_NAMES = {"restart": "restart", "fallback": "fallback", "flag": "flag change",
                "smoke": "smoke test"}


def _offset(at: datetime, t0: datetime | None) -> str:
    """T+mm:ss from the alert; T-mm:ss before it."""
    if t0 is None:
        return ""
    seconds = int((at - t0).total_seconds())
    sign = "+" if seconds >= 0 else "-"
    m, s = divmod(abs(seconds), 60)
    return f"T{sign}{m:02d}:{s:02d}"


def describe_error(error: BaseException) -> str:
    """A one-line reason for the operator. SourceErrors are written for them;
    anything else is a bug in a source, named by its type."""
    if isinstance(error, SourceError):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


class Polled(Message):
    def __init__(self, snapshot: FleetSnapshot) -> None:
        self.snapshot = snapshot
        super().__init__()


class PollFailed(Message):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__()


class DiagnosisReady(Message):
    def __init__(self, service: str, diagnosis: Diagnosis | None, error: str | None) -> None:
        self.service = service
        self.diagnosis = diagnosis
        self.error = error
        super().__init__()


class PlanReady(Message):
    def __init__(self, key: tuple[str, str], plan: Plan | None, error: str | None) -> None:
        self.key = key
        self.plan = plan
        self.error = error
        super().__init__()


class ActionProgressed(Message):
    def __init__(self, key: tuple[str, str], progress: Progress) -> None:
        self.key = key
        self.progress = progress
        super().__init__()


class ActionDone(Message):
    def __init__(self, key: tuple[str, str], plan: Plan, outcome: Outcome) -> None:
        self.key = key
        self.plan = plan
        self.outcome = outcome
        super().__init__()


class ActionRecorded(Message):
    """A step reached the recorder (from any thread): redraw the action log."""


class AppRecorder:
    """Keeps every action step for the log pane and hands it on (to the
    incident journal); thread-safe, as the runner records from workers."""

    def __init__(self, app: App, forward: ActionRecorder | None) -> None:
        self.app = app
        self.forward = forward
        self.events: list[ActionEvent] = []

    def record(self, event: ActionEvent) -> None:
        if self.forward is not None:
            self.forward.record(event)
        self.events.append(event)
        self.app.post_message(ActionRecorded())


@dataclass
class PollState:
    """What the header needs to tell the truth about freshness."""

    last_good_at: datetime | None = None
    error: str | None = None
    error_at: datetime | None = None
    failures: int = 0
    started_at: datetime | None = None  # of the poll in flight, if any


class CBConsoleApp(App[None]):
    TITLE = "cbconsole"
    CSS = """
    #filter { dock: bottom; display: none; }
    #filter.-active { display: block; }
    BreakerBoard { height: auto; max-height: 1fr; min-height: 6; }
    #panes { height: 1fr; min-height: 14; border-top: solid $primary; }
    #panes ContentSwitcher { height: 1fr; }
    #panes TabPane { padding: 0; }
    ServiceDetail { height: 1fr; border-top: none; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("r", "act('restart')", "Restart", id="restart"),
        Binding("f", "act('fallback')", "Fallback", id="fallback"),
        Binding("d", "act('flag')", "Flag", id="flag"),
        Binding("s", "act('smoke')", "Smoke", id="smoke"),
        Binding("g", "diagnose", "Diagnose", id="diagnose"),
        Binding("a", "acknowledge", "Ack", id="acknowledge"),
        Binding("n", "note", "Note", id="note"),
        Binding("N", "amend_note", "Amend last note", show=False, id="amend-note"),
        Binding("c", "root_cause", "Cause", id="root-cause"),
        Binding("R", "resolve", "Resolve", key_display="R", id="resolve"),
        Binding("e", "export", "Export", id="export"),
        Binding("S", "split", "Split service off the incident", show=False, id="split"),
        Binding("x", "escalation", "Escalate", id="escalation"),
        Binding("1", "pane('breaker')", "Breaker", show=False, id="pane-breaker"),
        Binding("2", "pane('diagnosis')", "Diagnosis", show=False, id="pane-diagnosis"),
        Binding("3", "pane('actions')", "Actions", show=False, id="pane-actions"),
        Binding("4", "pane('timeline')", "Timeline", show=False, id="pane-timeline"),
        Binding("slash", "filter", "Filter", key_display="/", show=False, id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
        Binding("p", "poll_now", "Poll now", show=False, id="poll-now"),
    ]

    def __init__(
        self,
        source: BreakerSource,
        *,
        cluster: ClusterSource | None = None,
        cluster_unavailable: str = "cluster features unavailable",
        flags: FlagSource | None = None,
        flags_unavailable: str = "no flag service configured",
        probe: Probe | None = None,
        service_map: ServiceMap | None = None,
        mode: Mode = Mode.LIVE,
        recorder: ActionRecorder | None = None,
        tracker: IncidentTracker | None = None,
        journal_unavailable: str = "",
        escalation: list[tuple[str, str]] | None = None,
        export_dir: Path | None = None,
        timezone_name: str = "UTC",
        poll_interval: float = 2.0,
        clock: Clock = system_clock,
        sleep=None,  # the action runner's, between rollout checks (tests: a fake clock's)
        warnings: tuple[str, ...] = (),  # shown in the header for good (TLS verification off)
    ) -> None:
        super().__init__()
        self.warnings = tuple(warnings)
        self.source = source
        self.cluster = cluster
        self.cluster_unavailable = cluster_unavailable  # why there is no cluster
        self.flags = flags
        self.probe = probe
        self.service_map = service_map or ServiceMap(
            namespace=getattr(cluster, "namespace", None) or "default"
        )
        self.mode = mode
        self.poll_interval = poll_interval
        self.clock = clock
        self.history = FleetHistory()
        self.snapshot: FleetSnapshot | None = None
        self.poll_state = PollState()
        self._next_poll = None
        self.tracker = tracker
        # Why there is no journal (e.g. another console holds the directory).
        self.journal_unavailable = journal_unavailable
        self.escalation = escalation or []
        self.export_dir = export_dir
        self.timezone_name = timezone_name
        journal = tracker.journal if tracker is not None else None
        self.recorder = AppRecorder(self, recorder or journal)
        self.runner = ActionRunner(
            cluster=cluster,
            flags=flags,
            probe=probe,
            recorder=self.recorder,
            clock=clock,
            mode=mode,
            context=getattr(cluster, "label", None),
            cluster_unavailable=cluster_unavailable or "no cluster",
            flags_unavailable=flags_unavailable,
            **({"sleep": sleep} if sleep is not None else {}),
        )
        # (action, service) -> progress, from the key press to the outcome.
        self.in_flight: dict[tuple[str, str], Progress] = {}
        self.diagnoses: dict[str, Diagnosis] = {}
        self.diagnosis_errors: dict[str, str] = {}
        self.diagnosing: set[str] = set()
        self._diagnose_timer = None

    # --- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield BreakerBoard(id="board")
        with TabbedContent(id="panes", initial="breaker"):
            with TabPane("Breaker [1]", id="breaker"):
                yield ServiceDetail(id="detail")
            with TabPane("Diagnosis [2]", id="diagnosis"):
                yield DiagnosisPane(id="diagnosis-pane")
            with TabPane("Actions [3]", id="actions"):
                yield ActionLog(id="action-log-pane")
            with TabPane("Timeline [4]", id="timeline"):
                yield TimelinePane(id="timeline-pane")
        yield Input(placeholder="filter services by name (enter keeps, escape clears)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self._opened_at = self.clock()
        self.view(BreakerBoard).focus()
        self.refresh_views()
        # Ages and countdowns move every second; STALE must show on time even
        # with a fast poll.
        self.set_interval(min(1.0, self.poll_interval), self._tick, name="tick")
        self.start_poll()

    def _tick(self) -> None:
        # Events waiting for a writable disk are retried, in order.
        if self.tracker is not None and self.tracker.journal.pending:
            self.tracker.journal.flush_pending()
        self.refresh_views()

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        """Notifications quote service names and servers' errors: shown as
        written (not markup, which could crash or link), controls visible."""
        super().notify(message if markup else multiline(message), markup=markup, **kwargs)

    # --- polling --------------------------------------------------------------

    def start_poll(self) -> None:
        """Start one poll unless one is in flight: polls never overlap."""
        if self.poll_state.started_at is not None:
            return
        if self._next_poll is not None:
            self._next_poll.stop()
            self._next_poll = None
        self.poll_state.started_at = self.clock()
        self._poll()

    @work(thread=True, exit_on_error=False, group="poll")
    def _poll(self) -> None:
        try:
            snapshot = self.source.poll()
            if not isinstance(snapshot, FleetSnapshot):
                raise SourceError(f"the source answered {type(snapshot).__name__}, not a snapshot")
        except Exception as error:  # noqa: BLE001 - any failure is shown, never fatal
            self.post_message(PollFailed(describe_error(error)))
        else:
            self.post_message(Polled(snapshot))

    def on_polled(self, message: Polled) -> None:
        state = self.poll_state
        state.started_at = None
        state.last_good_at = self.clock()
        state.error = state.error_at = None
        state.failures = 0
        self.snapshot = message.snapshot
        self.history.apply(message.snapshot)
        if self.tracker is not None:
            self._journal(self.tracker.feed, message.snapshot)
        self.refresh_views()
        self._schedule_poll(self.poll_interval)

    def on_poll_failed(self, message: PollFailed) -> None:
        state = self.poll_state
        state.started_at = None
        state.error = message.reason
        state.error_at = self.clock()
        state.failures += 1
        if self.snapshot is not None:
            # The last good data stays, carrying why it is no longer current.
            self.snapshot = self.snapshot.model_copy(
                update={"error": message.reason, "error_at": state.error_at}
            )
            if self.tracker is not None:
                self._journal(self.tracker.feed, self.snapshot, True)
        self.refresh_views()
        # Capped exponential backoff: a struggling backend is not hammered.
        delay = min(self.poll_interval * 2 ** (state.failures - 1), max(MAX_BACKOFF_S, self.poll_interval))
        self._schedule_poll(delay)

    def _schedule_poll(self, delay: float) -> None:
        self._next_poll = self.set_timer(delay, self.start_poll, name="next-poll")

    def stale_reason(self, now: datetime) -> str | None:
        """Why the data on screen cannot be trusted as current, or None."""
        state = self.poll_state
        limit = STALE_AFTER_POLLS * self.poll_interval
        if state.last_good_at is None and state.error is not None:
            return f"no data: {state.error}"
        # Before the first good poll, the wait counts from the start.
        reference = state.last_good_at or self._opened_at
        age = (now - reference).total_seconds()
        if age <= limit:
            return None
        if state.error is not None:
            return state.error
        return f"no answer from the source for {int(age)}s"

    # --- views ----------------------------------------------------------------

    def view(self, selector, expect_type=None):
        """A widget of the main screen, whatever modal is on top of it (the
        app's own query only sees the active screen)."""
        return self.screen_stack[0].query_one(selector, expect_type)

    def selected_service(self, pin: bool = False) -> str | None:
        """The service the keys act on; `pin` keeps the cursor on it from now
        on, so a breaker opening above it cannot move the next key's target."""
        if not self._views_mounted():
            return None
        board = self.view(BreakerBoard)
        if pin:
            board.pin()
        return board.selected_service

    def _views_mounted(self) -> bool:
        """False while the app is still composing or already tearing down: a
        poll or a selection that lands then has nothing to draw on."""
        try:
            return bool(self.screen_stack) and bool(self.screen_stack[0].query(ServiceDetail))
        except ScreenStackError:
            return False

    def refresh_views(self) -> None:
        try:
            self._refresh_views()
        except NoMatches:
            pass  # the app is tearing down: its widgets are going one by one

    def _refresh_views(self) -> None:
        if not self._views_mounted():
            return
        now = self.clock()
        stale = self.stale_reason(now)
        snapshot = self.snapshot
        self.view(StatusLine).show(
            source=self.source.label,
            cluster=self.cluster.label if self.cluster else f"none ({self.cluster_unavailable})",
            last_good=self.poll_state.last_good_at,
            now=now,
            stale_reason=stale,
            error=self.poll_state.error,
            alerts=tuple(a for a in snapshot.alerts if a.service is None) if snapshot else (),
            notices=snapshot.notices if snapshot else (),
            mode=None if self.mode == Mode.LIVE else self.mode.value,
            response=self._response_view(now),
            journal_problem=self._journal_problem(),
            warnings=self.warnings,
            running=tuple(
                f"{ACTION_NAMES[action]} {service}: {progress.message}"
                for (action, service), progress in self.in_flight.items()
            ),
        )
        board = self.view(BreakerBoard)
        detail = self.view(ServiceDetail)
        for widget in (board, detail):
            widget.set_class(stale is not None, "-stale")
        alerts = self.service_alerts()
        if snapshot is not None:
            series = {s.service: self.history.error_series(s.service) for s in snapshot.services}
            board.show(snapshot.services, series, now, alerts)
        self._show_detail(board.selected_service, now, alerts)
        self._show_actions()
        self._show_timeline(now)

    def service_alerts(self) -> dict[str, Alert]:
        """Each service's alert, firing before pending."""
        alerts: dict[str, Alert] = {}
        for alert in self.snapshot.alerts if self.snapshot else ():
            if alert.service is None:
                continue
            current = alerts.get(alert.service)
            if current is None or (alert.state == "firing" and current.state != "firing"):
                alerts[alert.service] = alert
        return alerts

    def _show_detail(
        self, service_name: str | None, now: datetime, alerts: dict[str, Alert] | None = None
    ) -> None:
        service = self.snapshot.service(service_name) if self.snapshot and service_name else None
        transitions = self.history.transitions(service_name) if service_name else []
        if alerts is None:
            alerts = self.service_alerts()
        alert = alerts.get(service_name) if service_name else None
        self.view(ServiceDetail).show(service, transitions, now, alert)
        self._show_diagnosis(service_name, now)

    def _show_diagnosis(self, service: str | None, now: datetime) -> None:
        self.view(DiagnosisPane).show(
            self.diagnoses.get(service) if service else None,
            now,
            service=service,
            loading=service in self.diagnosing,
            error=self.diagnosis_errors.get(service) if service else None,
        )

    def _show_actions(self) -> None:
        with suppress(NoMatches):  # tearing down
            self._draw_actions()

    def _draw_actions(self) -> None:
        if self._views_mounted():
            running = {
                f"{ACTION_NAMES[action]} {service}": progress
                for (action, service), progress in self.in_flight.items()
            }
            self.view(ActionLog).show(self.recorder.events, running)

    @on(BreakerBoard.ServiceSelected)
    def _selected(self, message: BreakerBoard.ServiceSelected) -> None:
        if self._views_mounted():
            with suppress(NoMatches):  # tearing down
                self._show_detail(message.service, self.clock())
            # Scrolling through the board must not fire a diagnosis per row.
            if self._diagnose_timer is not None:
                self._diagnose_timer.stop()
            if message.service and message.service not in self.diagnoses:
                self._diagnose_timer = self.set_timer(0.5, self.action_diagnose, name="diagnose")

    # --- diagnosis ------------------------------------------------------------------

    def action_diagnose(self) -> None:
        service = self.selected_service()
        if service is None or service in self.diagnosing:
            return
        self.diagnosing.add(service)
        with suppress(NoMatches):  # tearing down
            self._show_diagnosis(service, self.clock())
        breaker = self.snapshot.service(service) if self.snapshot else None
        self._gather(service, breaker)

    @work(thread=True, exit_on_error=False, group="diagnose")
    def _gather(self, service: str, breaker) -> None:
        try:
            diagnosis = gather(
                self.service_map.target(service),
                cluster=self.cluster,
                probe=self.probe,
                flags=self.flags,
                breaker=breaker,
                now=self.clock(),
                cluster_unavailable=self.cluster_unavailable or "no cluster",
            )
        except Exception as error:  # noqa: BLE001 - shown in the pane, never fatal
            self.post_message(DiagnosisReady(service, None, describe_error(error)))
        else:
            self.post_message(DiagnosisReady(service, diagnosis, None))

    def on_diagnosis_ready(self, message: DiagnosisReady) -> None:
        self.diagnosing.discard(message.service)
        if message.diagnosis is not None:
            self.diagnoses[message.service] = message.diagnosis
            self._rollouts_seen(message.diagnosis)
            self.diagnosis_errors.pop(message.service, None)
        else:
            self.diagnosis_errors[message.service] = message.error or "unknown error"
        if self._views_mounted():
            with suppress(NoMatches):  # tearing down
                self._show_diagnosis(self.selected_service(), self.clock())

    # --- mitigations ----------------------------------------------------------------

    def action_act(self, action: str) -> None:
        """r f d s: plan in a worker, confirm in a dialog, execute in a worker."""
        service = self.selected_service(pin=True)
        if service is None:
            self.notify("Select a service first.", severity="warning")
            return
        key = (action, service)
        if key in self.in_flight:
            self.notify(f"The {ACTION_NAMES[action]} of {service} is already in progress.",
                        severity="warning")
            return
        if self.mode == Mode.READ_ONLY and action in MUTATING:
            # Refused before any request, reads included.
            self.notify(f"READ-ONLY: {ACTION_NAMES[action]} of {service} refused; nothing sent.",
                        severity="error")
            return
        self.in_flight[key] = Progress(None, "preparing")
        self.refresh_views()
        self._plan(key, self.diagnoses.get(service))

    @work(thread=True, exit_on_error=False, group="plan")
    def _plan(self, key: tuple[str, str], diagnosis: Diagnosis | None) -> None:
        action, service = key
        try:
            target = self.service_map.target(service)
            if action == "restart":
                fresh = diagnosis is not None and (
                    self.clock() - diagnosis.gathered_at
                ).total_seconds() < 30
                health = diagnosis.health if fresh else None
                if health is None and self.probe is not None and target.health_url:
                    health = self.probe.check(target.health_url)
                plan = self.runner.plan_restart(target, health)
            elif action == "fallback":
                plan = self.runner.plan_fallback(target)
            elif action == "flag":
                plan = self.runner.plan_flag(target)
            else:
                plan = self.runner.plan_smoke(target)
        except Exception as error:  # noqa: BLE001
            self.post_message(PlanReady(key, None, describe_error(error)))
        else:
            self.post_message(PlanReady(key, plan, None))

    def on_plan_ready(self, message: PlanReady) -> None:
        key = message.key
        if message.plan is None:
            self.in_flight.pop(key, None)
            self.notify(f"Cannot prepare the {ACTION_NAMES[key[0]]}: {message.error}",
                        severity="error")
            self.refresh_views()
            return
        self.in_flight[key] = Progress(None, "waiting for confirmation")
        self.refresh_views()
        plan = message.plan
        self.push_screen(ConfirmDialog(plan, self.mode),
                         callback=lambda chosen: self._confirmed(key, plan, chosen))

    def _confirmed(self, key: tuple[str, str], plan: Plan, chosen: Plan | None) -> None:
        if chosen is None:
            self.in_flight.pop(key, None)
            self._run_quietly(self.runner.cancel, plan)
            self.refresh_views()
            return
        self.in_flight[key] = Progress(None, "sending")
        self.action_pane("actions")
        self.refresh_views()
        self._execute(key, chosen)

    def _run_quietly(self, call, *args) -> None:
        try:
            call(*args)
        except Exception as error:  # noqa: BLE001 - recording must not take the app down
            self.notify(describe_error(error), severity="error")

    @work(thread=True, exit_on_error=False, group="execute")
    def _execute(self, key: tuple[str, str], plan: Plan) -> None:
        try:
            outcome = self.runner.execute(
                plan, lambda progress: self.post_message(ActionProgressed(key, progress))
            )
        except Exception as error:  # noqa: BLE001
            outcome = Outcome(ok=False, message=describe_error(error))
        self.post_message(ActionDone(key, plan, outcome))

    def on_action_progressed(self, message: ActionProgressed) -> None:
        if message.key in self.in_flight:
            self.in_flight[message.key] = message.progress
            self.refresh_views()

    def on_action_done(self, message: ActionDone) -> None:
        self.in_flight.pop(message.key, None)
        outcome = message.outcome
        words = f"{message.plan.title}: {outcome.message}"
        self.notify(words, severity="information" if outcome.ok else "error",
                    timeout=8 if outcome.ok else 15)
        self.refresh_views()
        service = message.key[1]
        if message.plan.mutating and self.selected_service() == service:
            self.action_diagnose()

    def on_action_recorded(self, message: ActionRecorded) -> None:
        self._show_actions()

    # --- incident journal -----------------------------------------------------------

    def _journal(self, call, *args):
        """Run one tracker call; a journal failure is shown, never fatal."""
        try:
            return call(*args)
        except Exception as error:  # noqa: BLE001 - JournalError, ValueError, OSError
            self.notify(f"journal: {describe_error(error)}", severity="error", timeout=10)
            return None

    def _journal_problem(self) -> str | None:
        if self.tracker is None:
            return self.journal_unavailable or None
        journal = self.tracker.journal
        if journal.problem:
            waiting = len(journal.pending)
            return f"{journal.problem}: {waiting} event(s) kept in memory, retried every second"
        return None

    def _response_view(self, now: datetime) -> ResponseView | None:
        tracker = self.tracker
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
        tracker = self.tracker
        if tracker is None or not tracker.is_open or diagnosis.target.service not in tracker.services:
            return
        for view in (diagnosis.downstream, diagnosis.caller):
            for rv in view.revisions:
                self._journal(tracker.rollout_seen, diagnosis.target.service,
                              f"{diagnosis.target.namespace}/{view.name}", rv.revision)

    def _show_timeline(self, now: datetime) -> None:
        from console import postmortem
        from console.incident import start_time

        tracker = self.tracker
        pane = self.view(TimelinePane)
        if tracker is None or tracker.journal.incident_id is None:
            pane.show(None, [], now)
            return
        journal = tracker.journal
        events = journal.events
        if len(events) == getattr(self, "_timeline_drawn", -1) and not journal.pending:
            # Only the summary's duration moves between events.
            pane.query_one("#timeline-summary").update(summary_text(self._incident_view, now))
            return
        t0 = start_time(events)
        pending = {e.id for e in journal.pending}
        rows = [
            TimelineRow(
                at=e.at,
                offset=_offset(e.at, t0),
                kind=e.kind.value,
                service=e.service,
                text=postmortem.describe(e),
                written=e.id not in pending,
            )
            for e in sorted(events, key=lambda e: (e.at, e.id))
        ]
        resolved = next((e for e in events if e.kind == EventKind.RESOLVED), None)
        states = {}
        for name in tracker.services:
            status = self.snapshot.service(name) if self.snapshot else None
            if status is not None:
                states[name] = status.state
        self._incident_view = IncidentView(
            incident_id=journal.incident_id,
            started_at=t0,
            ended_at=resolved.at if resolved else None,
            states=states,
            mitigations=sum(1 for e in events if e.kind == EventKind.ACTION
                            and e.details.get("stage") == "succeeded"),
            acknowledged=any(e.kind == EventKind.ACKNOWLEDGED for e in events),
            root_caused=any(e.kind == EventKind.ROOT_CAUSE for e in events),
            journal=str(journal.path or ""),
        )
        self._timeline_drawn = len(events)
        pane.show(self._incident_view, rows, now)

    def _operator(self, what: str, call, *args) -> None:
        """An operator event: recorded, and said to be only once it is on disk."""
        if self.tracker is None:
            self.notify(f"No journal: {self.journal_unavailable or 'not configured'}",
                        severity="error")
            return
        event = self._journal(call, *args)
        if event is None:
            return
        if self.tracker.journal.is_written(event):
            self.notify(f"{what}: recorded")
        else:
            self.notify(f"{what}: NOT yet written ({self.tracker.journal.problem}); kept in "
                        "memory and retried", severity="error", timeout=15)
        self.refresh_views()

    def _need_open_incident(self) -> bool:
        if self.tracker is None or not self.tracker.is_open:
            self.notify("No open incident.", severity="warning")
            return False
        return True

    def action_acknowledge(self) -> None:
        if not self._need_open_incident():
            return
        if any(e.kind == EventKind.ACKNOWLEDGED for e in self.tracker.journal.events):
            self.notify("Already acknowledged.")
            return
        self._operator("Acknowledged", self.tracker.acknowledge, self.clock())

    def action_note(self) -> None:
        if self.tracker is None or self.tracker.journal.incident_id is None:
            self.notify("No incident to add a note to.", severity="warning")
            return
        self.push_screen(TextPrompt("Note for the incident timeline"),
                         callback=lambda text: text and self._operator(
                             "Note", self.tracker.note, text, self.clock()))

    def action_amend_note(self) -> None:
        tracker = self.tracker
        notes = [e for e in tracker.journal.events if e.kind == EventKind.NOTE] if tracker else []
        if not notes:
            self.notify("No note to amend.", severity="warning")
            return
        note = notes[-1]
        amended = [e for e in tracker.journal.events if e.kind == EventKind.NOTE_AMENDED
                   and e.details.get("amends") == note.id]
        current = str((amended[-1] if amended else note).details.get("text") or "")
        self.push_screen(TextPrompt(f"Amend note #{note.id} (the first version is kept)",
                                    value=current),
                         callback=lambda text: text and self._operator(
                             "Note amended", tracker.amend_note, note.id, text, self.clock()))

    def action_root_cause(self) -> None:
        if self.tracker is None or self.tracker.journal.incident_id is None:
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
        self.push_screen(RootCausePrompt(categories, preselect=preselect, why=why),
                         callback=lambda answer: answer and self._operator(
                             "Root cause", self.tracker.root_cause, answer[0], answer[1],
                             self.clock()))

    def action_resolve(self) -> None:
        if not self._need_open_incident():
            return
        services = ", ".join(self.tracker.services) or "no service"
        still_open = [s for s in self.tracker.services if self.snapshot and (
            st := self.snapshot.service(s)) and st.state != st.state.CLOSED]
        body = f"Services: {services}."
        if still_open:
            body += f"\nStill not CLOSED: {', '.join(still_open)}."
        self.push_screen(YesNo("Resolve the incident?", body),
                         callback=lambda yes: yes and self._operator(
                             "Resolved", self.tracker.resolve, "", self.clock()))

    def action_split(self) -> None:
        if not self._need_open_incident():
            return
        service = self.selected_service(pin=True)
        if service not in self.tracker.services:
            self.notify(f"{service} is not part of the incident.", severity="warning")
            return
        if len(self.tracker.services) == 1:
            self.notify("It is the incident's only service: resolve (R) instead.",
                        severity="warning")
            return
        self.push_screen(YesNo(f"Split {service} off incident {self.tracker.journal.incident_id}?",
                               "It will not rejoin by itself."),
                         callback=lambda yes: yes and self._operator(
                             f"{service} split off", self.tracker.split, service, "",
                             self.clock()))

    def action_export(self) -> None:
        tracker = self.tracker
        if tracker is None or tracker.journal.incident_id is None:
            self.notify("No incident to export.", severity="warning")
            return
        self._export(list(tracker.journal.events), tracker.journal.incident_id)

    @work(thread=True, exit_on_error=False, group="export")
    def _export(self, events, incident_id: str) -> None:
        from console import postmortem
        from console.export import count_impact, write_atomically

        try:
            now = self.clock()
            impact = count_impact(events, now)
            text = postmortem.render(events, impact, now=now, tz=self.timezone_name)
            directory = self.export_dir or self.tracker.journal.state_dir / "exports"
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"postmortem-{incident_id}.md"
            write_atomically(path, text)
        except Exception as error:  # noqa: BLE001
            self.call_from_thread(self.notify, f"Export failed: {describe_error(error)}",
                                  severity="error", timeout=15)
            return
        self.call_from_thread(self._exported, str(path))

    def _exported(self, path: str) -> None:
        self._journal(self.tracker.exported, "md", path, self.clock())
        self.notify(f"Postmortem written to {path}", timeout=15)
        self.refresh_views()

    def action_escalation(self) -> None:
        rows = list(self.escalation) or [("—", "no escalation contacts in the config")]
        self.push_screen(HelpScreen(rows, title="Escalation contacts", columns=("who", "how")))

    def action_pane(self, pane: str) -> None:
        self.view("#panes", TabbedContent).active = pane

    # --- actions --------------------------------------------------------------

    def action_help(self) -> None:
        # The app's own bindings, straight from BINDINGS, then the widgets'
        # navigation keys in one line each (DataTable binds many more).
        rows = [
            (self.get_key_display(binding), binding.description)
            for binding in self.BINDINGS
            if isinstance(binding, Binding)
        ]
        rows += [
            ("↑ ↓ pgup pgdn home end", "Select a service"),
            ("enter", "Keep the filter (in the filter field)"),
            ("tab shift+tab", "Move focus"),
            ("^p", "Command palette"),
            ("^q", "Quit"),
        ]
        self.push_screen(HelpScreen(rows))

    def action_filter(self) -> None:
        field = self.view("#filter", Input)
        field.add_class("-active")
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.view("#filter", Input)
        field.value = ""
        field.remove_class("-active")
        self._apply_filter("")
        self.view(BreakerBoard).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.remove_class("-active")
        self.view(BreakerBoard).focus()

    def _apply_filter(self, value: str) -> None:
        self.view(BreakerBoard).filter_text = value
        self.refresh_views()

    def action_poll_now(self) -> None:
        self.start_poll()
