"""A real HTTP server for the health probe and the smoke test to call."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HealthServer:
    """/ok 200, /down 503, /slow answers after `slow_s`, /flaky 503 every
    `every`-th request; counts requests in flight at once."""

    def __init__(self, every: int = 4, slow_s: float = 1.5, delay_s: float = 0.0) -> None:
        self.every, self.slow_s, self.delay_s = every, slow_s, delay_s
        self.count = self.in_flight = self.max_in_flight = 0
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self.status = 200  # what /health answers
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with owner.lock:
                    owner.count += 1
                    n = owner.count
                    owner.paths.append(self.path)
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                try:
                    time.sleep(owner.delay_s)
                    code = {"/ok": 200, "/down": 503, "/health": owner.status}.get(self.path, 200)
                    if self.path == "/slow":
                        time.sleep(owner.slow_s)
                    if self.path == "/flaky" and n % owner.every == 0:
                        code = 503
                    body = b"[red]x[/red]\n"
                    try:
                        self.send_response(code)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    except OSError:
                        pass
                finally:
                    with owner.lock:
                        owner.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> HealthServer:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Health:
    """GET anything -> `status`; the downstream's health endpoint."""

    def __init__(self) -> None:
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = b'{"status": "ok"}'
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/health"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
