"""How Alertmanager holds an alert, in words: the ALERT column's cell, the
detail line, and the header's lines (each alert, members not answering,
the rule). Label values and comments are shown literally."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from console.model.alertmanager import ManagedAlert, PagerView
from console.model.fleet import Alert
from widgets import text as fmt

WORD_STYLE = {
    "SILENCED": "bold black on yellow",
    "INHIBITED": "bold white on blue",
    "FIRING": "bold white on red",
}


def cell(alert: Alert, now: datetime | None) -> Text:
    """The ALERT column: SILENCED / INHIBITED / FIRING as Alertmanager says,
    a pending alert's countdown to firing."""
    if alert.pager is not None:
        word = alert.pager.word
        return Text(word, style=WORD_STYLE.get(word, "bold"))
    if alert.state == "firing":
        return Text("FIRING", style="bold white on red")
    if alert.fires_at is not None and now is not None:
        return Text(fmt.countdown(alert.fires_at, now), style="yellow")
    return Text("pending", style="yellow")


def managed_words(m: ManagedAlert) -> Text:
    """'SILENCED by alice until 10:15 UTC ("INC-…") · since 09:00:12 · receivers pager'."""
    word = m.word
    text = Text.assemble((word, WORD_STYLE.get(word, "bold")))
    for silence in m.silenced_by:
        text.append(" by ")
        text.append_text(fmt.label(silence.created_by or "unknown", "bold"))
        if silence.ends_at is not None:
            text.append(f" until {fmt.clock_time(silence.ends_at)} {fmt.zone_label()}")
        if silence.comment:
            text.append(" (")
            text.append(fmt.literal(silence.comment))
            text.append(")")
    if m.inhibited_by:
        text.append(" inhibited by ")
        text.append(fmt.literal(", ".join(m.inhibited_by)))
    if m.starts_at is not None:
        text.append(f" · since {fmt.clock_time(m.starts_at)}")
    text.append(" · receivers ")
    text.append(fmt.literal(", ".join(m.receivers) or "none"))
    return text


def header_text(pager: PagerView) -> Text:
    """The header's Alertmanager lines (joined by newlines)."""
    lines: list[Text] = []
    for m in pager.alerts:
        line = Text.assemble(("PAGE ", "bold"), fmt.label(m.name))
        labels = ",".join(f"{k}={v}" for k, v in sorted(m.labels.items()) if k != "alertname")
        line.append(" {")
        line.append(fmt.literal(labels))
        line.append("} ")
        line.append_text(managed_words(m))
        lines.append(line)
    if not pager.alerts and pager.answered:
        lines.append(Text("Alertmanager: no CircuitBreakerOpen alert held", style="dim"))
    for url, why in pager.down:
        line = Text.assemble(("ALERTMANAGER DOWN ", "bold red"), fmt.literal(url), ": ")
        line.append(fmt.literal(why), style="red")
        if pager.answered:
            line.append(" (the other member is used)", style="dim")
        lines.append(line)
    rule = pager.rule
    if rule is not None:
        line = Text.assemble(("rule ", "dim"), fmt.literal(rule.expr),
                             (f" for {fmt.duration(rule.for_s)}", "dim"))
        lines.append(line)
    elif pager.rule_error:
        lines.append(Text.assemble(("rule unknown: ", "yellow"), fmt.literal(pager.rule_error)))
    return Text("\n").join(lines)
