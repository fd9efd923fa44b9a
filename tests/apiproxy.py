"""A small real HTTP proxy in front of a Prometheus-compatible API, for the
sites tests (issue 18):

- tenant: as Grafana Mimir / Cortex do, a request without the tenant's
  `X-Scope-OrgID` header is answered 401 "no org id" (Mimir's text) and
  never forwarded; one with it is forwarded.
- warnings: each one is added to every answer's envelope `warnings`, as
  Thanos Query adds "partial response" warnings to an HTTP 200 answer;
  `envelope` keys are set on it too (VictoriaMetrics cluster's
  `"isPartial": true`, Prometheus 3's `infos`). The answer is otherwise the
  backend's own.

Every request is recorded (path, query params, the X-Scope-OrgID sent) in
`seen`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests

TENANT_HEADER = "X-Scope-OrgID"


class ApiProxy:
    def __init__(self, backend_url: str, *, tenant: str | None = None) -> None:
        self.backend = backend_url.rstrip("/")
        self.tenant = tenant
        self.warnings: list[str] = []
        self.envelope: dict = {}
        self.seen: list[tuple[str, dict, str | None]] = []
        self._session = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._handle(self)

            do_POST = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        params = dict(parse_qsl(url.query)) | dict(parse_qsl(body.decode()))
        tenant = handler.headers.get(TENANT_HEADER)
        self.seen.append((url.path, params, tenant))
        if self.tenant is not None and tenant != self.tenant:
            self._send(handler, 401, b"no org id\n", "text/plain; charset=utf-8")
            return
        upstream = self._session.request(
            handler.command, self.backend + handler.path, data=body or None, timeout=30,
            headers={"Content-Type": handler.headers.get("Content-Type", "")} if body else {})
        content = upstream.content
        if (self.warnings or self.envelope) and upstream.headers.get("Content-Type", "").startswith(
                "application/json"):
            doc = upstream.json()
            if isinstance(doc, dict):
                doc |= self.envelope
                if self.warnings:
                    doc["warnings"] = [*doc.get("warnings", []), *self.warnings]
                content = json.dumps(doc).encode()
        self._send(handler, upstream.status_code, content,
                   upstream.headers.get("Content-Type", "application/json"))

    @staticmethod
    def _send(handler, status: int, body: bytes, content_type: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body)
        except OSError:
            pass

    def tenants_seen(self, path_part: str = "/api/v1/query") -> set[str | None]:
        return {t for path, _, t in self.seen if path_part in path}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._session.close()
