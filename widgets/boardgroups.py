"""The board across sites: a service's rows grouped under one summary line
(`payment-api  OPEN in eu-west 3/3 · CLOSED in us-east`), groups worst
first, and the filter by service or by cluster (`cluster:eu-west`).
Plain data and rich; the widget is widgets/board.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.text import Text

from console.model.fleet import BreakerState, FleetSnapshot, ServiceStatus, SourceStatus
from widgets import text as fmt

#: A row's key: (site, service); a group's summary line is (GROUP, service).
GROUP = None
CLUSTER_MAX = 64  # cells: a longer summary (many sites) is cut, the worst state first
CLUSTER_TERM = "cluster:"
MARK = {SourceStatus.STALE: ("STALE", "bold red"), SourceStatus.PARTIAL: ("PARTIAL", "bold yellow")}


@dataclass(frozen=True)
class Needle:
    """The filter as typed: `cluster:NAME` terms match a row's site, the
    rest (casefolded) anywhere in the service's name."""

    name: str = ""
    clusters: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Needle:
        folded = text.casefold()
        if CLUSTER_TERM not in folded:
            return cls(name=folded)  # as before sites: the whole text, spaces and all
        terms = folded.split()
        clusters = tuple(t[len(CLUSTER_TERM):] for t in terms if t.startswith(CLUSTER_TERM))
        rest = " ".join(t for t in terms if not t.startswith(CLUSTER_TERM))
        return cls(name=rest, clusters=tuple(c for c in clusters if c))

    def lets_through(self, service: ServiceStatus) -> bool:
        if self.name not in service.service.casefold():
            return False
        site = service.site.casefold()
        return all(c in site for c in self.clusters)


    def lets_through_all(self, services: Iterable[ServiceStatus]) -> Iterable[ServiceStatus]:
        if not self.clusters:  # the common case, as cheap as before sites
            name = self.name
            return [s for s in services if name in s.service.casefold()] if name else services
        return [s for s in services if self.lets_through(s)]


def sites_of(services: Iterable[ServiceStatus]) -> set[str]:
    return {s.site for s in services}


def member_key(service: ServiceStatus) -> tuple:
    return (service.state.rank, service.site)


def arrange(shown_rows: dict[tuple, ServiceStatus], expanded: set[str],
            grouped: bool, sort_key: Callable) -> tuple[list[tuple], dict[str, list[tuple]]]:
    """(the keys in display order, each group's member keys worst first).
    Not `grouped` (one site): one row per service, as before sites."""
    if not grouped:
        return sorted(shown_rows, key=lambda key: sort_key(shown_rows[key])), {}
    groups: dict[str, list[ServiceStatus]] = {}
    for service in shown_rows.values():
        groups.setdefault(service.service, []).append(service)
    for members in groups.values():
        members.sort(key=member_key)
    order: list[tuple] = []
    members_of: dict[str, list[tuple]] = {}
    for name in sorted(groups, key=lambda name: sort_key(groups[name][0])):
        members = groups[name]
        if len(members) == 1:
            order.append(members[0].key)
            continue
        members_of[name] = [m.key for m in members]
        order.append((GROUP, name))
        if name in expanded:
            order.extend(members_of[name])
    return order, members_of


def health_word(status: SourceStatus | None) -> tuple[str, str] | None:
    return MARK.get(status) if status is not None else None


def summary_cell(members: list[ServiceStatus],
                 health: Callable[[str], SourceStatus | None]) -> Text:
    """OPEN in eu-west 3/3 · CLOSED in us-east, ap-south: each state worst
    first with its sites, the instance split where not CLOSED, a site whose
    source is STALE or PARTIAL marked so."""
    by_state: dict[BreakerState, list[ServiceStatus]] = {}
    for member in members:
        by_state.setdefault(member.state, []).append(member)
    text = Text(no_wrap=True, overflow="ellipsis")
    for n, state in enumerate(sorted(by_state, key=lambda s: s.rank)):
        text.append(" · " if n else "")
        text.append(state.label, style=fmt.STATE_STYLE[state])
        text.append(" in ")
        for m, member in enumerate(by_state[state]):
            text.append(", " if m else "")
            text.append(fmt.literal(member.site))
            if state != BreakerState.CLOSED:
                count, total = member.split
                text.append(f" {count}/{total}")
            mark = health_word(health(member.site))
            if mark:
                text.append(f" {mark[0]}", style=mark[1])
    text.truncate(CLUSTER_MAX, overflow="ellipsis")
    return text


def summary_width(members: list[ServiceStatus],
                  health: Callable[[str], SourceStatus | None]) -> int:
    """summary_cell's width, from plain lengths (cheap at thousands of groups)."""
    states = {m.state for m in members}
    width = sum(len(s.label) + 4 for s in states) + 3 * (len(states) - 1)
    width += 2 * (len(members) - len(states))  # ", " between a state's sites
    for member in members:
        width += len(member.site)
        if member.state != BreakerState.CLOSED:
            width += len("%d/%d" % member.split) + 1
        mark = health_word(health(member.site))
        width += len(mark[0]) + 1 if mark else 0
    return min(width, CLUSTER_MAX)


def site_width(service: ServiceStatus, status: SourceStatus | None) -> int:
    mark = health_word(status)
    return min(len(service.site) + (len(mark[0]) + 1 if mark else 0), CLUSTER_MAX)


def site_cell(service: ServiceStatus, status: SourceStatus | None) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(fmt.literal(service.site))
    mark = health_word(status)
    if mark:
        text.append(f" {mark[0]}" if service.site else mark[0], style=mark[1])
    text.truncate(CLUSTER_MAX, overflow="ellipsis")
    return text


def health_of(snapshot_sources) -> Callable[[str], SourceStatus | None]:
    """A site's source health, from a snapshot's `sources` (none told: None)."""
    status = {site: h.status for h in snapshot_sources for site in h.sites}
    return status.get


def multi_site(snapshot: FleetSnapshot) -> bool:
    return len(sites_of(snapshot.services) | {s for h in snapshot.sources for s in h.sites}) > 1
