"""The feature-flag service's API as the runbook calls it: where a flag
lives and the curl line that changes it, token masked. Pure: the plan shows
these, console.sources.flags sends them."""

from __future__ import annotations

import shlex
from urllib.parse import quote

from console.errors import SourceError

FLAGS_PATH = "/api/v1/flags/"
MASK = "***"


def flag_url(base_url: str, name: str) -> str:
    """Where a flag lives: BASE/api/v1/flags/NAME, the name escaped."""
    return base_url.rstrip("/") + FLAGS_PATH + escape(name)


def curl_equivalent(base_url: str, name: str, enabled: bool) -> str:
    """The runbook's command for a change on the service at `base_url`,
    token masked, shell-quoted (also for flag sources without a URL)."""
    body = '{"enabled": %s}' % ("true" if enabled else "false")
    return " ".join(
        [
            "curl -X POST",
            shlex.quote(flag_url(base_url, name)),
            "-H",
            shlex.quote(f"Authorization: Bearer {MASK}"),
            "-H",
            shlex.quote("Content-Type: application/json"),
            "-d",
            shlex.quote(body),
        ]
    )


def escape(name: str) -> str:
    """One path segment, whatever the name: `/` is escaped and a name of only
    dots is escaped too (httpx, like browsers, would resolve `..`)."""
    if not name:
        raise SourceError("a flag needs a name")
    segment = quote(name, safe="")
    if set(segment) == {"."}:
        segment = segment.replace(".", "%2E")
    return segment
