"""The footer: Textual's, on two lines when one does not hold every key.

At 80 columns one line cut the keys at `g Diagnos`: the incident keys
(a n c R e x) were not shown at all. Keys that do not fit wrap onto a second
line (in Textual's compact style if two lines still do not hold them), the
palette key at the right of the last line.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.containers import HorizontalGroup
from textual.widgets import Footer

PALETTE = "-command-palette"  # the class Footer gives the ^p key


def is_key(widget) -> bool:
    # FooterKey is not exported by textual.widgets: known by its fields.
    return hasattr(widget, "key_display") and hasattr(widget, "description")


def key_width(key, compact: bool) -> int:
    """Cells one key takes (Textual's Footer CSS: a space each side of the
    key and after the label; compact: one space and a margin)."""
    width = cell_len(key.key_display)
    if key.description:
        width += cell_len(key.description) + 1
    width += 1 if compact else 2
    if key.has_class(PALETTE):
        width += 1 if compact else 2  # its left border, its padding
    return width


def rows_for(keys: list, palette, width: int, compact: bool) -> list[list]:
    """The keys in lines of `width` cells, filled in order; the palette key
    counts on the last line."""
    rows: list[list] = [[]]
    used = 0
    for key in keys:
        w = key_width(key, compact)
        if rows[-1] and used + w > width:
            rows.append([])
            used = 0
        rows[-1].append(key)
        used += w
    if palette is not None and rows[-1] and used + key_width(palette, compact) > width:
        rows.append([])
    return rows


def arrange(keys: list, palette, width: int) -> tuple[list[list], bool]:
    """(lines, compact): one line if it holds them, else two, else compact."""
    rows = rows_for(keys, palette, width, False)
    if len(rows) > 2:
        compact_rows = rows_for(keys, palette, width, True)
        if len(compact_rows) < len(rows):
            return compact_rows, True
    return rows, False


class KeyFooter(Footer):
    """A Footer that wraps onto a second line rather than cutting keys off."""

    DEFAULT_CSS = """
    KeyFooter.-lines-2 { layout: vertical; height: 2; }
    KeyFooter.-lines-3 { layout: vertical; height: 3; }
    KeyFooter > HorizontalGroup { height: 1; }
    """

    _shape: tuple = ()

    def compose(self):
        items = list(super().compose())  # this app binds no key groups
        keys = [w for w in items if is_key(w) and not w.has_class(PALETTE)]
        palette = next((w for w in items if is_key(w) and w.has_class(PALETTE)), None)
        rows, compact = arrange(keys, palette, self.app.size.width)
        self._shape = (tuple(map(len, rows)), compact)
        # Set before the keys mount: they take the footer's style from it.
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        lines = min(len(rows), 3)
        for n in (2, 3):
            self.set_class(lines == n, f"-lines-{n}")
        if len(rows) == 1:
            yield from items
            return
        for index, row in enumerate(rows):
            last = index == len(rows) - 1
            yield HorizontalGroup(*row, *([palette] if last and palette else []))

    def on_resize(self) -> None:
        # Wider or narrower: the keys may now fit on fewer lines, or more.
        keys = [w for w in self.query("FooterKey") if not w.has_class(PALETTE)]
        palette = next(iter(self.query(f"FooterKey.{PALETTE}")), None)
        rows, compact = arrange(keys, palette, self.app.size.width)
        if keys and (tuple(map(len, rows)), compact) != self._shape:
            self.call_after_refresh(self.recompose)
