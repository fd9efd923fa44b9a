"""Static.update() only when what it shows changed: each update lays out
the whole screen again and draws the widget anew (at 5,000 breakers a
screen's layout is 20-50 ms, the detail's instance table ~15 ms of it), and
the views redraw at every poll and every second whether or not anything on
screen moved. `key` is what the content is made from (equal key, equal
content): a Text by its words and styles, a table by its inputs."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual.widgets import Static

_shown: WeakKeyDictionary[Static, object] = WeakKeyDictionary()


def text_key(text: Text | str) -> tuple:
    """A Text's words, styles and layout (Text's own == leaves its style out)."""
    if isinstance(text, str):
        return (text,)
    return (text.plain, str(text.style), tuple(text.spans), text.justify, text.no_wrap,
            text.overflow, text.end)


def update(static: Static, content, key: object) -> bool:
    """Update `static` with `content` unless the last update had the same
    `key`; whether it updated."""
    if static in _shown and _shown[static] == key:
        return False
    static.update(content)
    _shown[static] = key
    return True


def always(static: Static, content) -> None:
    """Update `static` with content that has no key (the next keyed update draws)."""
    static.update(content)
    _shown.pop(static, None)


def show_text(static: Static, text: Text | str) -> bool:
    return update(static, text, text_key(text))
