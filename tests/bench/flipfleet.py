"""A scrape target for the load and soak benchmarks, run as its own process
so the console's process figures (threads, fds, RSS) are the console's alone.

Serves RUNBOOK-004's metrics for SERVICES x INSTANCES breakers
(circuit_breaker_state{service,pod,state}, circuit_breaker_failures_total,
circuit_breaker_successes_total) and, every EVERY seconds, moves FLIPS random
breakers among the first POOL services one step along closed -> open ->
half_open -> closed; the counters grow at every step. The exposition text is
rendered per scrape from plain dicts (a prometheus_client collector is too
slow for 25,000 series a second).

Prints "READY host:port" once listening, then a line per 60 s of flips.
Usage: python tests/bench/flipfleet.py --services 100 --instances 3 --pool 10 --flips 5 --every 2
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CYCLE = {"closed": "open", "open": "half_open", "half_open": "closed"}
STATES = ("closed", "open", "half_open")


class Fleet:
    def __init__(self, services: int, instances: int, open_every: int = 10) -> None:
        self.lock = threading.Lock()
        self.breakers: dict[tuple[str, str], str] = {}
        self.failures: dict[tuple[str, str], float] = {}
        self.successes: dict[tuple[str, str], float] = {}
        for s in range(services):
            name = f"svc-{s:05d}"
            for i in range(instances):
                key = (name, f"{name}-pod-{i}")
                # A few services start open, like poll.py's fleet.
                self.breakers[key] = "open" if open_every and s % open_every == 0 else "closed"
                self.failures[key] = 0.0
                self.successes[key] = 0.0
        self.keys = list(self.breakers)
        self.flips = 0

    def step(self, rng: random.Random, pool: int, flips: int, instances: int) -> None:
        with self.lock:
            candidates = self.keys[: pool * instances]
            for key in rng.sample(candidates, min(flips, len(candidates))):
                self.breakers[key] = CYCLE[self.breakers[key]]
                self.flips += 1
            for key in self.keys:
                state = self.breakers[key]
                self.failures[key] += 50.0 if state != "closed" else 1.0
                self.successes[key] += 5.0 if state != "closed" else 100.0

    def render(self) -> bytes:
        with self.lock:
            items = [(k, self.breakers[k], self.failures[k], self.successes[k]) for k in self.keys]
        out = ["# TYPE circuit_breaker_state gauge"]
        for (svc, pod), state, _, _ in items:
            for s in STATES:
                out.append(f'circuit_breaker_state{{service="{svc}",pod="{pod}",state="{s}"}} '
                           f'{1 if s == state else 0}')
        out.append("# TYPE circuit_breaker_failures_total counter")
        for (svc, pod), _, f, _ in items:
            out.append(f'circuit_breaker_failures_total{{service="{svc}",pod="{pod}"}} {f}')
        out.append("# TYPE circuit_breaker_successes_total counter")
        for (svc, pod), _, _, ok in items:
            out.append(f'circuit_breaker_successes_total{{service="{svc}",pod="{pod}"}} {ok}')
        return ("\n".join(out) + "\n").encode()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--pool", type=int, default=10, help="services that flap")
    p.add_argument("--flips", type=int, default=5, help="breakers moved per step")
    p.add_argument("--every", type=float, default=2.0, help="seconds between steps")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    fleet = Fleet(args.services, args.instances)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = fleet.render()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY 127.0.0.1:{server.server_port}", flush=True)
    rng = random.Random(args.seed)
    last_report = time.monotonic()
    while True:
        time.sleep(args.every)
        if args.flips:
            fleet.step(rng, args.pool, args.flips, args.instances)
        if time.monotonic() - last_report >= 60:
            last_report = time.monotonic()
            print(f"flips so far: {fleet.flips}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
