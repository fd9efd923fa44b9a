"""The board's rows: the columns, what fits a width, each cell's value and
how a cell is drawn. Plain rich; the widget is widgets/board.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from console.model.fleet import Alert, BreakerState, ServiceStatus, SourceStatus, row_alert
from widgets import pager
from widgets.boardgroups import (
    GROUP, Needle, arrange, health_of, site_cell, site_width, sites_of, summary_cell,
    summary_width,
)
from widgets import text as fmt

TREND_WIDTH = 10
NAME_MAX = 48  # cells: a longer (hostile) name is cut, the state stays on screen
# (key, title, width): fixed widths, so an update never re-measures a column.
# The name column is as wide as the widest name seen.
COLUMNS = (
    ("service", "SERVICE", None),
    ("cluster", "CLUSTER", None),  # only with more than one site; as wide as its widest cell
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
PADDING = 1  # cells each side of a cell's text
#: What a group's summary takes from the STATE cell it runs into (boardlines.spans).
SUMMARY_SPAN = WIDTH["state"] + 2 * PADDING
# Where the terminal is too narrow for every column, these go first (least
# important first), so the state and rates (SERVICE, STATE, ERR%, REJ/s)
# stay on screen instead of being cut off on the right.
DROP_ORDER = ("last", "trend", "in_state", "ok", "fail", "inst", "alert", "probe")


def columns_for(width: int, name_width: int, padding: int = 1,
                cluster_width: int | None = None) -> tuple[int, ...]:
    """The indexes into COLUMNS of the columns shown `width` cells wide,
    the name column `name_width` cells (its padding included), the CLUSTER
    column `cluster_width` (None: not shown, one site)."""
    shown = [i for i in range(len(COLUMNS)) if i != 1 or cluster_width is not None]
    need = name_width + (cluster_width or 0) + sum(w + 2 * padding for _, _, w in COLUMNS[2:])
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


def name_cell(service: ServiceStatus, prefix: str = "") -> Text:
    name = Text(prefix + fmt.literal(service.service), no_wrap=True, overflow="ellipsis")
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
    cluster: Text | str = "",
    name: Text | None = None,
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
        name if name is not None else name_cell(service),
        cluster,
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


@dataclass(frozen=True, eq=False)
class Layout:
    """Which rows a poll's services make and in what order, for one filter,
    one set of unfolded groups and one source health: pure data, so the poll's
    thread can make it (lay_out) and the event loop only takes it."""

    services: Sequence[ServiceStatus]
    needle: str
    expanded: frozenset[str]
    sources: tuple
    grouped: bool  # more than one site
    shown: dict[tuple, ServiceStatus]  # the rows the filter lets through, by key
    order: list[tuple]  # the row keys, worst first
    members: dict[str, list[tuple]]  # each group's member keys, worst first
    cluster_width: int | None  # the widest CLUSTER cell; None: no CLUSTER column
    row_of: dict[tuple, int]
    first_of: dict[str, int]  # a service's first row (its group's line)

    def fits(self, services, needle: str, expanded: frozenset[str], sources: tuple) -> bool:
        return (services is self.services and needle == self.needle
                and expanded == self.expanded and sources == self.sources)


def lay_out(services: Sequence[ServiceStatus], needle: str, expanded: frozenset[str],
            sources: tuple = ()) -> Layout:
    """The rows of `services` for filter `needle` (casefolded), the groups
    `expanded` shown site by site, `sources` the snapshot's source health."""
    grouped = len(sites_of(services) | {s for h in sources for s in h.sites}) > 1
    shown = {s.key: s for s in Needle.parse(needle).lets_through_all(services)}
    order, members = arrange(shown, set(expanded), grouped, sort_key)
    cluster_width = None
    # One site whose source is PARTIAL or STALE: the column marks its rows.
    if grouped or any(h.status is not SourceStatus.OK for h in sources):
        told = health_of(sources)  # plain lengths: no Text per group and poll
        cluster_width = max((
            summary_width([shown[k] for k in members[key[1]]], told) - SUMMARY_SPAN
            if key[0] is GROUP else site_width(shown[key], told(key[0]))
            for key in order), default=0)
    row_of = {key: row for row, key in enumerate(order)}
    first_of: dict[str, int] = {}
    for row, key in enumerate(order):
        first_of.setdefault(key[1], row)
    return Layout(services, needle, frozenset(expanded), sources, grouped, shown, order,
                  members, cluster_width, row_of, first_of)


class Rows:
    """The board's rows as data: the services the filter lets through, worst
    first, and each row's cells, made when its line is first drawn after an
    update (at thousands of services, only the rows on screen are made).

    A row's key is (site, service). With more than one site a service's rows
    are a group: one summary line, (GROUP, service), and its sites' rows
    under it when expanded (widgets/boardgroups.py)."""

    def __init__(self) -> None:
        self.order: list[tuple] = []  # the row keys shown, worst first
        self.row_of: dict[tuple, int] = {}
        self.first_of: dict[str, int] = {}  # a service's first row (its group's line)
        self.name_width = 0  # the widest name's cells
        self.cluster_width: int | None = None  # the CLUSTER column's; None: one site
        self.members: dict[str, list[tuple]] = {}  # each group's member keys, worst first
        self.grouped = False  # more than one site
        self._shown: dict[tuple, ServiceStatus] = {}
        # key -> (the update they are from, every column's cells); None
        # until the row is first drawn.
        self._cells: dict[tuple, tuple[int, tuple | None]] = {}
        self._generation = 0  # one per update()
        self._inputs = None  # the last update's (series, now, alerts)
        self._services = ()  # as last shown, and the filter and `about` then
        self._needle = ""
        self._about: str | None = None
        self._expanded: frozenset[str] = frozenset()
        self._health = None  # site -> SourceStatus | None
        self._health_seen = None

    def __contains__(self, key: object) -> bool:
        return key in self.row_of

    def service_of(self, key: tuple) -> ServiceStatus | None:
        """The row's service; a group's line stands for its worst site."""
        if key[0] is GROUP:
            return self._shown[self.members[key[1]][0]]
        return self._shown.get(key)

    def health(self, key: tuple) -> SourceStatus | None:
        if self._health is None:
            return None
        if key[0] is GROUP:
            told = [self._health(site) for site, _ in self.members[key[1]]]
            return SourceStatus.STALE if all(t is SourceStatus.STALE for t in told) else None
        return self._health(key[0])

    def update(self, services, series, now: datetime, alerts, needle: str,
               about: str | None, expanded: frozenset[str] = frozenset(),
               sources: tuple = (), layout: Layout | None = None) -> bool:
        """Take a poll's services; False if only the clock moved (the same
        poll a second later: the ages and countdowns, nothing else).
        `layout`: lay_out() of these inputs made on the poll's thread, if
        it still fits them (else it is made here)."""
        self._generation += 1
        if (self._inputs is not None and services is self._services
                and needle == self._needle and alerts == self._inputs[2]
                and about == self._about and expanded == self._expanded
                and sources == self._health_seen):
            self._inputs = (series, now, alerts)
            return False
        self._services, self._needle, self._about = services, needle, about
        self._expanded, self._health_seen = expanded, sources
        self._health = health_of(sources) if sources else None  # site -> its source's health
        self._inputs = (series, now, alerts)
        if layout is None or not layout.fits(services, needle, expanded, sources):
            layout = lay_out(services, needle, expanded, sources)
        self.grouped = layout.grouped
        self._shown = layout.shown
        order, self.members = layout.order, layout.members
        if layout.cluster_width is None:
            self.cluster_width = None
        else:
            self.cluster_width = max(self.cluster_width or len(COLUMNS[1][1]),
                                     layout.cluster_width)
        cells = self._cells
        for key in order:
            if key not in cells:  # a group's line and its sites' rows: 2 cells more
                wide = key[0] is GROUP or key[1] in self.members
                self.name_width = max(self.name_width, name_cell(
                    self.service_of(key), "▸ " if wide else "").cell_len)
        self._cells = {key: cells.get(key, (0, None)) for key in order}
        if order != self.order:
            self.order = order
            self.row_of, self.first_of = layout.row_of, layout.first_of
        return True

    def _cluster(self, key: tuple) -> Text | str:
        if self.cluster_width is None:
            return ""
        health = self._health or (lambda site: None)
        if key[0] is GROUP:
            return summary_cell([self._shown[k] for k in self.members[key[1]]], health)
        return site_cell(self._shown[key], health(key[0]))

    def _name(self, key: tuple, service: ServiceStatus) -> Text | None:
        if key[0] is GROUP:
            return name_cell(service, "▾ " if key[1] in self._expanded else "▸ ")
        if key[1] in self.members:  # a site's row under its group's line
            return name_cell(service, "  ")
        return None

    def cells(self, key: tuple) -> tuple:
        """The row's cells as of the last update(); a cell equal to the one
        drawn before stays the same object (its drawing is kept)."""
        generation, cells = self._cells[key]
        if generation == self._generation and cells is not None:
            return cells
        series, now, alerts = self._inputs
        service = self.service_of(key)
        fresh = row_cells(service, series(service.service, service.site), now,
                          row_alert(alerts, service.site, service.service), self._cluster(key),
                          self._name(key, service))
        if cells is not None:
            fresh = tuple(old if old == new else new for old, new in zip(cells, fresh))
            if all(old is new for old, new in zip(cells, fresh)):
                fresh = cells
        self._cells[key] = (self._generation, fresh)
        return fresh
