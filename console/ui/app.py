"""The Textual application: the layout, the key bindings, and the wiring of
the controllers that do the work (console/ui/*: the poller, the journal,
the diagnosis, the mitigations, the incident keys, the views)."""

from __future__ import annotations

import threading
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult
from textual.widgets import Input, TabbedContent, TabPane

from console.clock import Clock, system_clock
from console.incident.tracker import IncidentTracker
from console.mitigations.plan import Mode
from console.mitigations.prodlock import ProductionLocks
from console.mitigations.recorder import ActionRecorder
from console.mitigations.silence import SilenceSettings
from console.mitigations.runner import ActionRunner
from console.mitigations.siterouting import SiteRouter
from console.model.servicemap import ServiceMap
from console.ports import BreakerSource, ClusterSource, CommitLog, FlagSource, Probe
from console.sources.git import GitLog
from console.ui.diagnosis_flow import DiagnosisController, DiagnosisReady
from console.ui.incident_flow import IncidentController
from console.ui.journal_bridge import Followed, JournalBridge
from console.ui.journal_writer import JournalDue, JournalWritten
from console.ui.keys import BINDINGS
from console.ui.mitigation_flow import (ActionDone, ActionProgressed, MitigationController,
                                        PlanReady, abandonable)
from console.ui.poller import Poller, PollFailed, Polled
from console.ui.recorder import ActionRecorded, AppRecorder
from console.ui.relogin import Relogin
from console.ui.selection import Selection
from console.ui.silence_flow import Silences
from console.ui.views import ScreenView
from widgets.board import BreakerBoard
from widgets.commands import KeyCommands
from widgets.confirm import ConfirmDialog
from widgets.detail import ServiceDetail
from widgets.status import StatusLine
from widgets.text import multiline, set_zone


class CBConsoleApp(App[None]):
    TITLE = "cbconsole"
    COMMANDS = App.COMMANDS | {KeyCommands}  # ctrl+p: every key binding, its key shown
    # Absolute: Textual reads a relative CSS_PATH beside the subclass (a benchmark's).
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = BINDINGS

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
        journal_unavailable: str = "",  # why there is no journal (another console holds it)
        escalation: list[tuple[str, str]] | None = None,
        export_dir: Path | None = None,
        timezone_name: str = "UTC",
        poll_interval: float = 2.0,
        clock: Clock = system_clock,
        sleep=None,  # the action runner's, between rollout checks (tests: a fake clock's)
        warnings: tuple[str, ...] = (),  # shown in the header for good (TLS verification off)
        silence: SilenceSettings | None = None,  # [alertmanager] ack_silence
        locks: ProductionLocks | None = None,  # production contexts (issue 18)
        sites: SiteRouter | None = None,  # each row's cluster (default: the one implicit site)
        commits: CommitLog | None = None,  # git log for the diagnosis; default the host's git
    ) -> None:
        super().__init__()
        set_zone(timezone_name)  # every time on screen, and the column titles
        self.poll_interval = poll_interval
        service_map = service_map or ServiceMap(
            namespace=getattr(cluster, "namespace", None) or "default")
        redraw = self.refresh_views
        sites = sites or SiteRouter.implicit(
            cluster=cluster, flags=flags, service_map=service_map, mode=mode,
            cluster_unavailable=cluster_unavailable, flags_unavailable=flags_unavailable)
        self.selection = Selection(self, redraw)
        # Each step into its service's incident (a split-off one has its own).
        recorder = AppRecorder(self, recorder or tracker)
        self.journal = JournalBridge(self, tracker, unavailable=journal_unavailable,
                                     recorder=recorder, redraw=redraw)
        self.poller = Poller(self, source, clock=clock, interval=poll_interval,
                             journal=self.journal, redraw=redraw)
        self.diagnosis = DiagnosisController(
            self, selection=self.selection, poller=self.poller, journal=self.journal,
            service_map=service_map, cluster=cluster, cluster_unavailable=cluster_unavailable,
            flags=flags, probe=probe, clock=clock, sites=sites,
            show=lambda service: self.views.show_diagnosis(service),
            commits=commits if commits is not None else GitLog())
        leave_now = threading.Event()  # q pressed twice: the runner stops watching
        locks = locks or ProductionLocks(current_context=getattr(cluster, "label", None),
                                         clock=clock)
        locks.recorder = recorder  # each unlock journaled, like an action step
        runner = ActionRunner(
            cluster=cluster, flags=flags, probe=probe, recorder=recorder, clock=clock,
            mode=mode, context=getattr(cluster, "label", None),
            cluster_unavailable=cluster_unavailable or "no cluster",
            flags_unavailable=flags_unavailable, sleep=abandonable(leave_now, sleep),
            locks=locks)
        self.mitigations = MitigationController(
            self, runner=runner, recorder=recorder, leave_now=leave_now, mode=mode,
            service_map=service_map, selection=self.selection, diagnosis=self.diagnosis,
            journal=self.journal, clock=clock, redraw=redraw, show_pane=self.selection.show_pane,
            sites=sites, locks=locks)
        self.silences = Silences(self, silence, mode, recorder=recorder, clock=clock,
                                 poller=self.poller,  # a offers, R expires, polls extend
                                 journal=self.journal)  # a restart takes its own back
        self.incidents = IncidentController(
            self, journal=self.journal, selection=self.selection, poller=self.poller,
            diagnosis=self.diagnosis, silences=self.silences, clock=clock,
            escalation=escalation or [], export_dir=export_dir, timezone_name=timezone_name,
            redraw=redraw)
        self.views = ScreenView(
            self, selection=self.selection, poller=self.poller, diagnosis=self.diagnosis,
            mitigations=self.mitigations, journal=self.journal, incidents=self.incidents,
            source=source, cluster=cluster, cluster_unavailable=cluster_unavailable,
            mode=mode, warnings=tuple(warnings), clock=clock)
        self.relogin = Relogin(self, cluster, cluster_words=self.views.cluster_words,
                               redraw=redraw, diagnose=self.diagnosis.diagnose)

    @property
    def tracker(self) -> IncidentTracker | None:
        """The journal's tracker now (a follower may have taken one over)."""
        return self.journal.tracker

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield BreakerBoard(id="board")
        with TabbedContent(id="panes", initial="breaker"):
            with TabPane("Breaker [1]", id="breaker"):
                yield ServiceDetail(id="detail")
            # Hidden at the start: filled after the first frame (ScreenView.mount_rest).
            yield TabPane("Diagnosis [2]", id="diagnosis")
            yield TabPane("Actions [3]", id="actions")
            yield TabPane("Timeline [4]", id="timeline")
        yield Input(placeholder="filter services by name (enter keeps, escape clears)", id="filter")

    def on_load(self) -> None:
        # Before the terminal and the widgets are set up: the first answer
        # can then be on the first frame.
        self.poller.start()

    def on_unmount(self) -> None:
        self.silences.leaving()  # left to expire by itself, and said so

    def on_mount(self) -> None:
        board = self.query_one(BreakerBoard)
        board.focus()
        # The board's rows of each poll, on the poll's thread.
        self.poller.prepare = lambda snapshot: board.prepare(snapshot.services, snapshot.sources)
        self.refresh_views()
        # Ages and countdowns move every second; STALE must show on time even
        # with a fast poll.
        self.set_interval(min(1.0, self.poll_interval), self._tick, name="tick")
        self.call_after_refresh(self.views.mount_rest)
        self.call_after_refresh(self.poller.first_frame)

    def _tick(self) -> None:
        self.journal.tick()  # writes to retry; a journal another console writes
        self.poller.tick(self.poller.clock())  # a hung poll: a data gap
        self.views.say_log_unavailable()
        self.refresh_views()

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        """Notifications quote service names and servers' errors: shown as
        written (not markup, which could crash or link), controls visible."""
        super().notify(message if markup else multiline(message), markup=markup, **kwargs)

    def refresh_views(self) -> None:
        self.views.refresh()

    # --- what the workers post, to the controller that started them ----------
    def on_polled(self, message: Polled) -> None:
        self.poller.polled(message)
        self.silences.polled(message.snapshot)  # extended while the alert fires
    def on_poll_failed(self, message: PollFailed) -> None:
        self.poller.poll_failed(message)
    def on_journal_due(self, _: JournalDue) -> None:
        self.journal.due()
    def on_journal_written(self, _: JournalWritten) -> None:
        self.journal.written()
    def on_followed(self, message: Followed) -> None:
        self.journal.on_followed(message)
    def on_diagnosis_ready(self, message: DiagnosisReady) -> None:
        self.diagnosis.ready(message)
    def on_plan_ready(self, message: PlanReady) -> None:
        self.mitigations.plan_ready(message)
    def on_action_progressed(self, message: ActionProgressed) -> None:
        self.mitigations.progressed(message)
    def on_action_done(self, message: ActionDone) -> None:
        self.mitigations.done(message)
    def on_confirm_dialog_unlock_typed(self, message: ConfirmDialog.UnlockTyped) -> None:
        self.mitigations.unlock_typed(message)
    def on_action_recorded(self, _: ActionRecorded) -> None:
        self.views.show_actions()

    # --- the screen's own events ------------------------------------------------
    @on(BreakerBoard.ServiceSelected)
    def _selected(self, message: BreakerBoard.ServiceSelected) -> None:
        self.views.selected(message.service)
        self.diagnosis.selected(message.service)

    def on_tabbed_content_tab_activated(self, _: TabbedContent.TabActivated) -> None:
        self.refresh_views()  # a pane not drawn while hidden is drawn now

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.selection.filter(event.value)
    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.selection.filter_submitted(event)

    # --- the keys (BINDINGS), each to the controller that owns the job ----------
    def action_quit(self) -> None:
        self.mitigations.quit()
    def action_help(self) -> None:
        self.views.show_help()
    def action_act(self, action: str) -> None:
        self.mitigations.act(action)
    def action_diagnose(self) -> None:
        self.diagnosis.diagnose()
    def action_acknowledge(self) -> None:
        self.incidents.acknowledge()
    def action_note(self) -> None:
        self.incidents.note()
    def action_amend_note(self) -> None:
        self.incidents.amend_note()
    def action_root_cause(self) -> None:
        self.incidents.root_cause()
    def action_resolve(self) -> None:
        self.incidents.resolve()
    def action_export(self) -> None:
        self.incidents.export()
    def action_split(self) -> None:
        self.incidents.split()
    def action_escalation(self) -> None:
        self.incidents.show_escalation()
    def action_pane(self, pane: str) -> None:
        self.selection.show_pane(pane)
    def action_filter(self) -> None:
        self.selection.open_filter()
    def action_clear_filter(self) -> None:
        self.selection.clear_filter()
    def action_sites(self) -> None:
        self.selection.toggle_group()
    def check_action(self, action: str, parameters) -> bool | None:
        # The sites key is for a board of more than one site only.
        return self.selection.grouped() if action == "sites" else True
    def action_poll_now(self) -> None:
        self.poller.start()
    def action_login(self) -> None:
        self.relogin.login()
