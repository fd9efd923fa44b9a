"""The recent commits in the diagnosis pane (runbook Diagnosis 3), read on
the console's host: newest first, each dated against the breaker's opening,
with the rollouts whose image tag or change-cause names it."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from console.model.commits import CommitsView
from widgets import text as fmt

SHOWN = 8


def relative(at: datetime, opened_at: datetime | None, now: datetime) -> str:
    if opened_at is None:
        return f"{fmt.since(at, now)} ago"
    if at <= opened_at:
        return f"{fmt.since(at, opened_at)} before the opening"
    return f"{fmt.since(opened_at, at)} after the opening"


def commits_text(view: CommitsView | None, now: datetime) -> Text | None:
    if view is None:
        return None
    text = Text.assemble(("COMMITS  ", "bold"))
    if view.repo:
        where = view.repo + (f" -- {view.path}" if view.path else "")
        text.append_text(fmt.label(where))
        text.append(f"  last {view.since_minutes} min, git log on this host", style="dim")
    if view.error is not None:
        text.append("\n  not read: ", style="bold yellow")
        text.append(fmt.literal(view.error), style="yellow")
        return text
    if not view.commits:
        text.append(f"\n  none in the last {view.since_minutes} min", style="dim")
    for line in view.commits[:SHOWN]:
        c = line.commit
        text.append("\n  ")
        text.append(c.short, style="bold" if line.rollouts else "")
        text.append(f"  {relative(c.committed_at, view.opened_at, now)}  ", style="dim")
        text.append_text(fmt.label(c.subject))
        text.append("  (")
        text.append_text(fmt.label(c.author))
        text.append(")")
        if line.rollouts:
            text.append("  = " + ", ".join(line.rollouts), style="bold dark_orange3")
    if len(view.commits) > SHOWN:
        text.append(f"\n  +{len(view.commits) - SHOWN} more", style="dim")
    return text
