"""The Prometheus API envelope's word that an answer may be incomplete."""

from __future__ import annotations

from typing import Callable

from console.secrets import scrub_text
from console.text import literal, shorten


#: A poll's warnings as told: each at most this long, this many at most.
MAX_WARNING = 200
MAX_WARNINGS = 5


def envelope_warnings(doc) -> list[str]:
    """The envelope's `warnings` and `infos` (Prometheus 2.x/3.x, Thanos'
    partial responses), and VictoriaMetrics cluster's `isPartial: true`."""
    if not isinstance(doc, dict):
        return []
    found = [w for key in ("warnings", "infos") if isinstance(doc.get(key), list)
             for w in doc[key]]
    if doc.get("isPartial") is True:
        found.append("partial response (isPartial): some storage nodes did not answer")
    return [str(w) for w in found]


def told(found: list[str], redact: Callable[[str], str]) -> tuple[str, ...]:
    """The distinct warnings, fit for a screen and a journal: secrets
    redacted (the source's own, and what looks like a credential: a proxy's
    warning may echo a header), control characters (escape sequences) escaped, each cut short,
    a few at most. Plain text: shown as text, never read as markup."""
    # Escapes made visible here (a journal, a log: any reader is safe); the
    # backslash is left for the screen's own literal() to double, once.
    clean = (shorten(literal(scrub_text(redact(str(w))), backslash=False), MAX_WARNING) for w in found)
    return tuple(dict.fromkeys(clean))[:MAX_WARNINGS]
