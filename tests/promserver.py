"""Real metric backends for the tests: an in-process exporter, a Prometheus
and a VictoriaMetrics scraping it, each on a free loopback port with a
temporary data directory, plus a stub HTTP server for misbehaving answers.

Nothing here mocks the Prometheus HTTP API: the servers are the Debian
packages' binaries. A missing binary fails the test with a clear message.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

import requests

# Before prometheus_client is imported anywhere: no *_created series.
os.environ["PROMETHEUS_DISABLE_CREATED_SERIES"] = "True"

from prometheus_client import CollectorRegistry, start_http_server  # noqa: E402
from prometheus_client.metrics_core import Metric  # noqa: E402

SCRAPE_INTERVAL_S = 1.0
ALERT_FOR = "2s"
INSTALL_HINT = "run make test (or: apt-get install -y prometheus victoria-metrics)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float = 20.0, interval: float = 0.2,
               what: str = "condition"):
    """Call `check` until it returns something truthy; its last error or a
    timeout fails the test with `what` in the message."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:  # a check may assert to explain itself
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}"
                + (f": {last_error}" if last_error else "")
            )
        time.sleep(interval)


def poll_until(source, check, what: str = "the change", timeout: float = 60.0,
               interval: float = 0.25):
    """Poll `source` until check(snapshot) holds; returns that snapshot, or
    fails with `what` and the last snapshot. Every poll's transitions are
    kept in source.seen_transitions for the test to inspect."""
    seen = source.__dict__.setdefault("seen_transitions", [])
    last: list = []

    def attempt():
        snap = source.poll()  # a rejected query raises: the board's STALE
        seen.extend(snap.transitions)
        last[:] = [snap]
        return snap if check(snap) else None

    try:
        return wait_until(attempt, timeout=timeout, interval=interval, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast snapshot: {last[0] if last else None}") from None


# --- The exporter ---------------------------------------------------------------


class Exporter:
    """A scrape target whose series the tests set directly: any metric name,
    any label set, exposed as untyped-ish gauges (PromQL does not care)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self._server, self._thread = start_http_server(
            0, addr="127.0.0.1", registry=self.registry
        )
        self.port = self._server.server_port
        self.target = f"127.0.0.1:{self.port}"

    @staticmethod
    def _key(name: str, labels: dict[str, str]):
        return name, tuple(sorted(labels.items()))

    # Positional-only: `name` is also a label (Resilience4j's).
    def set(self, metric: str, value: float, /, **labels: str) -> None:
        self.update([(metric, labels, value)])

    def update(self, changes: list[tuple[str, dict[str, str], float]]) -> None:
        """Apply several changes at once: no scrape sees half of them."""
        with self._lock:
            for name, labels, value in changes:
                self._series[self._key(name, labels)] = float(value)

    def inc(self, metric: str, by: float = 1.0, /, **labels: str) -> None:
        with self._lock:
            key = self._key(metric, labels)
            self._series[key] = self._series.get(key, 0.0) + by

    def set_where(self, metric: str, value: float, /, **match: str) -> None:
        """Set every series of `metric` whose labels include `match`."""
        with self._lock:
            for key in self._series:
                if key[0] == metric and set(match.items()) <= set(key[1]):
                    self._series[key] = float(value)

    def collect(self):
        with self._lock:
            items = sorted(self._series.items())
        families: dict[str, Metric] = {}
        for (name, labels), value in items:
            family = families.get(name)
            if family is None:
                family = families[name] = Metric(name, "test series", "untyped")
            family.add_sample(name, dict(labels), value)
        return list(families.values())

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class TextTarget:
    """A scrape target serving metric text exactly as an emitter writes it (a
    fixture file: label order, TYPE lines, trailing commas and all). Counters
    named in `growth` (the series as written, up to its value) grow by that
    many per second from the text's value, so rate() sees calls."""

    def __init__(self, text: str, growth: dict[str, float] | None = None) -> None:
        self.text = text
        self.growth = dict(growth or {})
        self._start = time.monotonic()
        unknown = [s for s in self.growth if not any(
            line.rsplit(" ", 1)[0] == s for line in text.splitlines())]
        if unknown:
            raise ValueError(f"no such series in the fixture: {unknown}")
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = target.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.port = self._server.server_port
        self.target = f"127.0.0.1:{self.port}"

    def render(self) -> str:
        elapsed = time.monotonic() - self._start
        lines = []
        for line in self.text.splitlines():
            series, _, value = line.rpartition(" ")
            if series in self.growth:
                line = f"{series} {float(value) + self.growth[series] * elapsed:.3f}"
            lines.append(line)
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- Prometheus and VictoriaMetrics ---------------------------------------------

RULES = f"""\
groups:
  - name: circuit-breakers
    rules:
      # RUNBOOK-004's rule, with `for:` shortened for the tests.
      - alert: CircuitBreakerOpen
        expr: sum(circuit_breaker_state{{state="open"}}) > 0
        for: {ALERT_FOR}
        labels:
          severity: critical
      # A variant that keeps the service label.
      - alert: CircuitBreakerOpenByService
        expr: sum by (service) (circuit_breaker_state{{state="open"}}) > 0
        for: {ALERT_FOR}
        labels:
          severity: critical
"""


Targets = "str | list[str | tuple[str, dict[str, str]]]"


def scrape_config(target: Targets, rules: bool, interval: float = SCRAPE_INTERVAL_S,
                  external_labels: dict[str, str] | None = None) -> str:
    """One job; each target an address, or (address, labels added to its
    series) as Kubernetes discovery adds `pod`. `external_labels`: the
    server's own (a cluster's), added where its series leave it (/federate)."""
    groups = []
    for t in [target] if isinstance(target, str) else target:
        address, labels = (t, {}) if isinstance(t, str) else t
        extra = f", labels: {json.dumps(labels)}" if labels else ""
        groups.append(f"{{targets: ['{address}']{extra}}}")
    return (
        "global:\n"
        f"  scrape_interval: {interval:g}s\n"
        + (f"  external_labels: {json.dumps(external_labels)}\n" if external_labels else "")
        + (
            f"  evaluation_interval: {interval:g}s\nrule_files: [rules.yml]\n"
            if rules
            else ""
        )
        + "scrape_configs:\n"
        "  - job_name: breakers\n"
        f"    static_configs: [{', '.join(groups)}]\n"
    )


class Backend:
    """One metric server process on a free loopback port, its data in a temp dir."""

    def __init__(self, kind: str, target: Targets, scrape_interval: float = SCRAPE_INTERVAL_S,
                 *, rules: str = RULES, extra_config: str = "", extra_args=(),
                 external_labels: dict[str, str] | None = None) -> None:
        if kind not in ("prometheus", "victoria-metrics"):
            raise ValueError(kind)
        self.kind = kind
        binary = shutil.which(kind)
        if binary is None:
            raise RuntimeError(f"{kind} not installed: {INSTALL_HINT}")
        self.dir = Path(tempfile.mkdtemp(prefix=f"cbconsole-{kind}-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = self.dir / "config.yml"
        data = self.dir / "data"
        if kind == "prometheus":
            (self.dir / "rules.yml").write_text(rules)
            # extra_config: e.g. the `alerting:` section (tests/alertmanager.py).
            config.write_text(scrape_config(target, rules=True, interval=scrape_interval,
                                            external_labels=external_labels) + extra_config)
            args = [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *extra_args,
            ]
        else:
            config.write_text(scrape_config(target, rules=False, interval=scrape_interval))
            args = [
                binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={data}",
                f"-promscrape.config={config}",
                "-search.latencyOffset=0s",
                "-search.disableCache",
            ]
        self.log_path = self.dir / "server.log"
        self._log = open(self.log_path, "wb")
        self.args = args
        self.start()

    def start(self) -> None:
        """(Re)start the server on the same port and data directory."""
        self.proc = subprocess.Popen(
            self.args, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir
        )
        self._ready = False

    def kill(self) -> None:
        """kill -9, as when the server's machine dies: no clean shutdown."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def query(self, promql: str) -> list[dict]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def wait_ready(self, metric: str, timeout: float = 40.0) -> "Backend":
        """Wait until the server answers and `metric` has a queryable sample."""
        if self._ready:
            return self

        def has_sample():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                return bool(self.query(metric))
            except requests.RequestException:
                return False

        try:
            wait_until(has_sample, timeout=timeout, what=f"{self.kind}'s first sample")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.kind} log:\n{self.log_tail()}") from None
        self._ready = True
        return self

    def stop(self) -> None:
        stop_server(self.proc, self._log, self.dir)



def stop_server(proc: subprocess.Popen, log, directory: Path) -> None:
    """A server the tests started: terminated (killed if it lingers), its log
    closed, its directory removed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    log.close()
    shutil.rmtree(directory, ignore_errors=True)


# --- A stub server for misbehaving answers --------------------------------------


class StubPrometheus:
    """A tiny HTTP/1.1 (keep-alive) server on loopback. `handler(path, params,
    headers)` returns (status, body bytes, str or JSON-able); it can be stopped
    and restarted on the same port, dropping open connections like a dying
    server."""

    def __init__(self, handler: Callable[[str, dict, dict], tuple[int, object]]) -> None:
        self.handler = handler
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, dict]] = []  # (path, params) received
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                url = urlparse(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                stub.requests.append((url.path, params))
                status, body = stub.handler(url.path, params, dict(self.headers))
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the client gave up (a timeout test)
                    pass

            do_POST = do_GET

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def __init__(self, *a, **kw):
                self.connections: set[socket.socket] = set()
                super().__init__(*a, **kw)

            def handle_error(self, request, client_address):
                pass  # a client hanging up is no news here

            def process_request(self, request, client_address):
                self.connections.add(request)
                super().process_request(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for conn in list(server.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def vector(samples: list[tuple[dict[str, str], str]], at: float | None = None) -> dict:
    """A Prometheus instant-query answer."""
    at = time.time() if at is None else at
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [at, v]} for m, v in samples],
        },
    }


RUNBOOK_STATES = ("closed", "open", "half_open")


def is_state_query(q: str) -> bool:
    """The runbook profile's state query, as a poll sends it."""
    return "(circuit_breaker_state)" in q


def fleet_handler(n_services: int, instances: int = 3):
    """A stub answering every query of the runbook profile for n services."""

    def handler(path, params, headers):
        q = params.get("query", "")
        if path == "/api/v1/status/buildinfo":
            return 200, {"status": "success", "data": {"version": "2.42.0"}}
        if path == "/api/v1/rules":
            return 200, {"status": "success", "data": {"groups": []}}
        if path == "/api/v1/query_range":
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}
        if q.startswith("topk"):
            return 200, vector([({"__name__": "circuit_breaker_state", "service": "s0",
                                  "state": "closed", "instance": "i0"}, "1")])
        if q.endswith("[5m]"):
            now = time.time()
            values = [[now - 15 * k, "1"] for k in range(20, 0, -1)]
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"service": "s0"}, "values": values}]}}
        if is_state_query(q):
            return 200, vector([
                ({"service": f"s{i}", "instance": f"i{j}", "state": st},
                 "1" if st == "closed" else "0")
                for i in range(n_services) for j in range(instances) for st in RUNBOOK_STATES
            ])
        if q.startswith("sum by"):
            return 200, vector([({"service": f"s{i}", "instance": f"i{j}"}, "0.5")
                                for i in range(n_services) for j in range(instances)])
        return 200, vector([])

    return handler
