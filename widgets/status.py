"""The header line: where the data comes from, how fresh it is, and STALE
loudly when it is not fresh."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from dataclasses import dataclass

from collections import Counter
from collections.abc import Iterable

from console.model.fleet import Alert, BreakerState, ServiceStatus, SourceHealth
from widgets import redraw
from widgets import text as fmt
from widgets.boardgroups import Needle
from widgets.sources import header_line as sources_line
from widgets.text import alert_text
from widgets.pager import header_text
from console.model.alertmanager import PagerView

# The states a filter must not hide silently, worst first.
WORRYING = (BreakerState.OPEN, BreakerState.FORCED_OPEN, BreakerState.CONFLICT,
            BreakerState.HALF_OPEN)


@dataclass(frozen=True)
class ResponseView:
    """The open incident's response clock (RUNBOOK-004: P0 within 5 minutes)."""

    incident_id: str
    severity: str
    remaining_s: float  # negative once overdue; frozen at acknowledgement
    acknowledged: bool


@dataclass(frozen=True)
class FilterView:
    """What the board's name filter hides."""

    text: str  # as typed
    hidden: int
    total: int
    worrying: tuple[tuple[BreakerState, int], ...]  # hidden breakers in WORRYING states


def filter_view(services: Iterable[ServiceStatus], text: str) -> FilterView:
    needle = Needle.parse(text)
    total, hidden = 0, Counter()
    for service in services:
        total += 1
        if not needle.lets_through(service):
            hidden[service.state] += 1
    return FilterView(text=text, hidden=sum(hidden.values()), total=total,
                      worrying=tuple((s, hidden[s]) for s in WORRYING if hidden[s]))


def filter_text(f: FilterView) -> Text:
    text = Text("filter /", style="bold")
    text.append(fmt.literal(f.text), style="bold")
    text.append(" hides ")
    if f.worrying:
        for n, (state, count) in enumerate(f.worrying):
            text.append(", " if n else "")
            text.append(f"{count} {state.label}", style=fmt.STATE_STYLE[state])
        text.append(f" ({f.hidden} of {f.total} services)")
    else:
        text.append(f"{f.hidden} of {f.total} services, none open or half-open", style="dim")
    return text


def response_text(r: ResponseView) -> Text:
    text = Text()
    if r.acknowledged:
        text.append(f"{r.severity} incident ", style="green")
        text.append(fmt.literal(r.incident_id), style="green")
        text.append(" acknowledged", style="green")
        return text
    if r.remaining_s < 0:
        text.append(f" {r.severity} RESPONSE OVERDUE +{fmt.duration(-r.remaining_s)} ",
                    style="bold white on red")
        text.append(" press a to acknowledge, x for escalation contacts", style="bold red")
        return text
    text.append(f"{r.severity} incident ", style="bold yellow")
    text.append(fmt.literal(r.incident_id), style="bold yellow")
    text.append(f": acknowledge (a) within {fmt.duration(r.remaining_s)}", style="bold yellow")
    return text


def production_text(contexts: tuple[tuple[str, bool], ...]) -> Text:
    text = Text("production: ", style="bold")
    for n, (context, unlocked) in enumerate(contexts):
        text.append(" · " if n else "")
        text.append(fmt.literal(context), style="bold")
        if unlocked:
            text.append(" ")
            text.append(" UNLOCKED ", style="bold white on magenta")
            text.append(" for this session", style="magenta")
        else:
            text.append(" locked (type its name in the confirmation dialog to unlock)",
                        style="dim")
    return text


def status_text(
    *,
    source: str,
    cluster: str,
    last_good: datetime | None,
    now: datetime,
    stale_reason: str | None,
    error: str | None,
    alerts: tuple[Alert, ...] = (),
    notices: tuple[str, ...] = (),
    mode: str | None = None,
    running: tuple[str, ...] = (),
    response: ResponseView | None = None,
    journal_problem: str | None = None,
    warnings: tuple[str, ...] = (),
    filtered: FilterView | None = None,
    pager: PagerView | None = None,
    production: tuple[tuple[str, bool], ...] = (),
    sources: tuple[SourceHealth, ...] = (),
    read_only_sites: frozenset[str] = frozenset(),
) -> Text:
    text = Text.assemble(("cbconsole", "bold"))
    if mode == "read-only":
        text.append("  ")
        text.append(" READ-ONLY ", style="bold white on blue")
    elif mode == "dry-run":
        text.append("  ")
        text.append(" DRY-RUN ", style="bold black on yellow")
    text.append_text(Text.assemble(
        "  source: ",
        fmt.label(source, "bold"),
        "  cluster: ",
        fmt.label(cluster),
        "  last poll: ",
    ))
    if last_good is None:
        text.append("none yet", style="dim")
    else:
        text.append(f"{fmt.clock_time(last_good)} {fmt.zone_label()} "
                    f"({fmt.since(last_good, now)} ago)")
    if stale_reason is not None:
        text.append("  ")
        text.append(" STALE ", style="bold white on red")
        text.append(" ")
        text.append(fmt.literal(stale_reason), style="bold red")
    elif error is not None:
        text.append("  last poll failed, retrying: ", style="yellow")
        text.append(fmt.literal(error), style="yellow")
    if production:  # each production context: locked, or unlocked this session
        text.append("\n")
        text.append_text(production_text(production))
    if sources:  # each source's own health, side by side (issue 18)
        text.append("\n")
        text.append_text(sources_line(sources, now, read_only_sites))
    for warning in warnings:  # e.g. TLS verification switched off
        text.append("\n")
        text.append(fmt.literal(warning), style="bold yellow")
    if journal_problem:
        text.append("\n")
        text.append(" JOURNAL ", style="bold white on red")
        text.append(" ")
        text.append(fmt.literal(journal_problem), style="bold red")
    if response is not None:
        text.append("\n")
        text.append_text(response_text(response))
    if filtered is not None:
        text.append("\n")
        text.append_text(filter_text(filtered))
    for name in running:
        text.append("\n")
        text.append("ACTION ", style="bold yellow")
        text.append(fmt.literal(name))
    for alert in alerts:
        text.append("\n")
        text.append_text(alert_text(alert))
        text.append(" (fleet-wide: the rule keeps no service label)", style="dim")
    if pager is not None:  # each page as Alertmanager holds it
        text.append("\n")
        text.append_text(header_text(pager))
    for notice in notices:
        text.append("\n")
        text.append("note: ", style="bold cyan")
        text.append(fmt.literal(notice))
    return text


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { dock: top; height: auto; background: $panel; padding: 0 1; }
    StatusLine.-stale { background: $error 30%; }
    StatusLine.-overdue { background: $error 45%; }
    """

    def show(self, **kwargs) -> None:
        self.set_class(kwargs.get("stale_reason") is not None, "-stale")
        response = kwargs.get("response")
        self.set_class(bool(response and not response.acknowledged and response.remaining_s < 0),
                       "-overdue")
        redraw.show_text(self, status_text(**kwargs))  # a poll and a tick in one second
