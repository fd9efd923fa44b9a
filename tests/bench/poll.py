"""One poll cycle against a real Prometheus, at fleet sizes of 10 to 5,000
services (3 instances each, runbook profile).

For each size it prints the median of several runs of:
  raw    the same PromQL queries the source sends, over one reused httpx client,
         answers read as JSON and nothing else;
  cycle  what the console does per poll: source.poll() (queries, parsing,
         transitions: on a worker thread here; --poll-process in the poll
         process, its answer decoded here), the history, and the board's
         in-place table update;
and the number of queries per poll, which must not grow with the fleet.
Target: cycle within 2x raw at 1,000 services.

Usage: python tests/bench/poll.py [--sizes 10,100,1000,5000] [--runs 7]
Needs the Debian prometheus package (make servers).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.promserver import Backend, Exporter, wait_until  # noqa: E402

from console.ui.app import CBConsoleApp  # noqa: E402
from console.sources.prometheus.source import PrometheusSource  # noqa: E402
from console.cli import long_session  # noqa: E402
from console.sources.pollproc.proxy import ProcessSource  # noqa: E402

STATES = ("closed", "open", "half_open")


class StaticExporter:
    """The fleet's exposition text rendered once and served as is: at 5,000
    services a Python collector cannot render 75,000 series every scrape."""

    def __init__(self, services: int) -> None:
        ex = Exporter()
        fill(ex, services)
        from prometheus_client import generate_latest

        body = generate_latest(ex.registry)
        ex.close()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fill(exporter: Exporter, services: int) -> None:
    changes = []
    for s in range(services):
        name = f"svc-{s:05d}"
        for i in range(3):
            pod = f"{name}-pod-{i}"
            current = "open" if s % 10 == 0 else "closed"
            for state in STATES:
                changes.append(
                    ("circuit_breaker_state", {"service": name, "pod": pod, "state": state},
                     1.0 if state == current else 0.0)
                )
            changes.append(("circuit_breaker_failures_total", {"service": name, "pod": pod}, 5.0 * s))
            changes.append(("circuit_breaker_successes_total", {"service": name, "pod": pod}, 100.0 * s))
    exporter.update(changes)


def raw_queries(client: httpx.Client, url: str, queries: list[str]) -> None:
    for promql in queries:
        r = client.get(f"{url}/api/v1/query", params={"query": promql})
        r.raise_for_status()
        r.json()


async def measure(url: str, services: int, runs: int, poll_process: bool = False) -> dict:
    kind = ProcessSource if poll_process else PrometheusSource
    source = kind(url, profile="runbook", backfill_minutes=1)
    app = CBConsoleApp(source, poll_interval=3600)
    long_session(app)  # as cbconsole does once the app is built
    queries = list(source.profile.queries.values()) + [
        f'ALERTS{{alertname="{source.alert_name}"}}',
        f'ALERTS_FOR_STATE{{alertname="{source.alert_name}"}}',
    ]
    raw, cycle, per_poll = [], [], set()
    async with app.run_test(size=(140, 40)) as pilot:
        # The poll process's first poll follows the first frame.
        give_up = time.monotonic() + 120
        while (app.poller.snapshot is None and app.poller.state.error is None
               and time.monotonic() < give_up):
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.poller.snapshot is not None and len(app.poller.snapshot.services) == services, (
            app.poller.state.error
        )
        with httpx.Client(timeout=30) as client:
            for _ in range(runs):
                start = time.perf_counter()
                raw_queries(client, url, queries)
                raw.append(time.perf_counter() - start)

                start = time.perf_counter()
                snapshot = source.poll()
                app.poller.snapshot = snapshot
                app.poller.history.apply(snapshot)
                app.views.refresh()  # the in-place table update
                cycle.append(time.perf_counter() - start)
                await pilot.pause()  # let it paint before the next run
                per_poll.add(source.last_poll_requests)
    if poll_process:
        source.close()
    return {
        "raw": statistics.median(raw),
        "cycle": statistics.median(cycle),
        "requests": sorted(per_poll),
        "queries": source.queries_per_poll,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="poll cycle benchmark")
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--poll-process", action="store_true",
                        help="poll in a process of its own ([prometheus] poll_process = true)")
    args = parser.parse_args()
    print(f"{'services':>8}  {'raw ms':>8}  {'cycle ms':>9}  {'ratio':>5}  queries/poll  http requests/poll")
    for services in [int(s) for s in args.sizes.split(",")]:
        exporter = StaticExporter(services)
        backend = Backend("prometheus", exporter.target, scrape_interval=5)
        try:
            backend.wait_ready("circuit_breaker_state", timeout=90)
            wait_until(
                lambda: len(backend.query("count by (service) (circuit_breaker_state)")) == services,
                timeout=60,
                what=f"{services} services scraped",
            )
            r = asyncio.run(measure(backend.url, services, args.runs, args.poll_process))
        finally:
            backend.stop()
            exporter.close()
        print(
            f"{services:>8}  {r['raw'] * 1000:>8.1f}  {r['cycle'] * 1000:>9.1f}  "
            f"{r['cycle'] / r['raw']:>5.2f}  {r['queries']:>12}  {r['requests']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
