"""The Textual application: polls the breaker source in a thread worker and
keeps the board, the panes and the header up to date. The mitigation keys
live in mitigation_flow, the incident keys in incident_flow."""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widget import MountError
from textual.widgets import Input, TabbedContent, TabPane

from console.mitigations.registry import MITIGATIONS
from console import logfile
from console.mitigations.runner import ActionRunner
from console.ui.incident_flow import IncidentKeys
from console.ui.journal_writer import JournalWrites
from console.ui.timeline_view import TimelineView
from console.ui.poller import Poller, PollFailed, Polled, PollState
from console.ui.silence_flow import Silences
from console.mitigations.silence import SilenceSettings
from console.ui.mitigation_flow import ACTION_NAMES, AppRecorder, MitigationKeys
from console.clock import Clock, system_clock
from console.diagnosis.findings import Diagnosis
from console.model.history import FleetHistory
from console.incident.tracker import IncidentTracker
from console.incident.store import EventKind
from console.model.fleet import Alert, FleetSnapshot
from console.mitigations.plan import Mode, Plan, Progress
from console.mitigations.recorder import ActionRecorder
from console.model.servicemap import ServiceMap
from console.ports import BreakerSource, ClusterSource, FlagSource, Probe
from widgets.actionlog import ActionLog
from widgets.board import BreakerBoard
from widgets.commands import KeyCommands
from widgets.detail import ServiceDetail
from widgets.diagnosis import DiagnosisPane
from widgets.footer import KeyFooter
from widgets.status import StatusLine, filter_view
from widgets.text import multiline, set_zone
from widgets.timeline import TimelinePane

log = logging.getLogger(__name__)


class CBConsoleApp(MitigationKeys, IncidentKeys, App[None]):
    TITLE = "cbconsole"
    COMMANDS = App.COMMANDS | {KeyCommands}  # ctrl+p: every key binding, its key shown
    CSS = """
    #filter { dock: bottom; display: none; }
    #filter.-active { display: block; }
    /* The board takes at most about half the screen: a big fleet scrolls
       inside it, and the panes stay under it without scrolling the screen
       (which took the header away). */
    BreakerBoard { height: auto; max-height: 45%; min-height: 4; }
    #panes { height: 1fr; min-height: 6; border-top: solid $primary; }
    #panes ContentSwitcher { height: 1fr; }
    #panes TabPane { padding: 0; }
    ServiceDetail { height: 1fr; border-top: none; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        *(Binding(m.key, f"act('{m.name}')", m.label, id=m.name, tooltip=m.tooltip)
          for m in MITIGATIONS),
        Binding("g", "diagnose", "Diagnose", id="diagnose",
                tooltip="Diagnose the selected service again (health, rollouts, pods, logs)"),
        Binding("a", "acknowledge", "Ack", id="acknowledge",
                tooltip="Acknowledge the incident (stops the response clock)"),
        Binding("n", "note", "Note", id="note", tooltip="Add a note to the incident timeline"),
        Binding("N", "amend_note", "Amend last note", show=False, id="amend-note"),
        Binding("c", "root_cause", "Cause", id="root-cause",
                tooltip="Root cause identified: a sentence and one of the runbook's causes"),
        Binding("R", "resolve", "Resolve", key_display="R", id="resolve",
                tooltip="Resolve the incident (asks first)"),
        Binding("e", "export", "Export", id="export",
                tooltip="Export the postmortem (runbook template) under the state dir"),
        Binding("S", "split", "Split service off the incident", show=False, id="split"),
        Binding("x", "escalation", "Escalate", id="escalation",
                tooltip="Escalation contacts: on-call, team leads, incident channel"),
        Binding("1", "pane('breaker')", "Breaker", show=False, id="pane-breaker"),
        Binding("2", "pane('diagnosis')", "Diagnosis", show=False, id="pane-diagnosis"),
        Binding("3", "pane('actions')", "Actions", show=False, id="pane-actions"),
        Binding("4", "pane('timeline')", "Timeline", show=False, id="pane-timeline"),
        Binding("slash", "filter", "Filter", key_display="/", show=False, id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
        Binding("p", "poll_now", "Poll now", show=False, id="poll-now"),
        # Not in the footer: the header says "press L" when a login is needed.
        Binding("L", "login", "Log in", key_display="L", show=False, id="login",
                tooltip="Log in to the cluster again: the screen is suspended while the "
                        "credential plugin runs on the terminal"),
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
        silence: SilenceSettings | None = None,  # [alertmanager] ack_silence (issue 19)
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
        self.poller = Poller(self, source, clock=clock, interval=poll_interval,
                             feed=self._feed_tracker)
        self.tracker = tracker
        self.tracker_lock = threading.RLock()  # fed by the poll worker, keys on the loop
        # Journal writes (each an fsync) in a worker, in order: never on the loop.
        self.journal_writes = JournalWrites(self, self._journals)
        for journal in self._journals():
            self.journal_writes.attach(journal)
        self._log_unavailable_said = False  # said once a session
        # Why there is no journal (e.g. another console holds the directory).
        self.journal_unavailable = journal_unavailable
        self.escalation = escalation or []
        self.export_dir = export_dir
        self.timezone_name = timezone_name
        set_zone(timezone_name)  # every time on screen, and the column titles
        # Each step into its service's incident (a split-off one has its own).
        self.recorder = AppRecorder(self, recorder or tracker)
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
            sleep=lambda seconds: self._runner_sleep(seconds, sleep),
        )
        # (action, service) -> progress, from the key press to the outcome.
        self.in_flight: dict[tuple[str, str], Progress] = {}
        # (action, service) -> the plan sent, until its outcome; q waits for these.
        self.executing: dict[tuple[str, str], Plan] = {}
        self.leaving = False  # q pressed while an action ran
        self.leave_now = threading.Event()  # q pressed twice: the runner stops watching
        self.diagnoses: dict[str, Diagnosis] = {}
        self.diagnosis_errors: dict[str, str] = {}
        self.diagnosing: set[str] = set()
        self.diagnose_again: set[str] = set()  # pressed while a gather ran
        self._diagnose_timer = None
        self.timeline = TimelineView()
        self.silences = Silences(self, silence, mode)  # a offers, R expires, polls extend

    # --- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield BreakerBoard(id="board")
        with TabbedContent(id="panes", initial="breaker"):
            with TabPane("Breaker [1]", id="breaker"):
                yield ServiceDetail(id="detail")
            # Hidden at the start: filled after the first frame (_mount_rest).
            yield TabPane("Diagnosis [2]", id="diagnosis")
            yield TabPane("Actions [3]", id="actions")
            yield TabPane("Timeline [4]", id="timeline")
        yield Input(placeholder="filter services by name (enter keeps, escape clears)", id="filter")

    def on_load(self) -> None:
        self.loop_thread = threading.get_ident()
        # Before the terminal and the widgets are set up: the first answer
        # can then be on the first frame.
        self.start_poll()

    def on_unmount(self) -> None:
        self.silences.leaving()  # left to expire by itself, and said so

    def on_mount(self) -> None:
        self.view(BreakerBoard).focus()
        self.refresh_views()
        # Ages and countdowns move every second; STALE must show on time even
        # with a fast poll.
        self.set_interval(min(1.0, self.poll_interval), self._tick, name="tick")
        self.call_after_refresh(self._mount_rest)

    async def _mount_rest(self) -> None:
        """What the first frame does not show follows it: the board is what
        the operator waits for. Until then the views skip these panes."""
        try:
            for pane, widget in (("#diagnosis", DiagnosisPane(id="diagnosis-pane")),
                                 ("#actions", ActionLog(id="action-log-pane")),
                                 ("#timeline", TimelinePane(id="timeline-pane"))):
                await self.view(pane, TabPane).mount(widget)
            await self.mount(KeyFooter())
        except (MountError, NoMatches):
            log.debug("quit before the first frame was out", exc_info=True)
            return  # quit before the first frame was out
        self.refresh_views()

    def _tick(self) -> None:
        self.journal_writes.retry()  # events waiting for a writable disk, in order
        self._follow_tick()  # a journal another console writes: read what it added
        self._say_log_unavailable()
        self.refresh_views()

    def _say_log_unavailable(self) -> None:
        """Once: the log file could not be written (the console carries on)."""
        words = logfile.unavailable_words()
        if words and not self._log_unavailable_said:
            self._log_unavailable_said = True
            self.notify(words, severity="warning", timeout=15)

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        """Notifications quote service names and servers' errors: shown as
        written (not markup, which could crash or link), controls visible."""
        super().notify(message if markup else multiline(message), markup=markup, **kwargs)

    # --- polling --------------------------------------------------------------

    @property
    def poll_state(self) -> PollState:
        return self.poller.state

    def start_poll(self) -> None:
        self.poller.start()

    def stale_reason(self, now: datetime) -> str | None:
        return self.poller.stale_reason(now)

    def _feed_tracker(self, snapshot: FleetSnapshot) -> None:
        """In the poll worker: each event costs an fsync."""
        if self.tracker is not None:
            self._journal(self.tracker.feed, snapshot)

    def on_polled(self, message: Polled) -> None:
        self.poller.succeeded()
        self.snapshot = message.snapshot
        self.history.apply(message.snapshot)
        self.silences.polled(message.snapshot)
        self.refresh_views()

    def on_poll_failed(self, message: PollFailed) -> None:
        error_at = self.poller.failed(message.reason)
        if self.snapshot is not None:
            # The last good data stays, carrying why it is no longer current.
            self.snapshot = self.snapshot.model_copy(
                update={"error": message.reason, "error_at": error_at}
            )
            if self.tracker is not None:
                self._journal(self.tracker.feed, self.snapshot, True)
        self.refresh_views()

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

    def _cluster_words(self) -> str:
        """The context, and how its credentials stand (where they come from,
        when they expire, why they failed), for the header."""
        if not self.cluster:
            return f"none ({self.cluster_unavailable})"
        words = getattr(self.cluster, "credential_words", None)
        return f"{self.cluster.label} ({words()})" if words else self.cluster.label

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
        board = self.view(BreakerBoard)
        self.view(StatusLine).show(
            source=self.source.label,
            cluster=self._cluster_words(),
            last_good=self.poll_state.last_good_at,
            now=now,
            stale_reason=stale,
            error=self.poll_state.error,
            alerts=tuple(a for a in snapshot.alerts if a.service is None) if snapshot else (),
            pager=snapshot.pager if snapshot else None,  # Alertmanager's view (issue 19)
            notices=snapshot.notices if snapshot else (),
            mode=None if self.mode == Mode.LIVE else self.mode.value,
            response=self._response_view(now),
            journal_problem=self._journal_problem(),
            warnings=self.warnings,
            filtered=filter_view(snapshot.services, board.filter_text)
            if snapshot is not None and board.filter_text else None,
            running=tuple(
                f"{ACTION_NAMES[action]} {service}: {progress.message}"
                for (action, service), progress in self.in_flight.items()
            ),
        )
        detail = self.view(ServiceDetail)
        for widget in (board, detail):
            widget.set_class(stale is not None, "-stale")
        alerts = self.service_alerts()
        if snapshot is not None:
            board.show(snapshot.services, self.history.error_series, now, alerts,
                       about=self._incident_service())
        self._show_detail(board.selected_service, now, alerts)
        self._show_actions()
        if self.view("#panes", TabbedContent).active == "timeline":
            # Hundreds of events and services: drawn when it can be seen.
            self._show_timeline(now)

    def _incident_service(self) -> str | None:
        """The service the open incident is about: the one it was opened
        for while it is in it, else the first still in it."""
        tracker = self.tracker
        if tracker is None or not tracker.is_open:
            return None
        services = tracker.services
        opened = tracker.journal.first(EventKind.INCIDENT_OPENED)
        if opened is not None and opened.service in services:
            return opened.service
        return services[0] if services else None

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
        self.view(ServiceDetail).show(service, transitions, now, alert,
                                      self.snapshot.half_open_note if self.snapshot else None)
        self._show_diagnosis(service_name, now)

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

    def action_pane(self, pane: str) -> None:
        panes = self.view("#panes", TabbedContent)
        focused = self.focused
        if (focused is not None and pane != panes.active
                and panes.active_pane in focused.ancestors):
            # Hiding the focused widget moves focus to the next one in its
            # pane, which shows that pane again: the key did nothing.
            self.view(BreakerBoard).focus()
        panes.active = pane

    @on(TabbedContent.TabActivated)
    def _pane_shown(self) -> None:
        self.refresh_views()  # a pane not drawn while hidden is drawn now

    # --- actions --------------------------------------------------------------

    def action_help(self) -> None:
        # The app's own bindings, straight from BINDINGS, then the widgets'
        # navigation keys in one line each.
        rows = [
            (self.get_key_display(binding), binding.tooltip or binding.description)
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
        from widgets.help import HelpScreen  # not needed for the first frame

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

    def action_login(self) -> None:
        """L: the exec plugin on the plain terminal (a device code, an MFA
        prompt), the screen suspended meanwhile, as Textual's suspend is
        meant to be used: blocking, the terminal given away until it returns."""
        from textual.app import SuspendNotSupported

        from console.ui.login import login_on_terminal

        cluster = self.cluster
        if cluster is None or not getattr(cluster, "needs_login", False):
            self.notify(f"nothing needs a login: cluster {self._cluster_words()}",
                        title="Log in")
            return
        try:
            with self.suspend():
                said = login_on_terminal(cluster, again=True)
        except SuspendNotSupported:
            self.notify("this terminal cannot be handed to the credential plugin: log in "
                        "with kubectl on another terminal, then press L again",
                        title="Log in", severity="error")
            return
        self.refresh_views()
        if said:
            self.notify(said, title="Log in failed", severity="error", timeout=15)
            return
        self.notify(f"logged in: cluster {self._cluster_words()}", title="Log in")
        self.action_diagnose()  # the pane's cluster reads, with the new token
