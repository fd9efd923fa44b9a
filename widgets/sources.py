"""Each metrics source's own truth: its header entry (ok, PARTIAL with a
count of warnings, STALE with the reason) and, in the detail pane, the
warnings themselves. Texts from a server are shown literally (no markup, no
escape sequences: widgets.text)."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from console.model.fleet import SourceHealth, SourceStatus
from widgets import text as fmt

REASON_MAX = 60  # cells of a STALE reason in the header; the detail pane has it whole
WARNING_MAX = 300  # cells of one warning in the detail pane
WARNINGS_SHOWN = 20


def entry(health: SourceHealth, now: datetime | None = None, read_only: bool = False) -> Text:
    """eu-west ok · us-east PARTIAL (2 warnings) · ap-south STALE: reason;
    a site configured read_only says so beside its name."""
    text = Text()
    text.append_text(fmt.label(health.name, "bold"))
    if read_only:
        text.append(" ")
        text.append(" READ-ONLY ", style="bold white on blue")
    if health.status is SourceStatus.STALE:
        text.append(" ")
        text.append(" STALE ", style="bold white on red")
        if health.reason:
            text.append(" ")
            text.append_text(fmt.clipped(health.reason, REASON_MAX, "bold red"))
        if health.as_of is not None and now is not None:
            text.append(f" (last good {fmt.since(health.as_of, now)} ago)", style="red")
    elif health.status is SourceStatus.PARTIAL:
        count = len(health.warnings)
        text.append(" ")
        text.append(" PARTIAL ", style="bold black on yellow")
        text.append(f" {count} warning{'' if count == 1 else 's'}", style="yellow")
    else:
        text.append(" ok", style="green")
    return text


def header_line(sources: tuple[SourceHealth, ...], now: datetime | None = None,
                read_only: frozenset[str] = frozenset()) -> Text:
    text = Text("sources: ")
    for n, health in enumerate(sources):
        text.append("  ·  " if n else "")
        text.append_text(entry(health, now, health.name in read_only))
    if any(h.status is SourceStatus.PARTIAL for h in sources):
        text.append("  (the warnings: a row of that site, detail pane)", style="dim")
    return text


def detail(health: SourceHealth | None) -> Text | None:
    """What the detail pane says of the selected row's source when it is
    not ok: STALE and why, or PARTIAL and the server's warnings."""
    if health is None or health.status is SourceStatus.OK:
        return None
    text = Text()
    if health.status is SourceStatus.STALE:
        text.append("source ")
        text.append_text(fmt.label(health.name, "bold"))
        text.append(" STALE", style="bold red")
        text.append(": these are its last good rows")
        if health.as_of is not None:
            text.append(f", as of {fmt.clock_time(health.as_of)}")
        if health.reason:
            text.append("\n  ")
            text.append_text(fmt.clipped(health.reason, WARNING_MAX, "red"))
        return text
    text.append("source ")
    text.append_text(fmt.label(health.name, "bold"))
    text.append(" PARTIAL", style="bold yellow")
    text.append(": its answer may be missing data; the server said:")
    for warning in health.warnings[:WARNINGS_SHOWN]:
        text.append("\n  · ")
        text.append_text(fmt.clipped(warning, WARNING_MAX, "yellow"))
    if len(health.warnings) > WARNINGS_SHOWN:
        text.append(f"\n  … and {len(health.warnings) - WARNINGS_SHOWN} more", style="dim")
    return text
