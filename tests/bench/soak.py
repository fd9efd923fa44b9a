"""Soak: the console headless (App.run_test) for --minutes at a 1 s poll on a
real Prometheus whose breakers change state every few seconds.

A flipping exporter (tests/bench/flipfleet.py, its own process) serves
--services x 3 breakers; every 2 s it moves 10 breakers (of 30) among the first 10
services one step along closed -> open -> half_open -> closed. Prometheus
(Debian package, tests/promserver.Backend) scrapes it every second and
evaluates RUNBOOK-004's alert, so an incident opens and its journal records
the flapping. The console runs as `cbconsole` does: PrometheusSource,
IncidentTracker on a journal in a temp dir, poll interval 1 s.

Every 30 s it samples, in this process: RSS, threads (threading and
/proc/self/task), open fds, the transition history (console.model.history), the
incident journal's events, polls done, and the event loop's lag (a 50 ms
sleep's overshoot, median and max over the window). After the warm-up it
reports growth: memory (target < 10 %), threads and fds (target 0), history
bounded. The warm-up lasts until the history is full: 10 flapping services
reach its 200 transitions each after ~7.5 min, so growth is measured over
the 7 minutes after that; the journal keeps growing (it is the incident's
record, ~1.5 KB per event in memory) and is counted in the figure.

Usage: python tests/bench/soak.py [--minutes 15] [--warmup 8] [--services 100]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import threading
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.procstats import (  # noqa: E402
    CountingProcessSource, CountingSource, LagProbe, console_rss_mb, history_size, median,
    open_fds, start_flipfleet, stop, threads,
)
from tests.promserver import Backend, wait_until  # noqa: E402

from console.ui.app import CBConsoleApp  # noqa: E402
from console.cli import long_session  # noqa: E402
from console.incident.tracker import IncidentTracker  # noqa: E402
from console.incident.journal import Journal  # noqa: E402


async def soak(url: str, minutes: float, warmup: float, sample_s: float, state: Path,
               poll_process: bool = False) -> list[dict]:
    kind = CountingProcessSource if poll_process else CountingSource
    source = kind(url, profile="runbook", backfill_minutes=5)
    journal = Journal.open_or_resume(state, actor="soak")
    app = CBConsoleApp(source, tracker=IncidentTracker(journal), poll_interval=1.0)
    long_session(app)  # as cbconsole does once the app is built
    samples: list[dict] = []

    async with app.run_test(size=(140, 40)):
        probe = LagProbe(0.05)
        probe.start()
        start = time.monotonic()
        end = start + minutes * 60
        next_sample = start
        header = (f"{'t s':>5} {'RSS MiB':>8} {'thr':>4} {'tasks':>5} {'fds':>4} {'objects':>8} "
                  f"{'hist tr':>7} {'max/svc':>7} {'seen':>6} {'journal':>7} {'polls':>5} "
                  f"{'fail':>4} {'lag med ms':>10} {'lag max ms':>10}")
        print(header, flush=True)
        while True:
            now = time.monotonic()
            if now >= next_sample:
                window, probe.lags[:] = list(probe.lags), []
                py_threads, os_threads = threads()
                h = history_size(app.poller.history)
                s = {
                    "t": now - start, "rss": console_rss_mb(source), "threads": py_threads,
                    "tasks": os_threads, "fds": open_fds(), "objects": len(gc.get_objects()),
                    "hist": h["transitions"], "max_per_service": h["max_per_service"],
                    "seen": h["seen_keys"], "journal": len(journal.events),
                    "polls": source.polls, "failures": source.failures,
                    "lag_med": median(window) * 1000, "lag_max": max(window, default=0) * 1000,
                }
                s["names"] = sorted(t.name for t in threading.enumerate())
                samples.append(s)
                print(f"{s['t']:>5.0f} {s['rss']:>8.1f} {s['threads']:>4} {s['tasks']:>5} "
                      f"{s['fds']:>4} {s['objects']:>8} {s['hist']:>7} {s['max_per_service']:>7} "
                      f"{s['seen']:>6} {s['journal']:>7} {s['polls']:>5} {s['failures']:>4} "
                      f"{s['lag_med']:>10.1f} {s['lag_max']:>10.1f}", flush=True)
                if now >= end:
                    break
                next_sample += sample_s
            await asyncio.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
        await probe.stop()
        assert app.return_code is None, "the app exited during the soak"
    journal.close()
    return samples


def report(samples: list[dict], warmup_s: float, minutes: float, services: int) -> None:
    after = [s for s in samples if s["t"] >= warmup_s - 1]
    if len(after) < 2:
        print("run longer than the warm-up to get growth figures")
        return
    base, last = after[0], after[-1]
    growth = 100 * (last["rss"] - base["rss"]) / base["rss"]
    second_half = [s for s in after if s["t"] >= (base["t"] + last["t"]) / 2]
    print()
    print(f"soak {minutes:g} min, {services} services x 3 breakers (10 flapping), poll 1 s, "
          f"warm-up {warmup_s / 60:g} min; polls {last['polls']}, failed {last['failures']}")
    print(f"{'figure':<34} {'after warm-up':>14} {'end':>10} {'growth':>10}  target")
    print(f"{'RSS MiB (all console processes)':<34} {base['rss']:>14.1f} {last['rss']:>10.1f} {growth:>9.1f}%  < 10%")
    for key, label in (("threads", "threads (threading)"), ("tasks", "threads (/proc/self/task)"),
                       ("fds", "open fds")):
        print(f"{label:<34} {base[key]:>14} {last[key]:>10} {last[key] - base[key]:>+10}  0")
    print(f"{'history transitions':<34} {base['hist']:>14} {last['hist']:>10} "
          f"{last['hist'] - base['hist']:>+10}  bounded (200/service)")
    print(f"{'history max per service':<34} {base['max_per_service']:>14} "
          f"{last['max_per_service']:>10} {last['max_per_service'] - base['max_per_service']:>+10}  <= 200")
    print(f"{'journal events (incident record)':<34} {base['journal']:>14} {last['journal']:>10} "
          f"{last['journal'] - base['journal']:>+10}  grows with the incident")
    print(f"{'python objects':<34} {base['objects']:>14} {last['objects']:>10} "
          f"{last['objects'] - base['objects']:>+10}")
    if base["names"] != last["names"]:
        print(f"threads after warm-up: {', '.join(base['names'])}")
        print(f"threads at the end:    {', '.join(last['names'])}")
    print(f"RSS median, second half after warm-up: {median([s['rss'] for s in second_half]):.1f} MiB; "
          f"event-loop lag median of window medians {median([s['lag_med'] for s in after]):.1f} ms, "
          f"worst {max(s['lag_max'] for s in after):.0f} ms")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=15)
    p.add_argument("--warmup", type=float, default=8, help="minutes before growth is measured")
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--sample", type=float, default=30, help="seconds between samples")
    p.add_argument("--flips", type=int, default=10, help="breakers moved every 2 s")
    p.add_argument("--poll-process", action="store_true",
                   help="poll in a process of its own ([prometheus] poll_process = true)")
    args = p.parse_args()
    fleet, target = start_flipfleet("--services", str(args.services), "--pool", "10",
                                    "--flips", str(args.flips), "--every", "2")
    backend = Backend("prometheus", target, scrape_interval=1)
    try:
        backend.wait_ready("circuit_breaker_state", timeout=90)
        wait_until(lambda: len(backend.query("count by (service) (circuit_breaker_state)"))
                   == args.services, timeout=60, what="all services scraped")
        with tempfile.TemporaryDirectory(prefix="cbconsole-soak-") as state:
            samples = asyncio.run(soak(backend.url, args.minutes, args.warmup * 60, args.sample,
                                       Path(state), args.poll_process))
    finally:
        backend.stop()
        stop(fleet)
    report(samples, args.warmup * 60, args.minutes, args.services)
    print("\nreproduce: make bench-soak  (or: .venv/bin/python tests/bench/soak.py "
          f"--minutes {args.minutes:g} --warmup {args.warmup:g} --services {args.services})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
