"""The board's lines: its header and rows drawn from their cells, and kept
while nothing they show changed. The widget is widgets/board.py.

A line carries no row number (no Style.from_meta): the mouse finds its row
from the offset (BreakerBoard._row_at), and a row's line stays the same when
the board scrolls, so a key press that scrolls draws one new line, not the
screen's (a meta style per row also defeated rich's style caches)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip

from widgets.boardgroups import GROUP
from widgets.boardrows import COLUMNS, PADDING, cell_line


class Lines:
    """Draws a line for a (visible columns, their widths) layout, `width`
    cells seen from `x` (scrolled sideways), over the widget's `base` style."""

    def __init__(self) -> None:
        # (row key, how drawn) -> (its cells tuple, its line): a few screens.
        self._lines: LRUCache[tuple, tuple[tuple, Strip]] = LRUCache(256)
        # (row key, column, how drawn) -> (the value, its segments): a
        # changed row draws again only its changed cells (the clock's tick
        # changes one: FOR).
        self._drawn: LRUCache[tuple, tuple[object, list[Segment]]] = LRUCache(2048)

    def clear(self) -> None:
        self._lines.clear()
        self._drawn.clear()

    def header(self, visible: tuple, widths: tuple, x: int, width: int, base: Style,
               style: Style, console) -> Strip:
        key = ("header", visible, widths, x, width, base, style)
        hit = self._lines.get(key)
        if hit is None:
            segments: list[Segment] = []
            for index, column_width in zip(visible, widths):
                segments += cell_line(Text(COLUMNS[index][1]), column_width, PADDING, style,
                                      Style(), console)
            hit = self._lines[key] = (COLUMNS, finish(segments, style, widths, x, width, base))
        return hit[1]

    def row(self, key: tuple, cells: tuple, visible: tuple, widths: tuple, x: int,
            width: int, base: Style, component: Style, post: Style, console) -> Strip:
        look = (visible, widths, x, width, base, component)
        line_key = (key, look)
        hit = self._lines.get(line_key)
        if hit is not None and hit[0] is cells:
            return hit[1]
        segments: list[Segment] = []
        pre = base + component
        for index, column_width in spans(key, visible, widths):
            value = cells[index]
            cell_key = (key, index, column_width, base, component)
            drawn = self._drawn.get(cell_key)
            if drawn is None or drawn[0] is not value:
                drawn = self._drawn[cell_key] = (
                    value, cell_line(value, column_width, PADDING, pre, post, console))
            segments += drawn[1]
        strip = finish(segments, pre, widths, x, width, base)
        self._lines[line_key] = (cells, strip)
        return strip


def spans(key: tuple, visible: tuple, widths: tuple) -> list[tuple[int, int]]:
    """(column, width) to draw: a group's summary (OPEN in eu-west 3/3 ·
    CLOSED in us-east) runs on over its STATE cell, which would repeat the
    summary's first word, so that at 80 columns it stays whole beside ERR%."""
    drawn = list(zip(visible, widths))
    if key[0] is GROUP and visible[1:3] == (1, 2):
        drawn[1:3] = [(1, widths[1] + widths[2])]
    return drawn


def finish(segments: list[Segment], fill: Style, widths: tuple, x: int, width: int,
           base: Style) -> Strip:
    """The cells, then the row's style out to the right edge, seen from
    `x` (scrolled sideways), `width` cells."""
    segments.append(Segment(" " * max(0, width - sum(widths)), fill))
    return Strip(segments).crop(x, x + width).adjust_cell_length(width, base).simplify()
