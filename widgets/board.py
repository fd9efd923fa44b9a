"""The breaker board: one row per service (per site and service with more
than one site, a service's sites grouped), worst first, updated in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.model.fleet import Alert, ServiceStatus, SourceStatus
from widgets.boardselect import BoardSelection
from widgets.boardlines import PADDING, Lines
from widgets.boardrows import (  # noqa: F401  (matches, cell_line: the status line's, the tests')
    COLUMNS, WIDTH, Layout, Rows, cell_line, columns_for, lay_out, matches,
)

HEADER = "breaker-board--header"
CURSOR = "breaker-board--cursor"
HOVER = "breaker-board--hover"
STALE_ROW = "breaker-board--stale-row"  # a row whose source is STALE: greyed


class BreakerBoard(BoardSelection, ScrollView, can_focus=True):
    """Shows services; knows nothing of where they come from.

    A header row that stays put and a row per service under it, drawn a line
    at a time (Textual's Line API): only the lines on screen are drawn, a
    row's cells are brought up to date when its line is drawn, and each line
    is kept while its row's cells, the cursor and the look are the same. At
    thousands of services a poll or a key press costs the rows on screen."""

    COMPONENT_CLASSES = {HEADER, CURSOR, HOVER, STALE_ROW}
    DEFAULT_CSS = """
    BreakerBoard {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .breaker-board--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .breaker-board--header { background-tint: $foreground 5%; }
        }
        & > .breaker-board--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .breaker-board--header { background: ansi_bright_blue; color: ansi_default; }
        & > .breaker-board--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .breaker-board--hover { background: $block-hover-background; }
        & > .breaker-board--stale-row { color: $text-disabled; }
        &.-stale { tint: $background 45%; }
    }
    """
    BINDINGS = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first_row", "First row", show=False),
        Binding("end,ctrl+end", "last_row", "Last row", show=False),
    ]

    class ServiceSelected(Message):
        def __init__(self, service: str | None, key: tuple[str, str] | None = None) -> None:
            self.service = service
            self.key = key if key is not None or service is None else ("", service)
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filter_text = ""
        self._rows = Rows()  # the services shown, worst first, and their cells
        self._visible: tuple[int, ...] = ()  # the columns shown (columns_for)
        self._widths: tuple[int, ...] = ()  # theirs, padding included
        self._cursor = 0  # a row
        self._hover: int | None = None  # the row under the mouse
        self._frame_styles: dict[str | None, Style] | None = None  # while a frame draws
        # The selection is a service: the operator's pick once they moved
        # the cursor, before that the one the incident is about (`about`,
        # from show()), else the one selected so far (the worst row at
        # first). Rows re-sorting never change it.
        self._chosen: tuple | None = None  # a row's key
        self._expanded: frozenset[str] = frozenset()  # the groups shown site by site
        self._sources: tuple = ()  # the snapshot's source health, as last shown
        self._show_args = None  # show()'s last data, for a fold or unfold
        self._lines = Lines()  # each line drawn, kept while what it shows is the same

    # --- what is selected ---------------------------------------------------------

    @property
    def selected_service(self) -> str | None:
        order = self._rows.order
        return order[self._cursor][1] if order else None

    @property
    def services_shown(self) -> list[str]:
        """The services in display order (a name per line: a group's line, its sites')."""
        return [key[1] for key in self._rows.order]

    @property
    def row_count(self) -> int:
        return len(self._rows.order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Select a row, as the operator's arrow keys do."""
        self._move(row, animate)

    def _move(self, row: int, animate: bool = False) -> None:
        if not self._rows.order:
            return
        row = max(0, min(row, len(self._rows.order) - 1))
        if row == self._cursor:
            return
        old, self._cursor = self._cursor, row
        self.refresh_line(old + 1)
        self.refresh_line(row + 1)
        self._scroll_cursor_into_view(animate)
        self._chosen = self._row_key()  # the operator moved it
        self._post_selected()

    def _post_selected(self) -> None:
        self.post_message(self.ServiceSelected(self.selected_service, self.selected_key))

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        region = Region(int(self.scroll_x), self._cursor + 1, max(1, sum(self._widths)), 1)
        # The header covers the top line of the view.
        self.scroll_to_region(region, spacing=Spacing(top=1), animate=animate, force=True,
                              immediate=not animate)

    # --- keys and mouse -------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._set_hover(None)
        self._move(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_hover(None)
        self._move(self._cursor + 1)

    def action_first_row(self) -> None:
        self._set_hover(None)
        self._move(0)

    def action_last_row(self) -> None:
        self._set_hover(None)
        self._move(len(self._rows.order) - 1)

    def action_page_down(self) -> None:
        self._page(1)

    def action_page_up(self) -> None:
        self._page(-1)

    def _page(self, direction: int) -> None:
        """A page of rows (the view under the header), the view with them."""
        self._set_hover(None)
        page = max(1, self.scrollable_content_region.height - 1)
        self.scroll_relative(y=direction * page, animate=False, force=True, immediate=True)
        self._move(self._cursor + direction * page)

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is not None:
            event.stop()
            self._set_hover(row)
            self._move(row, animate=True)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self, event: events.Leave) -> None:
        self._set_hover(None)

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row under the mouse (the header is none)."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        row = self.scroll_offset.y + offset.y - 1
        return row if row < len(self._rows.order) else None

    def _set_hover(self, row: int | None) -> None:
        if row == self._hover:
            return
        for line in (self._hover, row):
            if line is not None:
                self.refresh_line(line + 1)
        self._hover = row

    # --- content --------------------------------------------------------------------

    def show(
        self,
        services: Sequence[ServiceStatus],
        series: Callable[[str], list[float | None]],
        now: datetime,
        alerts: Mapping[tuple[str, str], Alert] | None = None,  # fleet.alerts_by_row
        about: str | None = None,
        sources: tuple = (),
        layout: Layout | None = None,
    ) -> None:
        """Bring the rows up to date: sorted worst first, the cursor on the
        selected service. A row's cells are made when its line is drawn:
        `series(service)` gives its error trend, asked for rows on screen;
        `about` is the service the open incident is about, if any;
        `sources` the snapshot's source health; `layout`: prepare()'s for
        these services, if any."""
        self._show_args = (services, series, now, alerts, about)
        self._sources = sources
        before, before_key = self._row_key(), self.selected_key
        rows = self._rows
        if not rows.update(services, series, now, alerts or {}, self.filter_text.casefold(),
                           about, self._expanded, sources, layout):
            self.refresh()  # the same poll a second later: only the ages and countdowns move
            return
        self._layout_columns()  # a longer name may leave less room
        height = self.virtual_size.height
        self._set_virtual_size()
        row = next((r for r in map(self._row_for, (self._chosen, about, before))
                    if r is not None), 0)
        if row != self._cursor:
            self._cursor = row
            self._scroll_cursor_into_view()
            if self.virtual_size.height != height:  # once the new height is laid out
                self.call_after_refresh(self._scroll_cursor_into_view)
        self.refresh()
        if self.selected_key != before_key:
            self._post_selected()

    def prepare(self, services: Sequence[ServiceStatus], sources: tuple = ()) -> Layout:
        """The rows `services` make under the filter and the groups unfolded
        now: safe on another thread (it reads two immutable values), so a
        poll's thread does it; show() makes it again if either changed."""
        return lay_out(services, self.filter_text.casefold(), self._expanded, sources)

    # --- layout ---------------------------------------------------------------------

    def on_mount(self) -> None:
        # The board spans the screen: its width is not known before layout.
        self._layout_columns(self.app.size.width)

    def on_resize(self) -> None:
        self._layout_columns()

    def _layout_columns(self, width: int | None = None) -> None:
        """Show the columns that fit (a resize across a threshold, or a
        longer name arriving at a narrow width, changes them)."""
        if width is None:
            width = self.scrollable_content_region.width or self.app.size.width
        name = max(self._rows.name_width, len(COLUMNS[0][1])) + 2 * PADDING
        cluster = self._rows.cluster_width
        cluster = None if cluster is None else cluster + 2 * PADDING
        visible = columns_for(width, name, PADDING, cluster)
        widths = tuple(name if index == 0 else cluster if index == 1
                       else WIDTH[COLUMNS[index][0]] + 2 * PADDING for index in visible)
        if (visible, widths) != (self._visible, self._widths):
            self._visible, self._widths = visible, widths
            self._set_virtual_size()
            self.refresh()

    def _set_virtual_size(self) -> None:
        size = Size(sum(self._widths), len(self._rows.order) + 1)  # the header, the rows
        if size != self.virtual_size:
            self.virtual_size = size

    def notify_style_update(self) -> None:
        self._lines.clear()  # a theme or focus change restyles every line
        super().notify_style_update()

    # --- drawing --------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles once per frame, not per line: rich_style walks the
        # ancestors' backgrounds (a fifth of a line's cost).
        self._frame_styles = {}
        try:
            return super().render_lines(crop)
        finally:
            self._frame_styles = None

    def _style(self, name: str | None) -> Style:
        cache = self._frame_styles
        if cache is None:
            return self.rich_style if name is None else self.get_component_rich_style(name)
        style = cache.get(name)
        if style is None:
            style = cache[name] = (self.rich_style if name is None
                                   else self.get_component_rich_style(name))
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._style(None)
        if not self._visible:
            return Strip.blank(width, base)
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            return self._lines.header(self._visible, self._widths, scroll_x, width, base,
                                      self._style(HEADER), self.app.console)
        row = scroll_y + y - 1
        if row >= len(self._rows.order):
            return Strip.blank(width, base)
        key = self._rows.order[row]
        component, post = self._styles(row == self._cursor, row == self._hover,
                                       self._rows.health(key) is SourceStatus.STALE)
        return self._lines.row(key, self._rows.cells(key), self._visible, self._widths,
                               scroll_x, width, base, component, post, self.app.console)

    def _styles(self, cursor: bool, hover: bool, stale: bool = False) -> tuple[Style, Style]:
        """The row's component style, and what goes over each cell's own
        style: the cursor's text colour wins over a state's, a state's
        background (OPEN's red) over the cursor's."""
        component = Style()
        if stale:  # its source's last good rows: greyed (and marked STALE in CLUSTER)
            component += self._style(STALE_ROW)
        if hover:
            component += self._style(HOVER)
        if cursor:
            component += self._style(CURSOR)
        return component, Style.from_color(color=component.color)
