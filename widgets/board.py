"""The breaker board: one row per service, worst first, updated in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual._segment_tools import line_crop
from textual.coordinate import Coordinate
from textual.message import Message
from textual.strip import Strip
from textual.widgets import DataTable

from console.model.fleet import Alert, BreakerState, ServiceStatus
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
# Where the terminal is too narrow for every column, these go first (least
# important first), so the state and rates (SERVICE, STATE, ERR%, REJ/s)
# stay on screen instead of being cut off on the right.
DROP_ORDER = ("last", "trend", "in_state", "ok", "fail", "inst", "alert", "probe")


def columns_for(width: int, name_width: int, padding: int = 1) -> tuple[int, ...]:
    """The indexes into COLUMNS of the columns shown `width` cells wide,
    the name column `name_width` cells (its padding included)."""
    shown = list(range(len(COLUMNS)))
    need = name_width + sum(w + 2 * padding for _, _, w in COLUMNS[1:])
    index = {key: i for i, (key, _, _) in enumerate(COLUMNS)}
    for key in DROP_ORDER:
        if need <= width:
            break
        shown.remove(index[key])
        need -= WIDTH[key] + 2 * padding
    return tuple(shown)


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


def matches(name: str, needle: str) -> bool:
    """The board's filter: `needle` (casefolded) anywhere in the name."""
    return needle in name.casefold()


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


def cell_line(value: Text | str, width: int, padding: int, pre: Style, post: Style,
              console) -> list[Segment]:
    """One board cell as DataTable draws a one-line cell (Styled(Padding(cell)),
    cut to the width), without its general layout machinery, which costs ten
    times as much. A str cell is one of our own figures: no markup in it."""
    text = value.copy() if isinstance(value, Text) else Text(value)
    inner = max(0, width - 2 * padding)
    # As rich's Lines.justify does it (the padding takes the text's style).
    if text.justify in ("right", "center"):
        text.rstrip()
        text.truncate(inner)
        fill = inner - text.cell_len
        text.pad_left(fill if text.justify == "right" else fill // 2)
        text.pad_right(inner - text.cell_len)
    else:
        text.truncate(inner)
    line = Text()
    line.append(text)  # its own style becomes a span, as rich's wrapping does
    segments = [Segment(" " * padding), *line.render(console)]
    fill = inner - line.cell_len + padding
    if fill:
        segments.append(Segment(" " * fill))
    return list(Segment.apply_style(segments, pre, post))


class BreakerBoard(DataTable):
    """Shows services; knows nothing of where they come from."""

    DEFAULT_CSS = """
    BreakerBoard.-stale { tint: $background 45%; }
    """
    # DataTable's home/end scroll sideways (a row cursor has no column to
    # move to) and hide the names: here they select the first / last row.
    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    class ServiceSelected(Message):
        def __init__(self, service: str | None) -> None:
            self.service = service
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.filter_text = ""
        self._cells: dict[str, tuple[Text | str, ...]] = {}  # every column's, as drawn
        self._visible: tuple[int, ...] = ()  # the columns shown (columns_for)
        self._name_width = 0  # the widest name's cells
        self._inputs = None  # the last show()'s, to draw rows scrolled into view
        self._services: Sequence[ServiceStatus] = ()  # as last shown, and the filter then
        self._needle = ""
        # The selection is a service: the operator's pick once they moved
        # the cursor, before that the one the incident is about (`about`,
        # from show()), else the one selected so far (the worst row at
        # first). Rows re-sorting never change it.
        self._chosen: str | None = None
        self._about: str | None = None
        self._updating = False
        # (row, column, how it is drawn) -> (the cell value, its lines): the
        # cells on screen (840 on a 250x70 terminal) and their cursor variants.
        self._rendered: LRUCache[tuple, tuple[object, list]] = LRUCache(2048)
        # DataTable's line and row caches are keyed by its update count: with
        # updates every second, nearly all of their 1,000 entries are dead
        # lines, tens of thousands of objects that every full collection
        # walks (130 ms at 5,000 breakers). A few screens' worth is enough.
        for name in ("_row_render_cache", "_row_renderable_cache", "_line_cache"):
            setattr(self, name, LRUCache(256))
        # (row, how it is drawn) -> (the row's cells tuple, its line)
        self._lines: LRUCache[tuple, tuple[tuple, Strip]] = LRUCache(256)

    def watch_cursor_coordinate(self, old, new) -> None:
        super().watch_cursor_coordinate(old, new)
        if not self._updating:  # the operator moved it (keys or mouse)
            self._chosen = self.selected_service

    def on_mount(self) -> None:
        # The board spans the screen: its width is not known before layout.
        self._layout_columns(self.app.size.width)

    def _layout_columns(self, width: int | None = None) -> None:
        """Show the columns that fit; when that changes, the table is built
        again from the cells kept (a resize across a threshold, or a longer
        name arriving at a narrow width)."""
        if width is None:
            width = self.scrollable_content_region.width or self.app.size.width
        name = max(self._name_width, len(COLUMNS[0][1])) + 2 * self.cell_padding
        visible = columns_for(width, name, self.cell_padding)
        if visible == self._visible:
            return
        self._visible = visible
        selected = self.selected_service
        updating, self._updating = self._updating, True
        with self.app.batch_update():
            self.clear(columns=True)
            for index in visible:
                key, title, column_width = COLUMNS[index]
                self.add_column(title, key=key, width=column_width)
            for key in sorted(self._cells, key=lambda k: self._cells[k][0].sort_key):
                self.add_row(*self._project(self._cells[key]), key=key)
            if selected in self._cells:
                self.move_cursor(row=self.get_row_index(selected), animate=False)
        self._updating = updating

    def _project(self, cells: tuple) -> tuple:
        """A row's cells for the columns shown."""
        if len(self._visible) == len(COLUMNS):
            return cells
        return tuple(cells[index] for index in self._visible)

    def pin(self) -> None:
        """The operator acted on the selected row: from now on the cursor
        follows that service, whatever the incident is about."""
        self._chosen = self.selected_service

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
        series: Callable[[str], list[float | None]],
        now: datetime,
        alerts: Mapping[str, Alert] | None = None,
        about: str | None = None,
    ) -> None:
        """Bring the rows up to date: sorted worst first, the cursor on the
        selected service, and only the rows on screen redrawn (a row is
        drawn when it scrolls into view): at thousands of rows, building
        and updating every cell each second is what would stall the keys.
        `series(service)` gives a row's error trend, asked for rows drawn;
        `about` is the service the open incident is about, if any."""
        needle = self.filter_text.casefold()
        alerts = alerts or {}
        if (self._inputs is not None and services is self._services
                and needle == self._needle and alerts == self._inputs[3]
                and about == self._about):
            # The same poll a second later: only the ages and countdowns move.
            self._inputs = (self._inputs[0], series, now, alerts)
            with self.app.batch_update():
                self._draw_visible()
            return
        self._services, self._needle, self._about = services, needle, about
        shown = {s.service: s for s in services if matches(s.service, needle)}
        self._inputs = (shown, series, now, alerts)
        before = self.selected_service
        self._updating = True
        with self.app.batch_update():
            for gone in [k for k in self._cells if k not in shown]:
                self.remove_row(gone)
                del self._cells[gone]
            for key, service in shown.items():
                old = self._cells.get(key)
                if old is None:
                    cells = self._row(service)
                    self.add_row(*self._project(cells), key=key)
                    self._cells[key] = cells
                    self._name_width = max(self._name_width, cells[0].cell_len)
                    continue
                # A row's name is its key; only the sort key it carries can change.
                if sort_key(service) != old[0].sort_key:
                    name = name_cell(service)
                    self.update_cell(key, "service", name, update_width=False)
                    self._cells[key] = (name, *old[1:])
            self._layout_columns()  # a longer name may leave less room
            order = sorted(shown, key=lambda k: sort_key(shown[k]))
            if order != self.services_shown:
                self.sort("service", key=lambda cell: cell.sort_key)
            target = next((name for name in (self._chosen, about, before) if name in shown), None)
            row = self.get_row_index(target) if target is not None else 0
            if row != self.cursor_row:
                # The operator's pick stays where they scrolled the view.
                self.move_cursor(row=row, animate=False, scroll=target != self._chosen)
            self._draw_visible()
        self._updating = False
        if self.selected_service != before:
            self.post_message(self.ServiceSelected(self.selected_service))

    def _row(self, service: ServiceStatus) -> tuple[Text | str, ...]:
        _, series, now, alerts = self._inputs
        return row_cells(service, series(service.service), now,
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
            old = self._cells[key]
            cells, changed = list(old), False
            for index, ((column, _, _), new, was) in enumerate(zip(COLUMNS, self._row(service), old)):
                if new != was:
                    if index in self._visible:
                        self.update_cell(key, column, new, update_width=False)
                    cells[index], changed = new, True
            if changed:
                # A new tuple: the row's line is drawn again, its unchanged
                # cells (the same objects) from their cached lines.
                self._cells[key] = tuple(cells)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A board line, kept while its row's cells are the same tuple. After
        any update DataTable draws every line on screen again (its line
        caches count updates table-wide): the clock's tick, which ages every
        row, and each poll. Here an unchanged row is one lookup, and a
        changed one is its cells side by side as DataTable lays them out for
        a row cursor without fixed columns, labels or zebra stripes (the
        board's; anything else takes DataTable's path).
        test_lines_are_drawn_as_datatable_draws_them holds it to that."""
        width = self.size.width
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        if (self.cursor_type != "row" or self.fixed_columns or self.fixed_rows
                or self.zebra_stripes or self._labelled_row_exists):
            return super()._render_line(y, x1, x2, base_style)
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        drawn = (x1, x2, width, widths, base_style, self.show_cursor, self._show_hover_cursor,
                 self._pseudo_class_state)
        if row_key is self._header_row_key:  # the same titles: kept while drawn the same
            key = ("header", self._visible, self.hover_coordinate, self.cursor_coordinate.row,
                   *drawn)
            hit = self._lines.get(key)
            if hit is None:
                hit = self._lines[key] = (COLUMNS, super()._render_line(y, x1, x2, base_style))
            return hit[1]
        cells = self._cells.get(row_key.value)
        if cells is None:
            return super()._render_line(y, x1, x2, base_style)
        row_index = self._row_locations.get(row_key)
        cursor = self.cursor_coordinate.row == row_index
        hover = self.hover_coordinate.row == row_index
        key = (row_key, line_no, row_index, cursor, hover, *drawn)
        hit = self._lines.get(key)
        if hit is not None and hit[0] is cells:
            return hit[1]
        segments: list[Segment] = []
        for column_index, (value, column_width) in enumerate(zip(self._project(cells), widths)):
            segments += self._cell_lines(value, row_key, row_index, column_index, base_style,
                                         column_width, cursor, hover)[line_no]
        extend, _ = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            False, False,
        )
        extend = base_style + extend + Style.from_meta(
            {"row": row_index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, width - sum(widths)), extend))
        strip = Strip(line_crop(segments, x1, x2, width)).adjust_cell_length(
            width, base_style).simplify()
        self._lines[key] = (cells, strip)
        return strip

    def _render_cell(self, row_index: int, column_index: int, base_style, width: int,
                     cursor: bool = False, hover: bool = False):
        """DataTable renders every cell again after any update (its caches
        count updates table-wide), and the board updates some cells every
        second: each frame rendered every cell on screen through rich's
        layout, the bulk of what a key press waited behind at 5,000
        breakers. Here a cell's lines are kept while its value is the same
        object (update_cell puts a new one), and drawn by cell_line. (The
        private names are textual 8.2.8's, which pyproject pins; the board
        snapshots and test_cells_are_drawn_as_datatable_draws_them fail if
        the drawing ever differs.)"""
        if row_index < 0 or column_index < 0:  # the header
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key, column_key = self.coordinate_to_cell_key(Coordinate(row_index, column_index))
        return self._cell_lines(self.get_cell(row_key, column_key), row_key, row_index,
                                column_index, base_style, width, cursor, hover)

    def _cell_lines(self, value, row_key, row_index: int, column_index: int, base_style,
                    width: int, cursor: bool, hover: bool) -> list:
        key = (row_key, row_index, column_index, base_style, width, cursor, hover,
               self._show_hover_cursor, self._pseudo_class_state)
        hit = self._rendered.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        lines = [cell_line(value, width, self.cell_padding, pre, post, self.app.console)]
        self._rendered[key] = (value, lines)
        return lines

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered.clear()
        self._lines.clear()

    def notify_style_update(self) -> None:
        self._rendered.clear()  # a theme or focus change restyles every cell
        self._lines.clear()
        super().notify_style_update()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._draw_visible()

    def on_resize(self) -> None:
        self._layout_columns()
        self._draw_visible()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.ServiceSelected(event.row_key.value))
