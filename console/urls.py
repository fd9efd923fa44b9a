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
    if "://" not in text:
        shown = _without_userinfo(text)
        raise ValueError(f"{shown!r} has no scheme: use http://{shown}")
    parts = urlsplit(text)
    shown = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl()
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


def _without_userinfo(text: str) -> str:
    authority, slash, rest = text.partition("/")
    return authority.rsplit("@", 1)[-1] + slash + rest
