"""Rows of cells drawn a line at a time at the width the widget gets: each
column as wide as its widest cell, one column (`flex`) takes what is left
and cuts with an ellipsis, two spaces between columns; notes under the rows,
wrapped. A rich Table in a Static was rendered twice per update (its height,
then its lines) and laid the whole screen out again each time (20-50 ms at
5,000 breakers); here new rows lay out only when the number of lines
changes, and each line is drawn once per change."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

GAP = 2  # spaces between columns
HEADER_STYLE = Style(bold=True)


def column_widths(rows: list[tuple[Text, ...]], width: int, flex: int = 1) -> list[int]:
    """Each column as wide as its widest cell; column `flex` gets the rest
    (at least 1). Too narrow for that: the widest columns give way."""
    widths = [max(cell.cell_len for cell in column) for column in zip(*rows)]
    others = sum(widths) - widths[flex] + GAP * (len(widths) - 1)
    widths[flex] = max(1, width - others)
    while sum(widths) + GAP * (len(widths) - 1) > width and max(widths) > 1:
        widths[widths.index(max(widths))] -= 1
    return widths


def draw_line(cells: tuple[Text, ...], widths: list[int], style: Style | None = None,
              console=None) -> list[Segment]:
    """One row as segments: each cell cut (with an ellipsis) or padded to its
    column, right-justified ones to the right."""
    line = Text(no_wrap=True, end="")
    for index, (cell, width) in enumerate(zip(cells, widths)):
        if index:
            line.append(" " * GAP)
        cell = cell.copy()
        cell.truncate(width, overflow="ellipsis")
        fill = " " * (width - cell.cell_len)
        if cell.justify == "right":
            line.append(fill)
            line.append_text(cell)
        else:
            line.append_text(cell)
            line.append(fill)
    if style is not None:
        line.stylize(style)
    return list(line.render(console))


class CellTable(Widget, can_focus=False):
    """A header, rows of cells and notes; `show` them, with a `key` (what
    they are made from) to skip drawing what is already shown."""

    DEFAULT_CSS = """
    CellTable { height: auto; }
    """

    def __init__(self, flex: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.flex = flex
        self._header: tuple[Text, ...] = ()
        self._rows: list[tuple[Text, ...]] = []
        self._notes: list[Text] = []
        self._key: object = object()
        self._lines: tuple[int, list[Strip]] | None = None  # (width, lines)

    def show(self, header: tuple[Text, ...], rows: list[tuple[Text, ...]],
             notes: list[Text] | tuple[Text, ...] = (), key: object = None) -> bool:
        """Whether it drew anything (not when `key` is the last one's)."""
        if key is not None and key == self._key:
            return False
        width = self.content_size.width
        before = len(self._lines[1]) if self._lines and self._lines[0] == width else None
        self._header, self._rows, self._notes = header, list(rows), list(notes)
        self._key = object() if key is None else key
        self._lines = None
        # Not on screen (its tab hidden): laid out when it is shown.
        self.refresh(layout=self.is_on_screen and (
            before is None or len(self._drawn(width)) != before))
        return True

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._drawn(width))

    def on_resize(self) -> None:
        self._lines = None

    def notify_style_update(self) -> None:
        self._lines = None  # a theme change: the lines carry the old colours
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        lines = self._drawn(width)
        if y < len(lines):
            return lines[y]
        return Strip.blank(width, self.rich_style)

    def _drawn(self, width: int) -> list[Strip]:
        if width <= 0:
            return []
        if self._lines is None or self._lines[0] != width:
            console = self.app.console
            drawn: list[list[Segment]] = []
            if self._header:
                widths = column_widths([self._header, *self._rows], width, self.flex)
                drawn.append(draw_line(self._header, widths, HEADER_STYLE, console))
                drawn.extend(draw_line(row, widths, console=console) for row in self._rows)
            for note in self._notes:
                for line in note.wrap(console, width):
                    line.end = ""
                    drawn.append(list(line.render(console)))
            style = self.rich_style
            self._lines = (width, [Strip(segments).adjust_cell_length(width).apply_style(style)
                                   for segments in drawn])
        return self._lines[1]
