"""What the terminal receives: the text of every cell of the screen, modals
and toasts included, as the compositor hands it to the driver."""

from __future__ import annotations

# Bytes that act instead of showing: ESC (CSI/OSC sequences), BEL (ends an
# OSC title), C1 CSI, NUL, backspace, CR, DEL, and the bidi override.
ACTING = {
    "\x1b": "ESC", "\x07": "BEL", "\x9b": "C1 CSI", "\x9d": "C1 OSC", "\x00": "NUL",
    "\x08": "BS", "\r": "CR", "\x7f": "DEL", "\u202e": "RLO",
}


def screen_lines(app) -> list[list]:
    """The segments of every line of the screen (a modal over its background
    included), as the compositor hands them to the driver."""
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens
    )
    return [[segment for strip in line for segment in strip] for line in update.strips]


def screen_text(app) -> str:
    """Every line of the screen, as text."""
    return "\n".join("".join(s.text for s in line) for line in screen_lines(app))


def assert_inert(text: str, where: str = "the screen") -> None:
    found = sorted({name for ch, name in ACTING.items() if ch in text})
    assert not found, f"{', '.join(found)} reached {where}"


def line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


def flat(text: str) -> str:
    """The text with lines joined and runs of spaces collapsed: a wrapped
    header line reads as one."""
    return " ".join(text.split())


async def quiesce(app, pilot) -> None:
    """Let the work in flight end before the test leaves the app: a diagnosis
    landing during teardown must not be what the test sees. (The automatic
    diagnosis of a newly selected row waits 0.5 s on a timer.)"""
    timer = getattr(app, "_diagnose_timer", None)
    if timer is not None:
        timer.stop()
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
