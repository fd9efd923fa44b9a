"""The header line: where the data comes from, how fresh it is, and STALE
loudly when it is not fresh."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from console.model import Alert
from widgets import text as fmt
from widgets.text import alert_text


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
) -> Text:
    text = Text.assemble(
        ("cbconsole", "bold"),
        "  source: ",
        fmt.label(source, "bold"),
        "  cluster: ",
        fmt.label(cluster),
        "  last poll: ",
    )
    if last_good is None:
        text.append("none yet", style="dim")
    else:
        text.append(f"{fmt.clock_time(last_good)} UTC ({fmt.since(last_good, now)} ago)")
    if stale_reason is not None:
        text.append("  ")
        text.append(" STALE ", style="bold white on red")
        text.append(" ")
        text.append(fmt.literal(stale_reason), style="bold red")
    elif error is not None:
        text.append("  last poll failed, retrying: ", style="yellow")
        text.append(fmt.literal(error), style="yellow")
    for alert in alerts:
        text.append("\n")
        text.append_text(alert_text(alert))
        text.append(" (fleet-wide: the rule keeps no service label)", style="dim")
    for notice in notices:
        text.append("\n")
        text.append("note: ", style="bold cyan")
        text.append(fmt.literal(notice))
    return text


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { dock: top; height: auto; background: $panel; padding: 0 1; }
    StatusLine.-stale { background: $error 30%; }
    """

    def show(self, **kwargs) -> None:
        self.set_class(kwargs.get("stale_reason") is not None, "-stale")
        self.update(status_text(**kwargs))
