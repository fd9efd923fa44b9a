"""Drawing the main screen from the controllers' state: the header, the
board, the panes. Reads the controllers; changes none of them."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import datetime

from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widget import MountError
from textual.widgets import TabbedContent, TabPane

from console import logfile
from console.clock import Clock
from console.mitigations.plan import Mode
from console.model.fleet import Alert, alerts_by_row, row_alert
from console.ports import BreakerSource, ClusterSource
from console.ui.diagnosis_flow import DiagnosisController
from console.ui.incident_flow import IncidentController
from console.ui.journal_bridge import JournalBridge
from console.ui.keys import MITIGATION_KEYS
from console.ui.mitigation_flow import MitigationController
from console.ui.poller import Poller
from console.ui.selection import Selection
from console.ui.timeline_view import TimelineView
from widgets.actionlog import ActionLog
from widgets.board import BreakerBoard
from widgets.detail import ServiceDetail
from widgets.diagnosis import DiagnosisPane
from widgets.footer import KeyFooter
from widgets.status import StatusLine, filter_view
from widgets.timeline import TimelinePane

log = logging.getLogger(__name__)

#: The widgets' own navigation keys, after the app's bindings in the help.
NAVIGATION_HELP = [
    ("↑ ↓ pgup pgdn home end", "Select a service"),
    ("enter", "Keep the filter (in the filter field)"),
    ("tab shift+tab", "Move focus"),
    ("^p", "Command palette"),
    ("^q", "Quit"),
]


class ScreenView:
    """Draws what `poller`, `diagnosis`, `mitigations`, `journal` and
    `incidents` hold, on `selection`'s main screen of `app`."""

    def __init__(self, app: App, *, selection: Selection, poller: Poller,
                 diagnosis: DiagnosisController, mitigations: MitigationController,
                 journal: JournalBridge, incidents: IncidentController, source: BreakerSource,
                 cluster: ClusterSource | None, cluster_unavailable: str, mode: Mode,
                 warnings: tuple[str, ...], clock: Clock) -> None:
        self.app = app
        self.selection = selection
        self.poller = poller
        self.diagnosis = diagnosis
        self.mitigations = mitigations
        self.journal = journal
        self.incidents = incidents
        self.source = source
        self.cluster = cluster
        self.cluster_unavailable = cluster_unavailable
        self.mode = mode
        self.warnings = warnings  # shown in the header for good (TLS verification off)
        self.clock = clock
        self.timeline = TimelineView()
        self._log_unavailable_said = False  # said once a session
        self._grouped = False

    async def mount_rest(self) -> None:
        """What the first frame does not show follows it: the board is what
        the operator waits for. Until then the views skip these panes."""
        try:
            for pane, widget in (("#diagnosis", DiagnosisPane(id="diagnosis-pane")),
                                 ("#actions", ActionLog(id="action-log-pane")),
                                 ("#timeline", TimelinePane(id="timeline-pane"))):
                await self.selection.view(pane, TabPane).mount(widget)
            await self.app.mount(KeyFooter())
        except (MountError, NoMatches):
            log.debug("quit before the first frame was out", exc_info=True)
            return  # quit before the first frame was out
        self.refresh()

    def say_log_unavailable(self) -> None:
        """Once: the log file could not be written (the console carries on)."""
        words = logfile.unavailable_words()
        if words and not self._log_unavailable_said:
            self._log_unavailable_said = True
            self.app.notify(words, severity="warning", timeout=15)

    def cluster_words(self) -> str:
        """The context, and how its credentials stand (where they come from,
        when they expire, why they failed), for the header."""
        sites = self.mitigations.sites
        if sites.several:  # each site's context: the actions go to the row's
            return ", ".join(f"{site.name} {site.context or 'none'}"
                             for site in sites.sites.values())
        if not self.cluster:
            return f"none ({self.cluster_unavailable})"
        words = getattr(self.cluster, "credential_words", None)
        return f"{self.cluster.label} ({words()})" if words else self.cluster.label

    def refresh(self) -> None:
        try:
            self._refresh()
        except NoMatches:
            pass  # the app is tearing down: its widgets are going one by one

    def _refresh(self) -> None:
        if not self.selection.mounted():
            return
        view = self.selection.view
        now = self.clock()
        stale = self.poller.stale_reason(now)
        state = self.poller.state
        snapshot = self.poller.snapshot
        board = view(BreakerBoard)
        view(StatusLine).show(
            source=self.source.label,
            cluster=self.cluster_words(),
            last_good=state.last_good_at,
            now=now,
            stale_reason=stale,
            error=state.error,
            alerts=tuple(a for a in snapshot.alerts if a.service is None) if snapshot else (),
            pager=snapshot.pager if snapshot else None,  # Alertmanager's view of the page
            production=self.mitigations.locks.states(  # issue 18: locked / unlocked
                tuple(site.context for site in self.mitigations.sites.sites.values())),
            notices=snapshot.notices if snapshot else (),
            mode=None if self.mode == Mode.LIVE else self.mode.value,
            response=self.incidents.response_view(now),
            journal_problem=self.journal.problem(),
            warnings=self.warnings,
            filtered=filter_view(snapshot.services, board.filter_text)
            if snapshot is not None and board.filter_text else None,
            running=tuple(f"{words}: {progress.message}"
                          for words, progress in self.mitigations.running().items()),
            sources=snapshot.sources if snapshot else (),
            # A site configured read_only, in a console that can act elsewhere.
            read_only_sites=frozenset() if self.mode == Mode.READ_ONLY else frozenset(
                name for name, site in self.mitigations.sites.sites.items() if site.read_only),
        )
        detail = view(ServiceDetail)
        for widget in (board, detail):
            widget.set_class(stale is not None, "-stale")
        alerts = alerts_by_row(snapshot.alerts if snapshot else ())
        if snapshot is not None:
            board.show(snapshot.services, self.poller.history.error_series, now, alerts,
                       about=self.incidents.about(), sources=snapshot.sources,
                       layout=self.poller.prepared)
        if board.grouped != self._grouped:  # the sites key comes and goes with sites
            self._grouped = board.grouped
            self.app.refresh_bindings()
        self.show_detail(board.selected_service, now, alerts)
        self.show_actions()
        if view("#panes", TabbedContent).active == "timeline":
            # Hundreds of events and services: drawn when it can be seen.
            self.timeline.draw(view(TimelinePane), self.incidents.tracker(), snapshot, now)

    def show_detail(self, service_name: str | None, now: datetime,
                    alerts: dict[tuple[str, str], Alert] | None = None) -> None:
        snapshot = self.poller.snapshot
        key = self.selection.key()  # the row's (site, service): a service runs in several
        site = key[0] if key and key[1] == service_name else None
        service = None
        if snapshot and service_name:
            service = snapshot.by_key.get((site, service_name)) or snapshot.service(service_name)
        if service is not None:
            site = service.site
        transitions = self.poller.history.transitions(service_name, site) if service_name else []
        if alerts is None:
            alerts = alerts_by_row(snapshot.alerts if snapshot else ())
        alert = row_alert(alerts, site or "", service_name) if service_name else None
        self.selection.view(ServiceDetail).show(
            service, transitions, now, alert, snapshot.half_open_note if snapshot else None,
            snapshot.source_of(site) if snapshot and site is not None else None)
        self._draw_diagnosis(service_name, now)

    def selected(self, service: str | None) -> None:
        """The cursor moved to `service`: its detail (late messages after
        the screens are gone draw nothing)."""
        if self.selection.mounted():
            with suppress(NoMatches):  # tearing down
                self.show_detail(service, self.clock())

    def show_diagnosis(self, service: str | None) -> None:
        with suppress(NoMatches):  # tearing down
            self._draw_diagnosis(service, self.clock())

    def _draw_diagnosis(self, service: str | None, now: datetime) -> None:
        diagnosis = self.diagnosis
        key = self.selection.key() if service else None  # the row's (site, service)
        self.selection.view(DiagnosisPane).show(
            diagnosis.of(key),
            now,
            service=service,
            loading=key in diagnosis.gathering,
            error=diagnosis.errors.get(key) if key else None,
            keys=MITIGATION_KEYS,
        )

    def show_actions(self) -> None:
        with suppress(NoMatches):  # tearing down
            if self.selection.mounted():
                self.selection.view(ActionLog).show(self.mitigations.recorder.events,
                                                    self.mitigations.running())

    def show_help(self) -> None:
        """The app's own bindings, straight from BINDINGS, then the widgets'
        navigation keys in one line each."""
        rows = [(self.app.get_key_display(binding), binding.tooltip or binding.description)
                for binding in self.app.BINDINGS if isinstance(binding, Binding)]
        from widgets.help import HelpScreen  # not needed for the first frame

        self.app.push_screen(HelpScreen(rows + NAVIGATION_HELP))
