"""The timeline pane: the incident's journal, oldest at the top and newest at the bottom
(followed unless the operator scrolled up), with times relative to the alert, under a
strip that sums the incident up (and the clusters it spans).

A flapping breaker writes hundreds of transitions: each service's transitions within a
clock minute are shown as one line (Enter expands it). Operator events and actions are
never folded. The journal keeps every event: the fold is only how they are shown. Only
the lines on screen are drawn (Textual's Line API, as the transition list does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from console.model.fleet import BreakerState
from widgets import text as fmt

KIND_STYLE = {
    "incident_opened": "bold red",
    "alert_fired": "bold red",
    "breaker_transition": "",
    "action": "cyan",
    "data_gap": "bold yellow",
    "data_back": "yellow",
    "service_recovered": "bold green",
    "rollout_seen": "magenta",
    "acknowledged": "bold cyan",
    "note": "",
    "note_amended": "",
    "root_cause": "bold magenta",
    "resolved": "bold green",
}


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    offset: str  # "T+03:12" from the alert (T-… before it)
    kind: str
    service: str | None
    text: str  # untrusted parts inside: rendered literally
    written: bool = True  # False: waiting in memory, not on disk yet
    state: str = ""  # a transition's new state ("OPEN"): what a folded line counts


FOLDED_KIND = "breaker_transition"  # the only kind folded: never operator events


@dataclass(frozen=True)
class FoldedRow:
    """One service's transitions within one clock minute, as one line."""

    service: str
    minute: datetime
    rows: tuple[TimelineRow, ...]
    kind: str = "folded"

    @property
    def at(self) -> datetime:
        return self.rows[0].at

    @property
    def offset(self) -> str:
        return self.rows[0].offset

    @property
    def written(self) -> bool:
        return all(r.written for r in self.rows)

    @property
    def text(self) -> str:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.state or "?"] = counts.get(r.state or "?", 0) + 1
        by_state = ", ".join(f"{state} {n}" for state, n in counts.items())
        return f"{self.service}: {len(self.rows)} transitions ({by_state})"


def _minute(at: datetime) -> datetime:
    # Every zone's offset is whole minutes: a UTC minute is a minute on screen.
    return at.replace(second=0, microsecond=0)


def fold(rows: list[TimelineRow]) -> list[TimelineRow | FoldedRow]:
    """The rows (in time order) with each service's transitions in a minute,
    when there are two or more, as one FoldedRow where the first of them was;
    every other row stays as it is, where it is."""
    groups: dict[tuple[str, datetime], list[TimelineRow]] = {}
    for r in rows:
        if r.kind == FOLDED_KIND and r.service:
            groups.setdefault((r.service, _minute(r.at)), []).append(r)
    out: list[TimelineRow | FoldedRow] = []
    placed: set[tuple[str, datetime]] = set()
    for r in rows:
        if r.kind == FOLDED_KIND and r.service:
            key = (r.service, _minute(r.at))
            group = groups[key]
            if len(group) > 1:
                if key not in placed:
                    placed.add(key)
                    out.append(FoldedRow(r.service, key[1], tuple(group)))
                continue
        out.append(r)
    return out


@dataclass(frozen=True)
class IncidentView:
    incident_id: str
    started_at: datetime | None
    ended_at: datetime | None  # resolved at
    states: dict[str, BreakerState] = field(default_factory=dict)
    mitigations: int = 0
    acknowledged: bool = False
    root_caused: bool = False
    journal: str = ""  # where it is written
    spans: str | None = None  # "spans eu-west, us-east": its events' several sites


def summary_text(view: IncidentView | None, now: datetime) -> Text:
    if view is None:
        return Text("No open incident: one opens by itself when a breaker opens or the "
                    "alert fires.", style="dim")
    text = Text.assemble(("INCIDENT ", "bold"), fmt.label(view.incident_id, "bold"))
    end = view.ended_at or now
    if view.started_at is not None:
        text.append(f"  duration {fmt.duration((end - view.started_at).total_seconds())}")
    text.append("  RESOLVED" if view.ended_at else "  open", style="bold green" if view.ended_at
                else "bold red")
    text.append(f"  {view.spans}" if view.spans else "", style="bold magenta")
    for service, state in view.states.items():
        text.append("  ")
        text.append_text(fmt.label(service))
        text.append(" ")
        text.append_text(fmt.state_text(state))
    text.append(f"\nmitigations {view.mitigations}  ")
    text.append("acknowledged" if view.acknowledged else "NOT ACKNOWLEDGED (a)",
                style="green" if view.acknowledged else "bold yellow")
    text.append("  ")
    text.append("root cause set" if view.root_caused else "root cause not set (c)",
                style="green" if view.root_caused else "yellow")
    text.append("  journal ", style="dim")
    text.append(fmt.literal(view.journal), style="dim")
    return text


GAP = 2  # spaces between columns
HEADER_STYLE = Style(bold=True)
UNWRITTEN = (" NOT YET WRITTEN ", "bold white on red")


class TimelineList(ScrollView, can_focus=True):
    """The timeline's lines under a fixed header. A cursor (shown when focused) picks a line;
    Enter folds or expands a minute of transitions. Followed: while the cursor is on the
    newest line and the view at the bottom, a new event moves both to it; scrolled up, nothing moves."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "Oldest", show=False),
        Binding("end", "move(1000000000)", "Newest", show=False),
        Binding("enter", "toggle", "Expand / fold", show=False),
    ]
    COMPONENT_CLASSES = {"timeline-list--cursor"}
    DEFAULT_CSS = """
    TimelineList { height: 1fr; }
    TimelineList > .timeline-list--cursor { background: $block-cursor-blurred-background; }
    TimelineList:focus > .timeline-list--cursor { background: $block-cursor-background; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._entries: list[TimelineRow | FoldedRow] = []
        self._expanded: set[tuple[str, datetime]] = set()
        self._items: list[tuple[TimelineRow | FoldedRow, bool]] = []  # (row, inside a fold)
        self._lines: list[tuple[int, int]] = []  # (item, line of it)
        self._first_line: list[int] = []  # each item's first line
        self._wrapped: dict[tuple[TimelineRow | FoldedRow, bool, bool], list[Text]] = {}
        self._width = 0
        self._offset_width = 2
        self.cursor = 0  # an item

    # --- content --------------------------------------------------------------

    def show(self, rows: list[TimelineRow]) -> None:
        following = self._following()
        key = self._key(self.cursor)
        self._entries = fold(rows)
        self._offset_width = max([cell_len(r.offset) for r in rows] + [2])
        self._relayout()
        if following:
            self._follow()
        elif key is not None:
            self.cursor = self._index_of(key)
        self.refresh()

    def _following(self) -> bool:
        if not self._items or self.size.height == 0:
            return True
        return self.cursor >= len(self._items) - 1 and self.scroll_y >= self.max_scroll_y

    def _follow(self) -> None:
        self.cursor = max(0, len(self._items) - 1)
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.call_after_refresh(self.scroll_end, animate=False)

    def _key(self, index: int):
        if not 0 <= index < len(self._items):
            return None
        row = self._items[index][0]
        return (row.service, row.minute) if isinstance(row, FoldedRow) else row

    def _index_of(self, key) -> int:
        for index in range(len(self._items)):
            if self._key(index) == key:
                return index
        return min(self.cursor, max(0, len(self._items) - 1))

    def _relayout(self) -> None:
        """Items (folded lines, expanded ones with their rows) and the
        screen lines each takes at this width."""
        width = self.scrollable_content_region.width
        if width != self._width:
            self._wrapped.clear()  # wrapped at the old width
            self._width = width
        items: list[tuple[TimelineRow | FoldedRow, bool]] = []
        for entry in self._entries:
            items.append((entry, False))
            if isinstance(entry, FoldedRow) and (entry.service, entry.minute) in self._expanded:
                items.extend((r, True) for r in entry.rows)
        self._items = items
        self._lines, self._first_line = [], []
        for index, (row, inner) in enumerate(items):
            self._first_line.append(len(self._lines))
            count = len(self._event_lines(row, inner))
            self._lines.extend((index, n) for n in range(count))
        self.cursor = min(self.cursor, max(0, len(items) - 1))
        # The header stays put; the lines scroll under it.
        self.virtual_size = Size(0, len(self._lines) + 1)

    def _event_width(self) -> int:
        at = max(cell_len(fmt.at_title()), 8)
        return max(10, self._width - at - self._offset_width - 2 * GAP)

    def _event_lines(self, row, inner: bool) -> list[Text]:
        expanded = isinstance(row, FoldedRow) and (row.service, row.minute) in self._expanded
        key = (row, inner, expanded)
        lines = self._wrapped.get(key)
        if lines is None:
            event = Text(fmt.literal(row.text), style=KIND_STYLE.get(row.kind, ""))
            if isinstance(row, FoldedRow):
                event.append(" ▾" if expanded else " ▸", style="bold")
            if inner:
                event = Text.assemble("  ", event)
            if not row.written:
                event = Text.assemble(UNWRITTEN, " ", event)
            lines = list(event.wrap(self.app.console, self._event_width()))
            self._wrapped[key] = lines or [Text("")]
            lines = self._wrapped[key]
        return lines

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._width:
            following = self._following()
            self._relayout()
            if following:
                self._follow()
            self.refresh()

    def notify_style_update(self) -> None:
        self._wrapped.clear()  # a theme change: the lines carry the old colours
        super().notify_style_update()

    # --- keys -----------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        if not self._items:
            return
        self.cursor = max(0, min(len(self._items) - 1, self.cursor + delta))
        self._scroll_to_cursor()
        self.refresh()

    def action_page(self, direction: int) -> None:
        if not self._items:
            return
        page = max(1, self.scrollable_content_region.height - 2)
        line = self._first_line[self.cursor] + direction * page
        line = max(0, min(len(self._lines) - 1, line))
        self.cursor = self._lines[line][0]
        self._scroll_to_cursor()
        self.refresh()

    def action_toggle(self) -> None:
        if not self._items:
            return
        row, inner = self._items[self.cursor]
        if inner:  # a row inside an expanded minute folds that minute
            index = self.cursor
            while index > 0 and self._items[index][1]:
                index -= 1
            row = self._items[index][0]
        if not isinstance(row, FoldedRow):
            return
        key = (row.service, row.minute)
        self._expanded.symmetric_difference_update({key})
        self._relayout()
        self.cursor = self._index_of(key)
        self._scroll_to_cursor()
        self.refresh()

    def _scroll_to_cursor(self) -> None:
        first = self._first_line[self.cursor]
        last = (self._first_line[self.cursor + 1] if self.cursor + 1 < len(self._items)
                else len(self._lines)) - 1
        height = max(1, self.scrollable_content_region.height - 1)  # under the header
        top = self.scroll_offset.y
        if first < top:
            top = first
        elif last >= top + height:
            top = last - height + 1
        self.scroll_to(y=top, animate=False, immediate=True)

    # --- drawing --------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width <= 0:
            return Strip.blank(width, self.rich_style)
        if y == 0:
            return self._strip(self._header(), width)
        if not self._items:
            return self._strip(Text("nothing recorded yet", style="dim") if y == 1
                               else Text(""), width)
        line = self.scroll_offset.y + y - 1
        if line >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        index, n = self._lines[line]
        row, inner = self._items[index]
        event = self._event_lines(row, inner)[n]
        at = max(cell_len(fmt.at_title()), 8)
        text = Text(no_wrap=True, end="")
        if n == 0:
            text.append(fmt.clock_time(row.at).ljust(at))
            text.append(" " * GAP)
            text.append(row.offset.ljust(self._offset_width))
        else:
            text.append(" " * (at + GAP + self._offset_width))
        text.append(" " * GAP)
        text.append_text(event)
        if index == self.cursor and self.has_focus:
            text.stylize(self.get_component_rich_style("timeline-list--cursor"))
        return self._strip(text, width)

    def _header(self) -> Text:
        at = max(cell_len(fmt.at_title()), 8)
        return Text.assemble(
            fmt.at_title().ljust(at), " " * GAP, "T+".ljust(self._offset_width), " " * GAP,
            "EVENT", style=HEADER_STYLE,
        )

    def _strip(self, text: Text, width: int) -> Strip:
        text.truncate(width, overflow="ellipsis")
        segments = list(text.render(self.app.console))
        return Strip(segments).adjust_cell_length(width).apply_style(self.rich_style)

    def on_focus(self) -> None:
        self.refresh()  # the cursor shows

    def on_blur(self) -> None:
        self.refresh()


class TimelinePane(Vertical):
    DEFAULT_CSS = """
    TimelinePane #timeline-summary {
        height: auto; padding: 0 1; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    TimelinePane TimelineList { padding: 0 1; }
    """

    def compose(self):
        yield Static(id="timeline-summary")
        yield TimelineList(id="timeline-rows")

    def show(self, view: IncidentView | None, rows: list[TimelineRow], now: datetime) -> None:
        self.query_one("#timeline-summary", Static).update(summary_text(view, now))
        self.query_one(TimelineList).show(rows)
