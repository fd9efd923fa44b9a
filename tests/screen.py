"""What the terminal receives: the text of every cell of the screen, modals
and toasts included, read from Textual's public screenshot (App.export_screenshot)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from widgets.confirm import ConfirmDialog

# Bytes that act instead of showing: ESC (CSI/OSC sequences), BEL (ends an
# OSC title), C1 CSI, NUL, backspace, CR, DEL, and the bidi override.
ACTING = {
    "\x1b": "ESC", "\x07": "BEL", "\x9b": "C1 CSI", "\x9d": "C1 OSC", "\x00": "NUL",
    "\x08": "BS", "\r": "CR", "\x7f": "DEL", "\u202e": "RLO",
}


# Rich's export_svg grid (console.py: char_height 20, font_aspect_ratio 0.61,
# line_height 1.22 x char_height): the SVG's x and y back to cells.
CHAR_W, LINE_H = 20 * 0.61, 20 * 1.22
SVG_TEXT = re.compile(r'<text class="([\w-]+)" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
                      r'clip-path="url\(#[\w-]+-line-(\d+)\)">(.*?)</text>', re.S)
SVG_RECT = re.compile(r'<rect fill="(#[0-9a-f]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
                      r'height="[\d.]+" shape-rendering="crispEdges"/>')
SVG_CLASS = re.compile(r"\.([\w-]+) \{ (.*?) \}")


def _cells(value: str, unit: float) -> int:
    cells = float(value) / unit
    assert abs(cells - round(cells)) < 0.01, f"{value} is off the {unit:g} grid: Rich changed"
    return round(cells)


def _style(css: str | None, bg: str | None) -> Style:
    rules = dict(rule.split(": ", 1) for rule in (css or "").replace(";;", ";").split(";") if rule)
    return Style(color=rules.get("fill"), bgcolor=bg, bold="font-weight" in rules,
                 italic="font-style" in rules, underline="underline" in rules.get("text-decoration", ""))


def screen_lines(app) -> list[list[Segment]]:
    """The segments of every line of the screen (a modal over its background
    and the toasts included), read back from Textual's public screenshot,
    which composes the screen as the terminal receives it. A style is what the
    SVG shows: its colours resolved, a colour never set as Rich's export theme
    has it (foreground #c5c8c6)."""
    width, height = app.size
    svg = app.export_screenshot()
    css = dict(SVG_CLASS.findall(svg))
    # Each cell: [text, css class, background]; a zero-width character (an
    # escape, say) joins the cell it precedes, so it is never lost.
    cells = [[[" ", None, None] for _ in range(width)] for _ in range(height)]
    for fill, x, y, w in SVG_RECT.findall(svg):
        row, col = _cells(str(float(y) - 1.5), LINE_H), _cells(x, CHAR_W)
        for c in range(col, min(width, col + _cells(w, CHAR_W))):
            cells[row][c][2] = fill
    for name, x, row, text in SVG_TEXT.findall(svg):
        line, col, pending = cells[int(row)], _cells(x, CHAR_W), ""
        # The compositor's line break comes out as a text of its own past the edge.
        for ch in html.unescape(text).replace("\xa0", " ").replace("\n", ""):
            size = cell_len(ch)
            if size == 0 or col >= width:
                pending += ch
                continue
            line[col][:2] = [pending + ch, name]
            for extra in range(col + 1, min(width, col + size)):
                line[extra][:2] = ["", name]
            col, pending = col + size, ""
        if pending:
            line[min(col, width) - 1][0] += pending
    lines = []
    for line in cells:
        runs: list[list] = []
        for text, name, bg in line:
            if runs and runs[-1][1:] == [name, bg]:
                runs[-1][0] += text
            else:
                runs.append([text, name, bg])
        lines.append([Segment(text, _style(css.get(name), bg)) for text, name, bg in runs])
    return lines


def screen_text(app) -> str:
    """Every line of the screen, as text."""
    return "\n".join("".join(s.text for s in line) for line in screen_lines(app))


def assert_inert(text: str, where: str = "the screen") -> None:
    found = sorted({name for ch, name in ACTING.items() if ch in text})
    assert not found, f"{', '.join(found)} reached {where}"


def rendered(widget) -> str:
    """One widget's lines as it renders them."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def row(widget, needle: str) -> str:
    """The first line of `widget` as rendered that holds `needle`."""
    return line_with(rendered(widget), needle)


def line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


def flat(text: str) -> str:
    """The text with lines joined and runs of spaces collapsed: a wrapped
    header line reads as one."""
    return " ".join(text.split())


async def settle(app, pilot, rounds: int = 3) -> None:
    """Let the app finish what a key or a poll started: workers, then the
    messages they post, a few rounds (a worker's result may start another)."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def dialog(app, pilot, key: str) -> ConfirmDialog:
    """Press `key` on a settled app; the confirmation dialog it opens."""
    await settle(app, pilot)
    await pilot.press(key)
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, ConfirmDialog), f"no dialog after {key!r}: {app.screen}"
    return screen


async def quiesce(app, pilot) -> None:
    """Let the work in flight end before the test leaves the app: a diagnosis
    landing during teardown must not be what the test sees. (The automatic
    diagnosis of a newly selected row waits 0.5 s on a timer.)"""
    timer = app.diagnosis.timer
    if timer is not None:
        timer.stop()
    await settle(app, pilot)


# Generous: a loaded 2-core machine is slow, never wrong. A wait that passes
# returns as soon as its event happens, so the deadline costs nothing then.
DEADLINE_S = 30.0


async def wait_until(pilot, condition: Callable[[], object], what: str,
                     deadline_s: float = DEADLINE_S) -> None:
    """Let the app run until `condition()` is true; fail naming `what` if it
    is not by the deadline. Instead of a fixed pause before looking."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s:g} s: {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


def wait_until_sync(condition: Callable[[], object], what: str,
                    deadline_s: float = DEADLINE_S) -> None:
    """wait_until for code without an app: servers, threads, processes."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s:g} s: {what}")
        time.sleep(0.01)


def toasts_text(app) -> str:
    """The text of the toasts on screen, as drawn, line by line."""
    return "\n".join(
        "".join(s.text for s in t.render_line(y)).rstrip()
        for t in app.screen.query("Toast") for y in range(t.size.height))


def keep_notifications(app) -> list[str]:
    """Every notification's message as the app was asked to show it, kept
    for the test to read: a toast times out in real time, and on a loaded
    machine it may be gone before a test looks. The toasts themselves stay
    on screen until the test ends (toasts_text reads them as drawn)."""
    shown: list[str] = []
    notify = app.notify

    def keep(message, *, timeout=None, **kwargs):
        shown.append(str(message))
        notify(message, timeout=24 * 3600.0, **kwargs)

    app.notify = keep
    return shown


async def diagnose(app, pilot) -> None:
    """The diagnosis pane shown and gathered again (keys 2, g)."""
    from widgets.diagnosis import DiagnosisPane

    await settle(app, pilot)
    await pilot.press("2", "g")
    await settle(app, pilot)
    assert app.query_one(DiagnosisPane).display


def left_pane(app) -> str:
    """The diagnosis pane's findings column, lines joined (the log column cut off)."""
    lines = [line.split("│", 1)[0] for line in screen_text(app).splitlines()]
    return flat("\n".join(lines))


async def open_row_pane(cluster, service_map, size=(220, 70)) -> str:
    """The diagnosis pane's findings of one OPEN payment-api row on `cluster`
    (the cluster is closed afterwards)."""
    from console.ui.app import CBConsoleApp
    from tests.fakes import ScriptedSource, clock, service

    c = clock()
    app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open")]), cluster=cluster,
                       service_map=service_map, poll_interval=3600, clock=c)
    try:
        async with app.run_test(size=size) as pilot:
            await diagnose(app, pilot)
            return left_pane(app)
    finally:
        cluster.close()


def log_column(app) -> str:
    lines = [line.split("│", 1)[1] for line in screen_text(app).splitlines() if "│" in line]
    return flat("\n".join(lines))


def log_text(app) -> str:
    """The action log's entries, as text."""
    from rich.console import Console

    out = Console(width=400, record=True)
    out.print(app.query_one("#action-entries").content)
    return out.export_text()
