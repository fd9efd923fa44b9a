"""The board's rows: the columns, what fits a width, each cell's value and
how a cell is drawn. Plain rich; the widget is widgets/board.py."""

from __future__ import annotations

from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from console.model.fleet import Alert, BreakerState, ServiceStatus
from widgets import pager
from widgets import text as fmt

TREND_WIDTH = 10
NAME_MAX = 48  # cells: a longer (hostile) name is cut, the state stays on screen
# (key, title, width): fixed widths, so an update never re-measures a column.
# The name column is as wide as the widest name seen.
COLUMNS = (
    ("service", "SERVICE", None),
    ("state", "STATE", 11),
    ("alert", "ALERT", 9),  # SILENCED, INHIBITED, "in 1m 05s"
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


def matches(name: str, needle: str) -> bool:
    """The board's filter: `needle` (casefolded) anywhere in the name."""
    return needle in name.casefold()


def sort_key(service: ServiceStatus) -> tuple:
    """Worst class first; by name within a class, so rows do not jump about."""
    return (service.state.rank, service.service)


def name_cell(service: ServiceStatus) -> Text:
    name = Text(fmt.literal(service.service), no_wrap=True, overflow="ellipsis")
    name.truncate(NAME_MAX, overflow="ellipsis")
    return name


def alert_cell(alert: Alert | None, now: datetime | None = None) -> Text:
    if alert is None:
        return Text("")
    return pager.cell(alert, now)  # as Alertmanager holds it, when configured


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
        alert_cell(alert, now),
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
    """One board cell: padded, cut to the width, justified, `pre` under its
    own style and `post` over it.
    The same segments rich's Styled(Padding(cell)) gives, at a tenth of the
    cost. A str cell is one of our own figures: no markup in it."""
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


class Rows:
    """The board's rows as data: the services the filter lets through, worst
    first, and each row's cells, made when its line is first drawn after an
    update (at thousands of services, only the rows on screen are made)."""

    def __init__(self) -> None:
        self.order: list[str] = []  # the services shown, worst first
        self.row_of: dict[str, int] = {}
        self.name_width = 0  # the widest name's cells
        self._shown: dict[str, ServiceStatus] = {}
        # service -> (the update they are from, every column's cells); None
        # until the row is first drawn.
        self._cells: dict[str, tuple[int, tuple | None]] = {}
        self._generation = 0  # one per update()
        self._inputs = None  # the last update's (series, now, alerts)
        self._services = ()  # as last shown, and the filter and `about` then
        self._needle = ""
        self._about: str | None = None

    def __contains__(self, service: object) -> bool:
        return service in self._shown

    def key_of(self, service: str) -> tuple[str, str]:
        """The (site, service) identity of the row shown for `service`."""
        return self._shown[service].key

    def update(self, services, series, now: datetime, alerts, needle: str,
               about: str | None) -> bool:
        """Take a poll's services; False if only the clock moved (the same
        poll a second later: the ages and countdowns, nothing else)."""
        self._generation += 1
        if (self._inputs is not None and services is self._services
                and needle == self._needle and alerts == self._inputs[2]
                and about == self._about):
            self._inputs = (series, now, alerts)
            return False
        self._services, self._needle, self._about = services, needle, about
        self._inputs = (series, now, alerts)
        shown = {s.service: s for s in services if matches(s.service, needle)}
        self._shown = shown
        for gone in [key for key in self._cells if key not in shown]:
            del self._cells[gone]
        for key, service in shown.items():
            if key not in self._cells:
                self._cells[key] = (0, None)
                self.name_width = max(self.name_width, name_cell(service).cell_len)
        order = sorted(shown, key=lambda key: sort_key(shown[key]))
        if order != self.order:
            self.order = order
            self.row_of = {key: row for row, key in enumerate(order)}
        return True

    def cells(self, key: str) -> tuple:
        """The row's cells as of the last update(); a cell equal to the one
        drawn before stays the same object (its drawing is kept)."""
        generation, cells = self._cells[key]
        if generation == self._generation and cells is not None:
            return cells
        series, now, alerts = self._inputs
        fresh = row_cells(self._shown[key], series(key), now, alerts.get(key))
        if cells is not None:
            fresh = tuple(old if old == new else new for old, new in zip(cells, fresh))
            if all(old is new for old, new in zip(cells, fresh)):
                fresh = cells
        self._cells[key] = (self._generation, fresh)
        return fresh
