"""The action log pane: what is running now (with a progress bar while a
rollout proceeds) and every step of every action, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static

from console.mitigations.plan import Progress
from console.mitigations.recorder import ActionEvent, Stage
from widgets import redraw
from widgets import text as fmt

STAGE_STYLE = {
    Stage.ASKED: "dim",
    Stage.CANCELLED: "dim",
    Stage.CONFIRMED: "cyan",
    Stage.SENT: "cyan",
    Stage.SUCCEEDED: "green",
    Stage.VERIFIED: "bold green",
    Stage.FAILED: "bold red",
    Stage.UNKNOWN: "bold yellow",
}
SHOWN = 200  # entries drawn; the journal keeps them all


def event_message(event: ActionEvent) -> str:
    """The one line worth reading; the whole request is in the dialog and
    the journal."""
    d = event.details
    for key in ("message", "error"):
        if d.get(key):
            return d[key]
    if event.stage == Stage.SENT and d.get("request"):
        return d["request"].split("\n", 1)[0]
    if d.get("title"):
        return d["title"]
    return ", ".join(f"{k}={v}" for k, v in d.items()
                     if k not in ("request", "equivalent", "reason"))


def log_table(events: Sequence[ActionEvent]) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    shown = events[-SHOWN:]
    sites = any(event.site for event in shown)  # several clusters: which one each acted on
    titles = (fmt.at_title(), "ACTION", "SERVICE", *(("CLUSTER",) if sites else ()), "STAGE",
              "TARGET / OUTCOME")
    for title in titles:
        table.add_column(title, no_wrap=title != "TARGET / OUTCOME")
    table.columns[-1].ratio = 1
    for event in reversed(shown):
        message = event_message(event)
        table.add_row(
            fmt.clock_time(event.at),
            event.action,
            fmt.label(event.service),
            *((fmt.label(event.site),) if sites else ()),
            Text(event.stage.value.upper(), style=STAGE_STYLE[event.stage]),
            Text.assemble(fmt.label(event.target), "  ", (fmt.literal(message), "dim")),
        )
    if not events:
        table.add_row("", Text("no action yet: r restart, f fallback, d flag, s smoke test",
                               style="dim"))
    return table


class ActionLog(Vertical):
    DEFAULT_CSS = """
    ActionLog #action-current { height: auto; padding: 0 1; }
    ActionLog ProgressBar { padding: 0 1; height: 1; }
    ActionLog ProgressBar.-idle { display: none; }
    ActionLog #action-log { padding: 0 1; }
    """

    def compose(self):
        yield Static(id="action-current")
        yield ProgressBar(total=100, show_eta=False, classes="-idle", id="action-progress")
        with VerticalScroll(id="action-log"):
            yield Static(id="action-entries")

    def show(self, events: Sequence[ActionEvent], running: dict[str, Progress]) -> None:
        # Read once: a worker records into the same list meanwhile, and a
        # table made from one read under the key of a later one is never
        # drawn again (the failed step of a PATCH answered at once was lost).
        events = tuple(events)
        current = self.query_one("#action-current", Static)
        bar = self.query_one(ProgressBar)
        if running:
            text = Text()
            for name, progress in running.items():
                text.append("RUNNING ", style="bold yellow")
                text.append(fmt.literal(name), style="bold")
                text.append("  ")
                text.append(fmt.literal(progress.message))
                text.append("\n")
            text.rstrip()
            redraw.show_text(current, text)
            fractions = [p.fraction for p in running.values()]
            bar.remove_class("-idle")
            if all(f is not None for f in fractions):
                bar.update(total=100, progress=100 * min(fractions))
            else:
                bar.update(total=None)
        else:
            redraw.show_text(current, Text("nothing running", style="dim"))
            bar.add_class("-idle")
        # The events are frozen: the same ones, the same table.
        redraw.update(self.query_one("#action-entries", Static), log_table(events),
                      (events, fmt.at_title()))
