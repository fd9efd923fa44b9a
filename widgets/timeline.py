"""The timeline pane: the incident's journal, in order, with times relative to
the alert, under a strip that sums the incident up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from console.model import BreakerState
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
    "gap": "dim italic",
}


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    offset: str  # "T+03:12" from the alert (T-… before it)
    kind: str
    service: str | None
    text: str  # untrusted parts inside: rendered literally
    written: bool = True  # False: waiting in memory, not on disk yet


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


def timeline_table(rows: list[TimelineRow]) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    for title in (fmt.at_title(), "T+", "EVENT"):
        table.add_column(title, no_wrap=title != "EVENT")
    table.columns[2].ratio = 1
    for row in rows:
        event = Text(fmt.literal(row.text), style=KIND_STYLE.get(row.kind, ""))
        if not row.written:
            event = Text.assemble((" NOT YET WRITTEN ", "bold white on red"), " ", event)
        table.add_row(fmt.clock_time(row.at), row.offset, event)
    if not rows:
        table.add_row("", "", Text("nothing recorded yet", style="dim"))
    return table


class TimelinePane(Vertical):
    DEFAULT_CSS = """
    TimelinePane #timeline-summary { height: auto; padding: 0 1; background: $panel; }
    TimelinePane #timeline-scroll { padding: 0 1; }
    """

    def compose(self):
        yield Static(id="timeline-summary")
        with VerticalScroll(id="timeline-scroll"):
            yield Static(id="timeline-rows")

    def show(self, view: IncidentView | None, rows: list[TimelineRow], now: datetime) -> None:
        self.query_one("#timeline-summary", Static).update(summary_text(view, now))
        self.query_one("#timeline-rows", Static).update(timeline_table(rows))
