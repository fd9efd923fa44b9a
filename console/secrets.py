"""Secrets seen this session (tokens a credential plugin or a token file gave),
redacted wherever text leaves the console: errors, the journal, exports.

A source calls `remember` the moment it obtains a secret, so a token refreshed
mid-incident is masked at once, not only the one read at start.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_known: list[str] = []
_MASK = "<redacted>"


def remember(secret: str | None) -> None:
    """Note a secret to redact from now on (short strings are not secrets)."""
    if not secret or len(secret) < 8:
        return
    with _lock:
        if secret not in _known:
            _known.append(secret)
            _known.sort(key=len, reverse=True)  # longest first: no partial leftovers


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        known = list(_known)
    for secret in known:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text
