"""The one check of every URL the operator gives (Prometheus, the flag
service, a service's health and smoke URLs): http(s) with a host, or a
message saying what to write instead."""

from __future__ import annotations

from urllib.parse import urlsplit


def check_url(value: str | None) -> str | None:
    """`value` unchanged, or ValueError("'prometheus:9090' has no scheme:
    use http://prometheus:9090"). A password in the value is never echoed."""
    if value is None:
        return None
    text = value.strip()
    shown = without_userinfo(text)
    if "://" not in text:
        raise ValueError(f"{shown!r} has no scheme: use http://{shown}")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        rest = shown.split("://", 1)[1]
        raise ValueError(f"{shown!r} is not http(s): use http://{rest} or https://{rest}")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{shown!r} has a port that is not a number") from None
    if not host:
        raise ValueError(f"{shown!r} has no host (e.g. http://prometheus:9090)")
    return value


def without_userinfo(url: str) -> str:
    """The URL without its user:password@ part, as written otherwise (no
    parsing that could fail and hand the URL back whole, no host lowercased,
    IPv6 brackets kept). The authority ends at the first / ? or #, as
    urlsplit reads it; the userinfo ends at its last @. With or without
    a scheme: the one place a URL is made fit to show."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end].rsplit("@", 1)[-1]
    return scheme + sep + authority + rest[end:]
