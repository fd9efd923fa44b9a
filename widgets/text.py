"""Turning model values into safe, styled text.

Label values come from the fleet's own instrumentation and are untrusted: a
service called "[bold red]x[/]" or holding terminal escape sequences must show
literally. Everything here returns rich Text (never markup strings), and
`literal` makes control characters visible instead of letting them act.
"""

from __future__ import annotations

from datetime import datetime, timezone

from zoneinfo import ZoneInfo

from rich.text import Text

from console.model.fleet import Alert, BreakerState
from console.text import literal, millis  # noqa: F401 - one copy: widgets use fmt.millis

STATE_STYLE = {
    BreakerState.OPEN: "bold white on red",
    BreakerState.FORCED_OPEN: "bold red",
    BreakerState.CONFLICT: "bold magenta",
    BreakerState.HALF_OPEN: "bold yellow",
    BreakerState.UNKNOWN: "dim",
    BreakerState.DISABLED: "blue",
    BreakerState.CLOSED: "green",
}

_ZONE: timezone | ZoneInfo = timezone.utc
_ZONE_LABEL = "UTC"
_SPARK = "▁▂▃▄▅▆▇█"


def clipped(value: str, width: int, style: str = "") -> Text:
    """An untrusted label, literal, cut to `width` cells with an ellipsis: a
    10,000-character name must not push everything else off the screen."""
    text = Text(literal(value), style=style, no_wrap=True, overflow="ellipsis")
    text.truncate(width, overflow="ellipsis")
    return text


def multiline(value: str) -> str:
    """`literal`, keeping line breaks (a request body, a command)."""
    return "\n".join(literal(line) for line in value.split("\n"))


def label(value: str, style: str = "") -> Text:
    """An untrusted label value as plain, literal text."""
    return Text(literal(value), style=style, no_wrap=True, overflow="ellipsis")


def state_text(state: BreakerState) -> Text:
    """The state as a word, coloured as a second channel."""
    return Text(state.label, style=STATE_STYLE[state])


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def since(then: datetime | None, now: datetime) -> str:
    return duration(None if then is None else (now - then).total_seconds())


def set_zone(name: str) -> None:
    """The operator's time zone for every time on screen (default UTC).
    One per process: the header and the column titles name it."""
    global _ZONE, _ZONE_LABEL
    _ZONE = timezone.utc if name in ("UTC", "utc") else ZoneInfo(name)
    _ZONE_LABEL = "UTC" if _ZONE is timezone.utc else name


def zone_label() -> str:
    return _ZONE_LABEL


def at_title() -> str:
    """The title of a time column: AT (UTC), AT (Europe/Paris)."""
    return f"AT ({_ZONE_LABEL})"


def clock_time(at: datetime | None) -> str:
    """HH:MM:SS in the operator's zone (the header and column titles name it)."""
    if at is None:
        return "—"
    return at.astimezone(_ZONE).strftime("%H:%M:%S")


def clock_or_date(at: datetime | None, now: datetime) -> str:
    """`clock_time` for a time on the operator's today, with the date before
    it otherwise: 10:38:08 two days ago must not read as this morning."""
    if at is None:
        return "—"
    day = at.astimezone(_ZONE).date()
    if day == now.astimezone(_ZONE).date():
        return clock_time(at)
    return f"{day.isoformat()} {clock_time(at)}"


def rate_str(value: float | None) -> str:
    """Calls per second in at most five characters: 12.3, 456, 7.8k; unknown
    stays visibly unknown."""
    if value is None:
        return "—"
    if value < 100:
        return f"{value:.1f}"
    if value < 10_000:
        return f"{value:.0f}"
    return f"{value / 1000:.0f}k"


def rate(value: float | None) -> Text:
    return Text(rate_str(value), style="dim" if value is None else "", justify="right")


def percent(value: float | None) -> Text:
    if value is None:
        return Text("—", style="dim", justify="right")
    style = "bold red" if value >= 50 else "yellow" if value >= 5 else ""
    return Text(f"{value:.1f}%", style=style, justify="right")


def sparkline(values: list[float | None], width: int) -> Text:
    """Error percentage over the last polls on a fixed 0-100 scale, so rows
    compare; a gap where there were no calls."""
    values = values[-width:]
    text = Text(" " * (width - len(values)))
    run, run_style = [], None
    for v in values:  # one span per run of a colour: a 1,000-row board redraws it each poll
        if v is None:
            char, style = "·", "dim"
        else:
            char = _SPARK[min(len(_SPARK) - 1, int(v / 100 * (len(_SPARK) - 1) + 0.5))]
            style = "red" if v >= 50 else "yellow" if v >= 5 else "green"
        if style != run_style and run:
            text.append("".join(run), style=run_style)
            run = []
        run.append(char)
        run_style = style
    if run:
        text.append("".join(run), style=run_style)
    return text


def countdown(at: datetime | None, now: datetime) -> str:
    """Time until `at`; once passed, how long it is overdue."""
    if at is None:
        return ""
    left = (at - now).total_seconds()
    if left >= 0:
        return f"in {duration(left)}"
    return f"due +{duration(-left)}"


def alert_text(alert: Alert) -> Text:
    """'ALERT name FIRING since 09:00:12' — loud when firing, amber when pending."""
    firing = alert.state == "firing"
    text = Text.assemble(
        ("ALERT ", "bold"),
        label(alert.name),
        " ",
        (alert.state.upper(), "bold white on red" if firing else "bold yellow"),
    )
    if alert.active_at is not None:
        text.append(f" active since {clock_time(alert.active_at)}")
    return text
