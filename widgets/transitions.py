"""A service's transitions, newest first, drawn a line at a time.

A flapping breaker keeps 200 transitions; as a rich Table in a Static they
were laid out whole every time the selection moved (100 ms for 200 rows, on
every key press down a flapping fleet). Here only the lines on screen are
drawn (Textual's Line API), in the table's layout: the widest entry sizes
each column, the instance column takes what is left and cuts with an
ellipsis, two spaces between columns.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.model.fleet import Transition
from widgets import text as fmt
from widgets.celltable import HEADER_STYLE, column_widths, draw_line  # noqa: F401 (the tests')

INSTANCE = 1  # the column that takes the rest of the width


def held_for(transitions: list[Transition]) -> dict[Transition, float | None]:
    """How long each instance stayed in the state a transition left
    (newest-first input); None for the oldest one we know of."""
    held: dict[Transition, float | None] = {}
    previous: dict[str, Transition] = {}
    for t in reversed(transitions):
        before = previous.get(t.instance)
        held[t] = (t.at - before.at).total_seconds() if before else None
        previous[t.instance] = t
    return held


def transition_cells(transitions: list[Transition]) -> list[tuple[Text, ...]]:
    """One row of cells per transition: at, instance, transition, held, seen."""
    held = held_for(transitions)
    return [
        (
            Text(fmt.clock_time(t.at)),
            fmt.label(t.instance),
            Text.assemble(
                (t.from_state.label, fmt.STATE_STYLE[t.from_state]),
                "→",
                (t.to_state.label, fmt.STATE_STYLE[t.to_state]),
            ),
            Text(fmt.duration(held[t]), justify="right"),
            Text(t.observed.value, style="dim" if t.observed.value == "backfill" else ""),
        )
        for t in transitions
    ]


def header_cells() -> tuple[Text, ...]:
    return (
        Text(fmt.at_title()), Text("INSTANCE"), Text("TRANSITION"),
        Text("AFTER", justify="right"), Text("SEEN"),
    )


class TransitionList(ScrollView, can_focus=False):
    """The table header, then the transitions; only visible lines are drawn."""

    DEFAULT_CSS = """
    TransitionList { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: list[tuple[Text, ...]] = []
        self._empty = False
        self._cache: dict[tuple[int, int], Strip] = {}  # (row, width) -> line
        self._layout: tuple[int, list[int]] | None = None  # (width, column widths)

    def show(self, transitions: list[Transition]) -> None:
        self._rows = transition_cells(transitions)
        self._empty = not transitions
        if self._empty:
            self._rows = [(Text("no transition seen yet", style="dim"),)]
        self._cache.clear()
        self._layout = None
        # The header stays put; the rows scroll under it.
        self._set_height(len(self._rows) + 1)
        self.refresh()

    def clear(self) -> None:
        self._rows, self._empty = [], True
        self._cache.clear()
        self._layout = None
        self._set_height(0)
        self.refresh()

    def _set_height(self, height: int) -> None:
        """The rows' height; the screen is laid out again only when the
        scrollbar comes or goes (a layout at 5,000 breakers is 15-25 ms, and
        each service has its own number of transitions)."""
        size = Size(0, height)
        if size == self.virtual_size:
            return
        view = self.scrollable_content_region.height
        if view and self.is_on_screen and (self.virtual_size.height > view) == (height > view):
            self.set_reactive(ScrollView.virtual_size, size)
            self.vertical_scrollbar.window_virtual_size = height
            self.scroll_to(y=min(self.scroll_y, self.max_scroll_y), animate=False)
        else:
            self.virtual_size = size

    def on_resize(self) -> None:
        self._cache.clear()

    def notify_style_update(self) -> None:
        self._cache.clear()  # a theme change: the lines carry the old colours
        super().notify_style_update()

    def _widths(self, width: int) -> list[int]:
        if self._layout is None or self._layout[0] != width:
            rows = [] if self._empty else self._rows
            self._layout = (width, column_widths([header_cells(), *rows], width, INSTANCE))
        return self._layout[1]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if not self._rows or width <= 0:
            return Strip.blank(width, self.rich_style)
        if y == 0:
            return self._strip(-1, width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        return self._strip(index, width)

    def _strip(self, index: int, width: int) -> Strip:
        line = self._cache.get((index, width))
        if line is None:
            console = self.app.console
            if index < 0:
                segments = draw_line(header_cells(), self._widths(width), HEADER_STYLE, console)
            elif self._empty:
                text = self._rows[0][0].copy()
                text.truncate(width, overflow="ellipsis")
                segments = list(text.render(console))
            else:
                segments = draw_line(self._rows[index], self._widths(width), console=console)
            line = Strip(segments).adjust_cell_length(width).apply_style(self.rich_style)
            self._cache[(index, width)] = line
        return line
