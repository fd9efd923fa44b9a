"""Where a key is in a TOML file's text, so a config error names its line
(tomllib reports no positions for a value it parsed)."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?([^\]]+)\]\]?")
_KEY = re.compile(r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)"
                  r"(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=")
_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


def line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """The line of key `loc` in the TOML text: the key inside its table, else
    the nearest enclosing table or key (the value may be inline)."""
    table: tuple[str, ...] = ()
    best, best_depth = None, 0
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_string = not in_string
            continue
        if in_string:
            continue
        header = _HEADER.match(line)
        key = None if header else _KEY.match(line)
        if header:
            table = _parts(header.group(1))
            path = table
        elif key:
            path = (*table, *_parts(key.group(1)))
        else:
            continue
        if path == loc:
            return number
        if len(path) > best_depth and loc[:len(path)] == path:
            best, best_depth = number, len(path)
    return best


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g is not None) for m in _PART.finditer(dotted))
