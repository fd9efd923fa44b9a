"""Static.update() only when what it shows changed: each update lays out
the whole screen again and draws the widget anew (at 5,000 breakers a
screen's layout is 20-50 ms, the detail's instance table ~15 ms of it), and
the views redraw at every poll and every second whether or not anything on
screen moved. `key` is what the content is made from (equal key, equal
content): a Text by its words and styles, a table by its inputs."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual.visual import visualize
from textual.widgets import Static

_shown: WeakKeyDictionary[Static, object] = WeakKeyDictionary()
_height: WeakKeyDictionary[Static, tuple[int, int]] = WeakKeyDictionary()  # (width, lines)


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
    static.update(content, layout=_resizes(static, content))
    _shown[static] = key
    return True


def _resizes(static: Static, content) -> bool:
    """Whether `content` takes another number of lines than the static shows:
    only then is the screen laid out again (a string may be markup, whose
    lines only the Static itself knows: always laid out). A static not on
    screen (its tab hidden) is laid out when it is shown: not now."""
    if not static.is_on_screen:
        _height.pop(static, None)
        return False
    width = static.content_size.width
    styles = static.styles
    if isinstance(content, str) or width <= 0 or not (
            styles.height is None or styles.height.is_auto) or (
            styles.width is not None and styles.width.is_auto):
        _height.pop(static, None)
        return True
    lines = visualize(static, content, markup=False).get_height(styles, width)
    before = _height.get(static)
    _height[static] = (width, lines)
    return before != (width, lines)


def always(static: Static, content) -> None:
    """Update `static` with content that has no key (the next keyed update draws)."""
    static.update(content, layout=static.is_on_screen)
    _shown.pop(static, None)
    _height.pop(static, None)


def show_text(static: Static, text: Text | str) -> bool:
    return update(static, text, text_key(text))
