"""The feature-flag service, as the runbook's Option 4 drives it:

    curl -X POST http://feature-flags:8080/api/v1/flags/NAME \\
      -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"enabled": false}'
    curl http://feature-flags:8080/api/v1/flags/NAME      # verify

Reads are open; a change needs the admin bearer token, from an environment
variable at the moment of the change, or from a file read again whenever it
changed and on a 401 (tokens rotate: console/sources/tokenfile.py); never
logged, shown or put in an error message.

Blocking, on one reused httpx.Client: the app calls it from thread workers.
"""

from __future__ import annotations

import os
import ssl
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from console import secrets as _secrets
from console.model.fleet import Flag
from console.errors import Unauthorized, Unreachable, caused_by
from console.model.flagapi import FLAGS_PATH, MASK, curl_equivalent
from console.model.flagapi import escape as _escape
from console.sources.base import SourceError
from console.text import shorten
from console.urls import without_userinfo
from console.sources.tokenfile import TokenFile
from console.errors import TimedOut
from console.sources.deadline import Deadline, guard_httpx

if TYPE_CHECKING:  # imported where used: the demo needs no httpx
    import httpx

_BODY_LIMIT = 200


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
            raise SourceError("flag service URL must be http(s)://host[:port]: "
                              f"{without_userinfo(url.strip())!r}")
        self._url = str(parsed).rstrip("/")
        self._password = parsed.password or None  # only ever scrubbed from messages
        self.url = without_userinfo(self._url)
        self.label = "flags " + self.url
        self.token_env = token_env
        self.token_file = Path(token_file) if token_file else None
        # Read again when the file changes (a projected token rotates) and on a 401.
        self._token_file = (TokenFile(self.token_file, "flag service token")
                            if self.token_file else None)
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
        except Unauthorized:
            # A 401 means the service changed nothing; a token file may have
            # rotated meanwhile (a projected token): read it again, send once more.
            if self._token_file is None:
                raise
            fresh = self._token(again=True)
            if fresh == token:
                raise self._refused_file() from None
            try:
                self._post(name, enabled, fresh)
            except Unauthorized:
                raise self._refused_file() from None
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

    def _refused_file(self) -> SourceError:
        return SourceError(f"the flag service rejected the token from {self.token_file} "
                           "(401), also after reading the file again")

    def _token(self, again: bool = False) -> str:
        if self._token_file is not None:
            return self._token_file.reread() if again else self._token_file.read()
        if self.token_env:
            value = os.environ.get(self.token_env, "").strip()
            if not value:
                raise SourceError(
                    f"flag service token: environment variable {self.token_env} is not set"
                )
            where = f"${self.token_env}"
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
            raise Unauthorized("the flag service rejected the token (401)")
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
            return Unreachable(f"{at}: no answer within {self.timeout:g}s")
        if isinstance(exc, httpx.ConnectError):
            why = ("connection refused" if caused_by(exc, ConnectionRefusedError)
                   else _short(_scrubbed(str(exc), scrub)))
            return Unreachable(_scrubbed(f"{at}: {why}", scrub))
        if isinstance(exc, httpx.RemoteProtocolError):
            # Not the bytes themselves: they may be anything (and are of no use).
            # (httpcore says a disconnection in words only: no type of its own.)
            why = ("connection closed by the server" if "disconnected" in str(exc)
                   else "it answered something that is not HTTP")
            return Unreachable(f"{at}: {why}")
        if caused_by(exc, ConnectionResetError):
            return Unreachable(f"{at}: connection reset")
        return Unreachable(_scrubbed(
            f"{at}: {_short(_scrubbed(str(exc), scrub)) or type(exc).__name__}", scrub))

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
    return shorten(text, _BODY_LIMIT)


def _scrubbed(message: str, secrets: tuple[str | None, ...]) -> str:
    return _secrets.redact(message, secrets)
