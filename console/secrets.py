"""Secrets seen this session (tokens a credential plugin or a token file gave),
redacted wherever text leaves the console: errors, the journal, exports.

A source calls `remember` the moment it obtains a secret, so a token refreshed
mid-incident is masked at once, not only the one read at start.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

_lock = threading.Lock()
_known: list[str] = []
#: The one mask, wherever a secret is taken out: messages, the journal, the
#: commands shown for copying ("Authorization: Bearer ***").
MASK = "***"
#: Shorter strings are not redacted everywhere (a note saying "prom" must not
#: lose letters of "prometheus"); a source still masks its own, any length.
MIN_REMEMBERED = 8


def remember(secret: str | None) -> None:
    """Note a secret to redact from now on (short strings are not secrets)."""
    if not secret or len(secret) < MIN_REMEMBERED:
        return
    with _lock:
        if secret not in _known:
            _known.append(secret)
            _known.sort(key=len, reverse=True)  # longest first: no partial leftovers


def known() -> tuple[str, ...]:
    """The secrets remembered so far (the poll process hands them on)."""
    with _lock:
        return tuple(_known)


def redact(text: str, also: Iterable[str | None] = ()) -> str:
    """`text` with every secret remembered, and those in `also` (a source's
    own, any length), replaced by MASK, the longest first: a secret that
    holds another is never left half shown."""
    if not text:
        return text
    with _lock:
        known = set(_known)
    known.update(s for s in also if s)
    for secret in sorted(known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_MASKED = re.escape(MASK)
_SCRUBS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    (re.compile(r"(?i)(authorization\s*+[:=]\s*+)(?!(?:bearer|basic)\s+" + _MASKED
                + r")[^\n,;\"']+"), rf"\1{MASK}"),
    (re.compile(r"(?i)([?&;\s]|^)((?:access_|id_|refresh_)?token|api_?key|password|secret)"
                r"=([^&\s\"']+)"), rf"\1\2={MASK}"),
)


def scrub_text(text: str) -> str:
    """Mask what looks like a credential. The sources mask already: this is the
    journal's own guard, since a journal file outlives the session."""
    text = redact(text)  # every token obtained so far, refreshed ones too
    for pattern, repl in _SCRUBS:
        text = pattern.sub(repl, text)
    return text
