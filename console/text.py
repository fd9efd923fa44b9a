"""Rules for text the console shows or writes, one copy each: control
characters made visible, text cut to a length, latencies in words. Pure
functions on str; the widgets (widgets/text.py), the postmortem and the
sources all use these.
"""

from __future__ import annotations

import re

# Unicode's Bidi_Control characters: an override (U+202E) reorders the rest
# of the line in a bidi-aware terminal, so a label could make its row read
# as something else. Right-to-left letters themselves are shown as they are.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
_BIDI = "".join(sorted(BIDI_CONTROLS))
#: C0, DEL, C1 and the bidi controls: what must never reach a terminal as is.
CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROLS_OR_BACKSLASH = re.compile(f"[\\\\\x00-\x1f\x7f-\x9f{_BIDI}]")
#: What json.dumps leaves as is of CONTROLS (it escapes C0 itself).
JSON_UNESCAPED = re.compile(f"[\x7f-\x9f{_BIDI}]")

ELLIPSIS = "…"


def _escape(m: re.Match) -> str:
    ch = m[0]
    if ch == "\\":
        return "\\\\"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0xA0 else f"\\u{code:04x}"


def literal(value: str, *, backslash: bool = True) -> str:
    """The value with every control character shown as an escape (ESC as
    \\x1b, RLO as \\u202e), so it renders as the characters it holds and can
    neither move the cursor nor reorder the line. A backslash is doubled so
    that "\\x1b" written out stays distinct from ESC; `backslash=False` leaves
    that to the caller (the postmortem escapes backslashes as markdown)."""
    return (_CONTROLS_OR_BACKSLASH if backslash else CONTROLS).sub(_escape, value)


def one_line(value: object) -> str:
    """The text on one line, runs of white space as one space."""
    return " ".join(str(value).split())


def shorten(value: object, limit: int) -> str:
    """`one_line`, cut to `limit` characters with an ellipsis that says it was
    cut: an error page or a plugin's stderr can run to pages. Redact secrets
    before shortening: a token cut in half is no longer found."""
    text = one_line(value)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def page_words(text: str, limit: int = 160) -> str:
    """An answer's body shortened, an HTML error page (a proxy's) as its words."""
    return shorten(re.sub(r"<[^>]+>", " ", text), limit)


def millis(ms: float | None) -> str:
    """A latency: 12 ms, 2.5 s; unknown as —."""
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if round(ms) < 1000 else f"{ms / 1000:.1f} s"
