"""The breaker board: one row per service, worst first, updated in place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from console.model import Alert, BreakerState, ServiceStatus
from widgets import text as fmt

TREND_WIDTH = 10
NAME_MAX = 48  # cells: a longer (hostile) name is cut, the state stays on screen
# (key, title, width): fixed widths, so an update never re-measures a column
# (Textual measures every row of it: at thousands of rows that is what a poll
# would cost). The name sizes itself once, when a row is added.
COLUMNS = (
    ("service", "SERVICE", None),
    ("state", "STATE", 11),
    ("alert", "ALERT", 7),
    ("inst", "INST", 5),
    ("in_state", "FOR", 6),
    ("err", "ERR%", 6),
    ("fail", "FAIL/s", 6),
    ("ok", "OK/s", 5),
    ("rej", "REJ/s", 5),
    ("trend", "ERR% TREND", TREND_WIDTH),
    ("probe", "NEXT PROBE", 10),
    ("last", "LAST TRANSITION", 25),  # 09:00:05 HALF-OPEN→CLOSED; rarer ones are cut
)
WIDTH = {key: width for key, _, width in COLUMNS}


def right(value: str, column: str) -> str:
    """A right-aligned plain cell. Plain strings are cheap to compare and are
    only parsed when painted; they hold numbers and durations we formatted,
    never a label value (those are Text, literal)."""
    return value.rjust(WIDTH[column])


def rate(value: float | None, column: str) -> str:
    return right(fmt.rate_str(value), column)


class _ServiceCell(Text):
    """The service name, carrying the row's sort key (DataTable sorts on cell values)."""

    sort_key: tuple = ()


def sort_key(service: ServiceStatus) -> tuple:
    """Worst class first; by name within a class, so rows do not jump about."""
    return (service.state.rank, service.service)


def name_cell(service: ServiceStatus) -> _ServiceCell:
    name = _ServiceCell(fmt.literal(service.service), no_wrap=True, overflow="ellipsis")
    name.truncate(NAME_MAX, overflow="ellipsis")
    name.sort_key = sort_key(service)
    return name


def alert_cell(alert: Alert | None) -> Text:
    if alert is None:
        return Text("")
    if alert.state == "firing":
        return Text("FIRING", style="bold white on red")
    return Text("pending", style="yellow")


def row_cells(
    service: ServiceStatus,
    series: list[float | None],
    now: datetime,
    alert: Alert | None = None,
) -> tuple[Text | str, ...]:
    state = service.state
    count, total = service.split
    probe = ""
    if state == BreakerState.OPEN:
        probe = fmt.countdown(service.next_probe, now)
    elif state == BreakerState.HALF_OPEN:
        probe = "probing"
    last = service.last_transition
    last_text = (
        Text.assemble(
            fmt.clock_time(last.at),
            " ",
            (last.from_state.label, fmt.STATE_STYLE[last.from_state]),
            "→",
            (last.to_state.label, fmt.STATE_STYLE[last.to_state]),
        )
        if last
        else Text("—", style="dim")
    )
    return (
        name_cell(service),
        fmt.state_text(state),
        alert_cell(alert),
        right(f"{count}/{total}", "inst"),
        right(fmt.since(service.since, now), "in_state"),
        fmt.percent(service.error_percent),
        rate(service.failure_rate, "fail"),
        rate(service.success_rate, "ok"),
        rate(service.rejected_rate, "rej"),
        fmt.sparkline(series, TREND_WIDTH),
        probe,
        last_text,
    )


class BreakerBoard(DataTable):
    """Shows services; knows nothing of where they come from."""

    DEFAULT_CSS = """
    BreakerBoard.-stale { tint: $background 45%; }
    """

    class ServiceSelected(Message):
        def __init__(self, service: str | None) -> None:
            self.service = service
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.filter_text = ""
        self._cells: dict[str, tuple[Text | str, ...]] = {}  # as drawn
        self._inputs = None  # the last show()'s, to draw rows scrolled into view
        # Until the operator picks a row, the cursor stays on the top (worst)
        # one; after that it follows the service they picked.
        self._follow = False
        self._updating = False

    def watch_cursor_coordinate(self, old, new) -> None:
        super().watch_cursor_coordinate(old, new)
        if not self._updating:
            self._follow = True

    def on_mount(self) -> None:
        for key, title, width in COLUMNS:
            self.add_column(title, key=key, width=width)

    def pin(self) -> None:
        """The operator acted on the selected row: from now on the cursor
        follows that service, not whatever becomes the top row."""
        self._follow = True

    @property
    def selected_service(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    @property
    def services_shown(self) -> list[str]:
        """Row keys in display order."""
        return [row.key.value for row in self.ordered_rows]

    def show(
        self,
        services: Sequence[ServiceStatus],
        series: Mapping[str, list[float | None]],
        now: datetime,
        alerts: Mapping[str, Alert] | None = None,
    ) -> None:
        """Bring the rows up to date: sorted worst first, the cursor on the
        service it was on, and only the rows on screen redrawn (a row is
        drawn when it scrolls into view): at thousands of rows, building
        and updating every cell each second is what would stall the keys."""
        needle = self.filter_text.casefold()
        shown = {s.service: s for s in services if needle in s.service.casefold()}
        self._inputs = (shown, series, now, alerts or {})
        before = self.selected_service
        selected = before if self._follow else None
        self._updating = True
        with self.app.batch_update():
            for gone in [k for k in self._cells if k not in shown]:
                self.remove_row(gone)
                del self._cells[gone]
            for key, service in shown.items():
                old = self._cells.get(key)
                if old is None:
                    cells = self._row(service)
                    self.add_row(*cells, key=key)
                    self._cells[key] = cells
                    continue
                name = name_cell(service)  # it carries the sort key: always current
                if name != old[0] or name.sort_key != old[0].sort_key:
                    self.update_cell(key, "service", name, update_width=False)
                    self._cells[key] = (name, *old[1:])
            order = sorted(shown, key=lambda k: sort_key(shown[k]))
            if order != self.services_shown:
                self.sort("service", key=lambda cell: cell.sort_key)
            row = self.get_row_index(selected) if selected in shown else 0
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False, scroll=selected is None)
            self._draw_visible()
        self._updating = False
        if self.selected_service != before:
            self.post_message(self.ServiceSelected(self.selected_service))

    def _row(self, service: ServiceStatus) -> tuple[Text | str, ...]:
        _, series, now, alerts = self._inputs
        return row_cells(service, series.get(service.service, []), now,
                         alerts.get(service.service))

    def _draw_visible(self) -> None:
        """The newest cells for the rows on screen, and a margin."""
        if self._inputs is None:
            return
        shown = self._inputs[0]
        top, margin = int(self.scroll_y), 10
        for row in self.ordered_rows[max(0, top - margin): top + self.size.height + margin]:
            key = row.key.value
            service = shown.get(key)
            if service is None:
                continue
            cells = self._row(service)
            for (column, _, _), new, was in zip(COLUMNS, cells, self._cells[key]):
                if new != was:
                    self.update_cell(key, column, new, update_width=False)
            self._cells[key] = cells

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._draw_visible()

    def on_resize(self) -> None:
        self._draw_visible()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.ServiceSelected(event.row_key.value))
