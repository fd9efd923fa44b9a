"""A tiny feature-flag service for the tests, shaped like the runbook's:

    GET  /api/v1/flags/NAME                       open to anyone
    POST /api/v1/flags/NAME  {"enabled": false}   needs Authorization: Bearer ADMIN

A stdlib ThreadingHTTPServer in a thread on a free loopback port, with an
in-memory flag store, a record of every request (raw path, headers, body) and
injectable failures: the next N requests answer a given status and body, or a
given raw body with status 200 (malformed JSON), or POSTs are accepted but
ignored (a service that says yes and does nothing).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PREFIX = "/api/v1/flags/"
# The admin token of the console fixtures (tests/conftest.py): tests look for it in output.
CONSOLE_TOKEN = "flag-admin-token-9f8e7d6c5b4a"


@dataclass
class Recorded:
    method: str
    path: str  # raw, as sent on the request line
    headers: dict[str, str]
    body: bytes
    client_port: int = 0  # one port across requests: the connection was reused

    def json(self):
        return json.loads(self.body)


@dataclass
class _Failure:
    remaining: int
    status: int
    body: bytes
    content_type: str


@dataclass
class FlagServer:
    token: str = "admin-secret-token"
    flags: dict[str, dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    ignore_posts: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server._handle(self)

            def do_POST(self):
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # --- Test controls -------------------------------------------------------------

    def put(self, name: str, enabled: bool, updated_at: str | None = None) -> None:
        with self._lock:
            self.flags[name] = {"name": name, "enabled": enabled}
            if updated_at:
                self.flags[name]["updated_at"] = updated_at

    def fail(self, status: int, body: str = "", times: int = 1,
             content_type: str = "text/plain") -> None:
        """The next `times` requests answer `status` with `body`, whatever they ask."""
        with self._lock:
            self._failures.append(_Failure(times, status, body.encode(), content_type))

    def of(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- Serving ---------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(Recorded(h.command, h.path, dict(h.headers.items()), body,
                                          h.client_address[1]))
            failure = self._failures[0] if self._failures else None
            if failure:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
        if failure:
            return self._send(h, failure.status, failure.body, failure.content_type)
        if not h.path.startswith(PREFIX) or "/" in h.path[len(PREFIX):]:
            return self._json(h, 404, {"error": "no such route"})
        name = unquote(h.path[len(PREFIX):])
        if h.command == "POST":
            if h.headers.get("Authorization") != f"Bearer {self.token}":
                return self._json(h, 401, {"error": "unauthorized"})
            try:
                enabled = json.loads(body)["enabled"]
                assert isinstance(enabled, bool)
            except Exception:
                return self._json(h, 400, {"error": "body must be {\"enabled\": bool}"})
        with self._lock:
            flag = self.flags.get(name)
            if flag is None:
                return self._json(h, 404, {"error": f"flag {name} not found"})
            if h.command == "POST" and not self.ignore_posts:
                flag["enabled"] = enabled
                flag["updated_at"] = datetime.now(timezone.utc).isoformat()
            answer = dict(flag)
        self._json(h, 200, answer)

    def _json(self, h, status: int, payload) -> None:
        self._send(h, status, json.dumps(payload).encode(), "application/json")

    @staticmethod
    def _send(h, status: int, body: bytes, content_type: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
