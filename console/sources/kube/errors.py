"""What a failed Kubernetes API call says: the API server's Status, a network
failure, a refused WebSocket handshake, in plain words (no token in them: the
caller scrubs). Pure code over the exceptions the client raises."""

from __future__ import annotations

import json
import socket
from typing import Any

from console.errors import first_line
from console.text import shorten

#: A resource as the API (and RBAC) names it: (plural, group).
Resource = tuple[str, str]


def cause_chain(exc: BaseException | None, limit: int = 10) -> list[BaseException]:
    """The exception and what caused it (explicitly or while handling), at most `limit`."""
    chain: list[BaseException] = []
    while exc is not None and len(chain) < limit:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def handshake_status(exc: BaseException) -> int | None:
    """The HTTP status a refused WebSocket handshake answered, if any."""
    for node in cause_chain(exc):
        code = getattr(node, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def status_of(exc: Any) -> tuple[str, str]:
    """The Status message and reason of an API error answer, where it sent one."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    message = str(status.get("message") or "").strip()
    reason = str(status.get("reason") or exc.reason or "").strip()
    if not message and body and not status:
        message = shorten(first_line(body), 200)
    return message, reason


def api_message(exc: Any, verb: str, resource: Resource, namespace: str, name: str | None,
                *, server: str, label: str) -> str:
    """An answered failure (an ApiException, or what a handshake answered)."""
    code = exc.status or 0
    status_message, reason = status_of(exc)
    plural, group = resource
    qualified = f"{plural}.{group}" if group else plural
    if code == 0:  # the client's own wrapping of a TLS failure
        return f"API server at {server} unreachable: {first_line(exc.reason or '')}"
    if code == 401:
        return f'unauthorized: the cluster rejected the credentials of context "{label}"'
    if code == 403:
        text = status_message or "access denied"
        return (f"forbidden: {text} (RBAC: needs verb {verb} on resource {plural} "
                f'in namespace "{namespace}")')
    if code == 404:
        if name is not None:
            base = qualified.split("/")[0]
            return f'{base} "{name}" not found in namespace "{namespace}"'
        return f"not found: {status_message or reason or 'no such resource'}"
    if code == 409:
        return f"conflict: {status_message or reason or 'the object changed meanwhile'}"
    if code == 422:
        return f"invalid: {status_message or reason or 'the API server refused the change'}"
    if 500 <= code <= 599:
        return f"the API server answered {code}: {status_message or reason or 'server error'}"
    return f"the API server answered {code}: {status_message or reason or 'request refused'}"


def network_words(exc: BaseException, timeout: float) -> str:
    """Why no answer came, in a few words."""
    import urllib3.exceptions as u3

    seen = exc
    if isinstance(seen, u3.MaxRetryError) and seen.reason is not None:
        seen = seen.reason
    chain = cause_chain(seen)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    # (NewConnectionError is a ConnectTimeoutError in urllib3 2: refusals first.)
    if any(isinstance(e, (u3.ReadTimeoutError, TimeoutError, socket.timeout))
           or type(e) is u3.ConnectTimeoutError for e in chain):
        return f"no answer within {timeout:g} s"
    if any(isinstance(e, socket.gaierror) for e in chain) or isinstance(
            seen, u3.NameResolutionError):
        return "the host name does not resolve"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset"
    if isinstance(seen, u3.SSLError):
        return f"TLS failed: {first_line(seen)}"
    if isinstance(seen, u3.ProtocolError):
        if any(type(e).__name__ == "BadStatusLine" for e in (*chain, *seen.args)):
            return "it answered something that is not HTTP"
        return "the connection broke off"
    if isinstance(seen, u3.NewConnectionError):
        return "cannot connect"
    return type(seen).__name__

