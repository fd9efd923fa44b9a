"""The Textual application: polls the breaker source in a thread worker and
keeps the board, the detail pane and the header up to date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Input

from console.clock import Clock, system_clock
from console.history import FleetHistory
from console.model import Alert, FleetSnapshot
from console.sources.base import BreakerSource, ClusterSource, FlagSource, SourceError
from widgets.board import BreakerBoard
from widgets.detail import ServiceDetail
from widgets.help import HelpScreen
from widgets.status import StatusLine

STALE_AFTER_POLLS = 3
MAX_BACKOFF_S = 10.0  # an outage's end must show within seconds


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
    BreakerBoard { height: 1fr; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("slash", "filter", "Filter", key_display="/", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
        Binding("p", "poll_now", "Poll now", id="poll-now"),
    ]

    def __init__(
        self,
        source: BreakerSource,
        *,
        cluster: ClusterSource | None = None,
        cluster_unavailable: str = "cluster features unavailable",
        flags: FlagSource | None = None,
        poll_interval: float = 2.0,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__()
        self.source = source
        self.cluster = cluster
        self.cluster_unavailable = cluster_unavailable  # why there is no cluster
        self.flags = flags
        self.poll_interval = poll_interval
        self.clock = clock
        self.history = FleetHistory()
        self.snapshot: FleetSnapshot | None = None
        self.poll_state = PollState()
        self._next_poll = None

    # --- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield BreakerBoard(id="board")
        yield ServiceDetail(id="detail")
        yield Input(placeholder="filter services by name (enter keeps, escape clears)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self._opened_at = self.clock()
        self.query_one(BreakerBoard).focus()
        self.refresh_views()
        # Ages and countdowns move every second; STALE must show on time even
        # with a fast poll.
        self.set_interval(min(1.0, self.poll_interval), self.refresh_views, name="tick")
        self.start_poll()

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

    def _views_mounted(self) -> bool:
        """False while the app is still composing or already tearing down: a
        poll or a selection that lands then has nothing to draw on."""
        try:
            return bool(self.query(ServiceDetail))
        except ScreenStackError:
            return False

    def refresh_views(self) -> None:
        if not self._views_mounted():
            return
        now = self.clock()
        stale = self.stale_reason(now)
        snapshot = self.snapshot
        self.query_one(StatusLine).show(
            source=self.source.label,
            cluster=self.cluster.label if self.cluster else f"none ({self.cluster_unavailable})",
            last_good=self.poll_state.last_good_at,
            now=now,
            stale_reason=stale,
            error=self.poll_state.error,
            alerts=tuple(a for a in snapshot.alerts if a.service is None) if snapshot else (),
            notices=snapshot.notices if snapshot else (),
        )
        board = self.query_one(BreakerBoard)
        detail = self.query_one(ServiceDetail)
        for widget in (board, detail):
            widget.set_class(stale is not None, "-stale")
        alerts = self.service_alerts()
        if snapshot is not None:
            series = {s.service: self.history.error_series(s.service) for s in snapshot.services}
            board.show(snapshot.services, series, now, alerts)
        self._show_detail(board.selected_service, now, alerts)

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
        self.query_one(ServiceDetail).show(service, transitions, now, alert)

    @on(BreakerBoard.ServiceSelected)
    def _selected(self, message: BreakerBoard.ServiceSelected) -> None:
        if self._views_mounted():
            self._show_detail(message.service, self.clock())

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
        field = self.query_one("#filter", Input)
        field.add_class("-active")
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.remove_class("-active")
        self._apply_filter("")
        self.query_one(BreakerBoard).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.remove_class("-active")
        self.query_one(BreakerBoard).focus()

    def _apply_filter(self, value: str) -> None:
        self.query_one(BreakerBoard).filter_text = value
        self.refresh_views()

    def action_poll_now(self) -> None:
        self.start_poll()
