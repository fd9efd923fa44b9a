"""The HTTP side of the Prometheus source: one `PrometheusConnect` (one
requests Session, so one kept-alive connection), real-deployment auth, and
every failure turned into a `SourceError` an operator can act on.

Secrets (bearer token, basic-auth password) are read from an environment
variable or a file named in the config, never taken as a value: they never
reach a repr, a label, an error message or a log line.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from console import secrets
from console.errors import NotSent, TimedOut, Unreachable
from console.sources import deadline as _deadline
from console.sources.base import SourceError
from console.sources.prometheus.profiles import ConfigError
from console.sources.prometheus.auth import PrometheusAuth
from console.text import page_words
from console.sources.prometheus.envelope import envelope_warnings, told
from console.urls import without_userinfo
from console.sources.tokenfile import TokenFile

log = logging.getLogger(__name__)


class PollTimedOut(Unreachable, TimedOut):
    """The total deadline passed mid-answer (a trickling server): retried at
    the next poll like no answer at all."""


class _SecretAuth(requests.auth.AuthBase):
    """Sets Authorization per request from a getter, so a rotated token file
    is picked up; repr says nothing of the secret."""

    def __init__(self, header: Callable[[], str]) -> None:
        self._header = header

    def __call__(self, request):
        request.headers["Authorization"] = self._header()
        return request

    def __repr__(self) -> str:
        return "<auth header>"


def split_url(url: str) -> tuple[str, bool]:
    """The URL without userinfo or trailing slash, and whether it had userinfo."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"Prometheus URL must be http(s)://host[:port][/path], got {_safe(url)!r}"
        )
    had_userinfo = "@" in parts.netloc
    netloc = urlsplit(without_userinfo(url.strip())).netloc
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), had_userinfo


def _safe(url: str) -> str:
    return without_userinfo(url)


class _Answer(Exception):
    """An answer the API contract does not allow, found by the response hook."""

    def __init__(self, status: int, reason: str, error_type: str = "", error: str = "",
                 body: str = "") -> None:
        super().__init__(status)
        self.status, self.reason = status, reason
        self.error_type, self.error, self.body = error_type, error, body
        self.reread = False  # refused again after the secret file was read again


def _check_answer(response: requests.Response, *args, **kwargs) -> requests.Response:
    """Response hook: let the library see only well-formed successful API answers."""
    if response.is_redirect or "/api/v1/" not in urlsplit(response.url).path:
        return response
    body = response.content  # reads the body: the connection goes back to the pool
    try:
        # orjson: 1.7x faster than json on a 5,000-breaker poll's 2.8 MB.
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if response.status_code != 200:
        error_type = error = ""
        if isinstance(doc, dict):
            error_type, error = str(doc.get("errorType", "")), str(doc.get("error", ""))
        raise _Answer(response.status_code, response.reason or "", error_type, error,
                      response.text)
    if not isinstance(doc, dict):
        raise _Answer(200, "malformed JSON", body=response.text)
    if doc.get("status") != "success":
        raise _Answer(200, "error", str(doc.get("errorType", "")), str(doc.get("error", "")),
                      response.text)
    if not isinstance(doc.get("data"), (dict, list)):
        raise _Answer(200, "no data", body=response.text)
    # The library parses the body again; hand it this parse instead (at 1,000
    # services decoding twice cost a fifth of the poll).
    response.json = lambda **_: doc
    return response


class PromClient:
    """Instant and range queries over one reused connection."""

    server = "Prometheus"  # in messages; the Alertmanager client shares the transport

    def __init__(self, url: str, auth: PrometheusAuth | None = None, timeout: float = 5.0,
                 deadline: float | None = None, *, headers: dict[str, str] | None = None,
                 params: dict[str, str] | None = None) -> None:
        self.url, self.had_userinfo = split_url(url)
        self.auth = auth or PrometheusAuth()
        self.timeout = timeout
        #: A request's total time (a poll's deadline covers all its requests).
        self.deadline = deadline or 2 * timeout
        self.requests = 0  # HTTP requests answered, for the benchmark
        self.queries = 0  # of which PromQL queries
        self.recent: deque[str] = deque(maxlen=20)  # their paths, newest last
        self.params = dict(params or {})  # on every query: Thanos' partial_response, dedup
        self._warnings: list[str] = []  # the API's warnings and infos: partial data
        self._counting = threading.Lock()
        self._secrets: list[str] = []
        session = requests.Session()
        session.verify = self.auth.verify
        session.cert = self.auth.cert
        session.headers.update(headers or {})  # a tenant's X-Scope-OrgID
        # A secret in a file is re-read when the file changes and on a 401.
        self._secret_file: TokenFile | None = None
        if self.auth.bearer_token_file:
            self._secret_file = TokenFile(self.auth.bearer_token_file, "bearer token",
                                          error=ConfigError)
        elif self.auth.password_file:
            self._secret_file = TokenFile(self.auth.password_file, "password",
                                          error=ConfigError, header_safe=False)
        if self.auth.bearer_token_env or self.auth.bearer_token_file:
            self._remember(self._bearer())  # fail early on a missing token
            session.auth = _SecretAuth(lambda: f"Bearer {self._remember(self._bearer())}")
        elif self.auth.username:
            self._remember(self._password())
            session.auth = _SecretAuth(self._basic_header)
        session.hooks["response"].append(self._count)
        session.hooks["response"].append(_check_answer)
        session.hooks["response"].append(self._note_warnings)
        self._session = session
        # No retries (the library's default retries 5xx three times with
        # backoff, 7 s): a failure shows at once, the next poll is the retry.
        # urllib3 drops a pooled connection the server closed before reusing it.
        retry = Retry(total=0, status_forcelist=(), raise_on_status=False)
        self._prom = PrometheusConnect(
            url=self.url, session=session, retry=retry,
            timeout=(min(timeout, 3.0), timeout),
        )
        _deadline.guard_session(session)

    def _remember(self, secret: str | None) -> str | None:
        """Note a secret to redact from messages (the last few: files rotate)."""
        if secret and secret not in self._secrets:
            self._secrets = [*self._secrets[-7:], secret]
            secrets.remember(secret)  # masked in the journal and exports too
        return secret

    def _bearer(self) -> str | None:
        return self._secret_file.read() if self._secret_file else self.auth.token()

    def _password(self) -> str | None:
        return self._secret_file.read() if self._secret_file else self.auth.password()

    def _basic_header(self) -> str:
        password = self._remember(self._password()) or ""
        raw = f"{self.auth.username}:{password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _count(self, response, *args, **kwargs):
        path = urlsplit(response.request.url).path
        with self._counting:  # a poll's queries answer on threads side by side
            self.requests += 1
            if path.endswith(("/api/v1/query", "/api/v1/query_range")):
                self.queries += 1
            self.recent.append(path)
        return response

    def _note_warnings(self, response, *args, **kwargs):
        if response.status_code == 200 and "/api/v1/" in urlsplit(response.url).path:
            found = envelope_warnings(response.json())
            with self._counting:
                self._warnings += found

    def take_warnings(self) -> tuple[str, ...]:
        """The warnings since the last call, fit for a screen (envelope.told)."""
        with self._counting:
            found, self._warnings = self._warnings, []
        return told(found, self._redact)

    def __repr__(self) -> str:
        return f"PromClient({self.url!r}, {self.auth.describe()})"

    # --- Calls ------------------------------------------------------------------

    def query(self, promql: str, at: float, what: str) -> list[dict]:
        params = {**self.params, "time": f"{at:.3f}", "timeout": f"{self.timeout:g}s"}
        return self._call(lambda: self._prom.custom_query(promql, params=params), promql, what)

    def query_range(self, promql: str, start: float, end: float, step: float,
                    what: str, timeout: float | None = None) -> list[dict]:
        timeout = timeout or self.timeout

        def call():
            return self._prom.custom_query_range(
                promql,
                start_time=datetime.fromtimestamp(start, timezone.utc),
                end_time=datetime.fromtimestamp(end, timezone.utc),
                step=f"{step:.3f}",
                # The library rounds start and end to whole seconds; these
                # params override them, so the last step is exactly `end`.
                params={**self.params, "start": f"{start:.3f}", "end": f"{end:.3f}",
                        "timeout": f"{timeout:g}s"},
                timeout=(min(timeout, 3.0), timeout),
            )

        return self._call(call, promql, what, timeout)

    def get(self, path: str, what: str) -> dict:
        """A non-query endpoint (rules, buildinfo) on the same session."""

        def call():
            return self._session.get(
                self.url + path, timeout=(min(self.timeout, 3.0), self.timeout)
            ).json()["data"]

        return self._call(call, None, what)

    def get_text(self, path: str, what: str) -> str:
        """A plain-text page outside the API (VictoriaMetrics' /flags)."""

        def call():
            response = self._session.get(
                self.url + path, timeout=(min(self.timeout, 3.0), self.timeout)
            )
            if response.status_code != 200:
                raise _Answer(response.status_code, response.reason or "", body=response.text)
            return [response.text]

        return self._call(call, None, what)[0]

    def close(self) -> None:
        self._prom.close()

    # --- Errors -----------------------------------------------------------------

    def _call(self, call, promql: str | None, what: str, timeout: float | None = None):
        # A slow call's own (longer) timeout stretches its deadline likewise.
        with _deadline.within(max(self.deadline, 2 * (timeout or self.timeout))) as deadline:
            try:
                result = self._answer(call, promql, what, timeout)
            except SourceError:
                if not deadline.expired:
                    raise
            else:
                # Cut off mid-headers, an answer can look whole (no length
                # seen, read to the end): past the deadline none is used.
                if not deadline.expired:
                    return result
        # Whatever broke the request, the deadline did (raised outside the
        # except block: nothing chained, as below).
        raise PollTimedOut(f"Prometheus at {self.url} timed out after {deadline.seconds:g} s",
                           deadline.seconds)

    def _answer(self, call, promql: str | None, what: str, timeout: float | None):
        error: SourceError
        try:
            result = self._send(call)
        except SourceError as exc:  # a ConfigError from reading a secret
            error = type(exc)(self._redact(str(exc)))
        except _Answer as answer:
            error = self._answer_error(answer, promql, what)
        except requests.exceptions.RequestException as exc:
            kind = NotSent if _not_sent(exc) else Unreachable
            error = kind(self._redact(self._transport_reason(exc, timeout or self.timeout)))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unexpected answer to the %s query", what, exc_info=True)
            error = SourceError(
                f"Prometheus at {self.url} sent an unexpected answer to the {what} "
                f"query ({type(exc).__name__})"
            )
        else:
            if isinstance(result, (list, dict)):
                return result
            error = SourceError(
                f"Prometheus at {self.url} sent an unexpected answer to the {what} query"
            )
        # Raised here, outside the except blocks: no __context__ chains the
        # original exception (or an echoed body) into a logged traceback.
        raise error

    def _send(self, call):
        """`call()`; after a 401 with a secret from a file, the file is read
        again and the request sent once more: the file may have been replaced
        between our read and the server's check (a projected token rotates).
        A 401 means nothing was done with the request, so sending it again is
        safe; only once, so a wrong file costs one request more, not a storm."""
        try:
            return call()
        except _Answer as answer:
            if answer.status != 401 or self._secret_file is None:
                raise
        self._remember(self._secret_file.reread())
        try:
            return call()
        except _Answer as answer:
            if answer.status == 401:
                answer.reread = True
            raise

    def _transport_reason(self, exc: requests.exceptions.RequestException,
                          timeout: float) -> str:
        at = f"{self.server} at {self.url}"
        text = str(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            if "CERTIFICATE_VERIFY_FAILED" in text:
                return (f"{at}: TLS handshake failed: certificate verify failed "
                        "(set ca_file for a private CA)")
            return f"{at}: TLS handshake failed"
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"{at} unreachable: connection timed out after {min(timeout, 3.0):g} s"
        if isinstance(exc, requests.exceptions.ReadTimeout) or "Read timed out" in text:
            return f"{at} did not answer within {timeout:g} s (timeout)"
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            # The answer began, then the connection broke: no half answer is used.
            return f"{at} unreachable: connection reset mid-answer"
        if isinstance(exc, requests.exceptions.ConnectionError):
            if "BadStatusLine" in text:
                return f"{at} answered something that is not HTTP"
            if "refused" in text:
                return f"{at} unreachable: connection refused"
            if re.search(r"resolution|not known|nodename|getaddrinfo|resolve", text):
                return f"{at} unreachable: host name does not resolve"
            if re.search(r"reset|aborted|RemoteDisconnected|closed", text):
                return f"{at} unreachable: connection closed by the server"
            return f"{at} unreachable: connection failed"
        return f"{at}: request failed ({type(exc).__name__})"

    def _answer_error(self, answer: _Answer, promql: str | None, what: str) -> SourceError:
        at = f"{self.server} at {self.url}"
        status = answer.status
        detail = ": ".join(p for p in (answer.error_type, answer.error) if p)
        if promql is not None and status in (400, 422) and answer.error:
            # The query itself is wrong (400 bad_data; VictoriaMetrics uses 422).
            return ConfigError(self._redact(
                f"{at} rejected the {what} query `{promql}`: {detail}"
            ))
        if status == 200 and answer.reason == "malformed JSON":
            return SourceError(f"{at} answered malformed JSON: {page_words(self._redact(answer.body), 80)!r}")
        if status == 200 and answer.error:
            return SourceError(
                self._redact(f"{at} answered an error to the {what} query: {detail}")
            )
        if status == 200:
            return SourceError(f"{at} answered without data to the {what} query")
        if status == 401 and answer.reread and self._secret_file is not None:
            return SourceError(
                f"{at} refused the credentials: HTTP 401 {answer.reason}, also after "
                f"reading the {self._secret_file.what} file {self._secret_file.path} again "
                "(check that the file holds what Prometheus accepts)"
            )
        if status in (401, 403):  # the body may echo a header: never shown
            return SourceError(
                f"{at} refused the credentials: HTTP {status} {answer.reason} "
                f"(check the bearer token, basic auth or tenant: X-Scope-OrgID)"
            )
        if status == 404:
            return SourceError(
                f"{at} answered HTTP 404 for the {what} query: is this the Prometheus API base URL?"
            )
        body = detail or page_words(self._redact(answer.body))
        reason = f" {answer.reason}" if answer.reason else ""
        message = f"{at} answered HTTP {status}{reason}: {body}".rstrip(": ")
        return SourceError(self._redact(message))

    def _redact(self, message: str) -> str:
        return secrets.redact(message, self._secrets)


def _not_sent(exc: requests.exceptions.RequestException) -> bool:
    """No connection was made: refused, or the connect itself timed out (a
    read that timed out may have reached the server, and a POST acted on)."""
    import urllib3.exceptions as u3

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or not exc.args:
        return False
    return isinstance(getattr(exc.args[0], "reason", exc.args[0]), u3.NewConnectionError)
