"""The feature-flag service, as the runbook's Option 4 drives it:

    curl -X POST http://feature-flags:8080/api/v1/flags/NAME \\
      -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"enabled": false}'
    curl http://feature-flags:8080/api/v1/flags/NAME      # verify

Reads are open; a change needs the admin bearer token, read from an
environment variable or a file at the moment of the change (tokens rotate) and
never kept, logged, shown or put in an error message.

Blocking, on one reused httpx.Client: the app calls it from thread workers.
"""

from __future__ import annotations

import os
import shlex
import ssl
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from console import secrets as _secrets
from console.errors import TimedOut
from console.model import Flag
from console.sources.base import SourceError
from console.sources.deadline import Deadline, guard_httpx

if TYPE_CHECKING:  # imported where used: console.actions (and so the demo) needs no httpx
    import httpx

FLAGS_PATH = "/api/v1/flags/"
MASK = "***"
_BODY_LIMIT = 200


class _Unauthorized(SourceError):
    """The flag service answered 401."""


class HttpFlagService:
    """A FlagSource over the flag service's HTTP API."""

    def __init__(
        self,
        url: str,
        *,
        token_env: str | None = None,
        token_file: Path | None = None,
        timeout: float = 5.0,
        verify: bool | str = True,
        deadline: float | None = None,
    ) -> None:
        import httpx

        if token_env and token_file:
            raise ValueError("give token_env or token_file, not both")
        parsed = httpx.URL(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise SourceError(f"flag service URL must be http(s)://host[:port]: {url!r}")
        self._url = str(parsed).rstrip("/")
        self._password = parsed.password or None  # only ever scrubbed from messages
        self.url = str(parsed.copy_with(username=None, password=None)).rstrip("/")
        self.label = "flags " + self.url
        self.token_env = token_env
        self.token_file = Path(token_file) if token_file else None
        self.timeout = timeout
        #: A request's total time: a trickled answer cannot hold a read or the POST.
        self.deadline = deadline or 2 * timeout
        self._client = httpx.Client(
            timeout=timeout,
            verify=_ssl_verify(verify),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "cbconsole"},
        )
        guard_httpx(self._client)

    # --- FlagSource ----------------------------------------------------------------

    def get_flag(self, name: str) -> Flag:
        response = self._request("GET", name)
        return self._parse(name, response)

    def set_flag(self, name: str, enabled: bool) -> Flag:
        enabled = bool(enabled)
        token = self._token()
        try:
            self._post(name, enabled, token)
        except _Unauthorized:
            # A 401 means the service changed nothing; a token file may have
            # rotated meanwhile (a projected token): read it again, send once more.
            fresh = self._token()
            if fresh == token:
                raise
            self._post(name, enabled, fresh)
        flag = self.get_flag(name)
        if flag.enabled != enabled:
            still = "enabled" if flag.enabled else "disabled"
            raise SourceError(f"flag {name} still {still} after the change")
        return flag

    def _post(self, name: str, enabled: bool, token: str) -> None:
        self._request("POST", name, json={"enabled": enabled},
                      headers={"Authorization": f"Bearer {token}"}, secrets=(token,))

    # --- For the operator ----------------------------------------------------------

    def curl_equivalent(self, name: str, enabled: bool) -> str:
        """The runbook's command for this change, token masked, shell-quoted."""
        return curl_equivalent(self.url, name, enabled)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFlagService:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpFlagService({self.url!r}, {self._describe_token()})"

    # --- Internals -----------------------------------------------------------------

    def _describe_token(self) -> str:
        if self.token_env:
            return f"token from ${self.token_env}"
        if self.token_file:
            return f"token from {self.token_file}"
        return "no token"

    def _token(self) -> str:
        if self.token_env:
            value = os.environ.get(self.token_env, "").strip()
            if not value:
                raise SourceError(
                    f"flag service token: environment variable {self.token_env} is not set"
                )
            where = f"${self.token_env}"
        elif self.token_file:
            try:
                value = self.token_file.read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                why = getattr(exc, "strerror", None) or "not text"
                raise SourceError(
                    f"flag service token: cannot read {self.token_file}: {why}"
                ) from None
            if not value:
                raise SourceError(f"flag service token: {self.token_file} is empty")
            where = str(self.token_file)
        else:
            raise SourceError(
                "flag service token: none configured (give token_env or token_file)"
            )
        if not all(33 <= ord(c) < 127 for c in value):
            raise SourceError(
                f"flag service token from {where} has characters an HTTP header cannot carry"
            )
        _secrets.remember(value)  # masked in the journal and exports from now on
        return value

    def _request(
        self,
        method: str,
        name: str,
        *,
        json: dict | None = None,
        headers: dict | None = None,
        secrets: tuple[str, ...] = (),
    ) -> httpx.Response:
        import httpx

        url = self._url + FLAGS_PATH + _escape(name)
        scrub = tuple(s for s in (*secrets, self._password) if s)
        deadline = Deadline(self.deadline)
        error: SourceError | None = None
        try:
            with deadline:
                response = self._client.request(method, url, json=json, headers=headers)
        except httpx.HTTPError as exc:
            error = self._unreachable(exc, scrub)
        if deadline.expired:
            # Cut off by the deadline, whatever broke (an answer cut mid-headers
            # can even look whole): a POST may have been acted on, and the
            # caller reads the flag back.
            error = TimedOut(f"flag service at {self.url} timed out after "
                             f"{self.deadline:g} s", self.deadline)
        if error is not None:
            raise error  # outside the except block: nothing chained
        status = response.status_code
        if 200 <= status < 300:
            return response
        if status == 401:
            raise _Unauthorized("the flag service rejected the token (401)")
        if status == 403:
            raise SourceError(
                "the flag service refused: the token may not change flags (403)"
            )
        if status == 404:
            raise SourceError(f'flag "{name}" not found')
        body = _short(_scrubbed(response.text, scrub)) or response.reason_phrase
        raise SourceError(_scrubbed(f"the flag service answered {status}: {body}", scrub))

    def _unreachable(self, exc: Exception, scrub: tuple[str, ...]) -> SourceError:
        import httpx

        at = f"flag service at {self.url} unreachable"
        if isinstance(exc, httpx.TimeoutException):
            return SourceError(f"{at}: no answer within {self.timeout:g}s")
        if isinstance(exc, httpx.ConnectError):
            why = "connection refused" if "refused" in str(exc).lower() else _short(str(exc))
            return SourceError(_scrubbed(f"{at}: {why}", scrub))
        if isinstance(exc, httpx.RemoteProtocolError):
            # Not the bytes themselves: they may be anything (and are of no use).
            why = ("connection closed by the server" if "disconnected" in str(exc)
                   else "it answered something that is not HTTP")
            return SourceError(f"{at}: {why}")
        if "reset" in str(exc).lower():
            return SourceError(f"{at}: connection reset")
        return SourceError(_scrubbed(f"{at}: {_short(str(exc)) or type(exc).__name__}", scrub))

    def _parse(self, name: str, response: httpx.Response) -> Flag:
        try:
            data = response.json()
        except ValueError:
            raise SourceError(
                f"the flag service answered something that is not JSON for flag {name}: "
                f"{_short(_scrubbed(response.text, (self._password,) if self._password else ()))}"
            ) from None
        if isinstance(data, dict) and "enabled" not in data:
            # {"flag": {...}} or {"data": {...}}
            inner = next(
                (data[k] for k in ("flag", "data") if isinstance(data.get(k), dict)), None
            )
            data = inner if inner is not None else data
        if not isinstance(data, dict) or not isinstance(data.get("enabled"), bool):
            raise SourceError(
                f"the flag service answered without an enabled true/false for flag {name}"
            )
        return Flag(
            name=name,
            enabled=data["enabled"],
            updated_at=_timestamp(data.get("updated_at", data.get("updatedAt"))),
        )


def flag_url(base_url: str, name: str) -> str:
    """Where a flag lives: BASE/api/v1/flags/NAME, the name escaped."""
    return base_url.rstrip("/") + FLAGS_PATH + _escape(name)


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


def _escape(name: str) -> str:
    """One path segment, whatever the name: `/` is escaped and a name of only
    dots is escaped too (httpx, like browsers, would resolve `..`)."""
    if not name:
        raise SourceError("a flag needs a name")
    segment = quote(name, safe="")
    if set(segment) == {"."}:
        segment = segment.replace(".", "%2E")
    return segment


def _ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    if isinstance(verify, bool):
        return verify
    try:
        return ssl.create_default_context(cafile=str(verify))
    except (OSError, ssl.SSLError) as exc:
        raise SourceError(f"flag service CA bundle {verify}: cannot load: {exc}") from None


def _timestamp(value) -> datetime | None:
    """ISO 8601 or epoch seconds, as UTC; anything else is unknown."""
    try:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _BODY_LIMIT else text[: _BODY_LIMIT - 1] + "…"


def _scrubbed(message: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        message = message.replace(secret, MASK)
    return message
