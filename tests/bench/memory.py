"""Memory at 5,000 services after an hour of polls: what the console keeps
per poll, fed 1,800 polls (one every 2 s) of a 5,000-service x 3-instance
fleet whose breakers change state.

Per poll it builds a FleetSnapshot from scratch (new ServiceStatus and
InstanceStatus objects for every service, as a source does) and does what
CBConsoleApp.on_polled keeps: app.poller.snapshot = snapshot, FleetHistory.apply,
IncidentTracker.feed (journal in a temp dir) and the board's error series
(history.error_series for the ~60 rows the board draws, as refresh_views
asks for them). The board's
DataTable and the screen are not included (they hold the current rows only).

State changes: 5 "hot" services flap, each instance moving one step along
closed -> open -> half_open -> closed every 30 s (360 transitions per
service an hour, past the history's 200 per service); and every poll one
instance of a random other service blips: OPEN, HALF-OPEN 20 s later, CLOSED
20 s after that (1,800 blips an hour). The first OPEN opens an incident, and
every service seen OPEN joins it, as IncidentTracker does.

Every 5 simulated minutes it prints RSS, tracemalloc's current and peak, the
history's sizes, the tracker's recent transitions, the journal's events and
the time per poll; then the growth between 30 and 60 minutes (target: ~0
for the history and the memory, except the incident's own record).

Usage: python tests/bench/memory.py [--services 5000] [--minutes 60] [--durable]
  --durable    the journal's real writer (fsync per event; slower)
  --no-journal leave the IncidentTracker out
  --tracemalloc also trace Python allocations (current, peak); several times slower
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.procstats import history_size, rss_mb  # noqa: E402

from console.model.history import FleetHistory  # noqa: E402
from console.incident.tracker import IncidentTracker  # noqa: E402
from console.incident.journal import Journal  # noqa: E402
from console.model.fleet import (  # noqa: E402
    BreakerState, FleetSnapshot, InstanceStatus, ServiceStatus, Transition,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
POLL_S = 2.0
CYCLE = {BreakerState.CLOSED: BreakerState.OPEN, BreakerState.OPEN: BreakerState.HALF_OPEN,
         BreakerState.HALF_OPEN: BreakerState.CLOSED}
HOT = 5
HOT_EVERY = 15  # polls: each hot instance moves every 30 s, 360 transitions/service/hour
BLIP_STEP = 10  # polls


def plain_append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


class Fleet:
    def __init__(self, services: int, instances: int = 3, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.names = [f"svc-{s:05d}" for s in range(services)]
        self.pods = {n: [f"{n}-pod-{i}" for i in range(instances)] for n in self.names}
        self.state = {(n, p): BreakerState.CLOSED for n in self.names for p in self.pods[n]}
        self.since = {k: T0 - timedelta(days=1) for k in self.state}
        self.last: dict[str, Transition] = {}
        self.blips: dict[tuple[str, str], int] = {}

    def poll(self, i: int) -> FleetSnapshot:
        now = T0 + timedelta(seconds=POLL_S * i)
        # Hot services: each instance moves one step every HOT_EVERY polls,
        # the instances staggered (a breaker flapping open/half-open/closed).
        moved = [(n, p) for h, n in enumerate(self.names[:HOT])
                 for j, p in enumerate(self.pods[n]) if (i + 5 * j + h) % HOT_EVERY == 0]
        # A blip a poll: one instance of another service opens, half-opens
        # BLIP_STEP polls later, closes BLIP_STEP polls after that.
        key = (n := self.rng.choice(self.names[HOT:]), self.rng.choice(self.pods[n]))
        if self.state[key] == BreakerState.CLOSED and key not in self.blips:
            self.blips[key] = i
            moved.append(key)
        for key, started in list(self.blips.items()):
            if i - started in (BLIP_STEP, 2 * BLIP_STEP):
                moved.append(key)
                if i - started == 2 * BLIP_STEP:
                    del self.blips[key]
        transitions = []
        for key in moved:
            before = self.state[key]
            after = self.state[key] = CYCLE[before]
            self.since[key] = now
            t = Transition(service=key[0], instance=key[1], from_state=before, to_state=after,
                           at=now)
            transitions.append(t)
            self.last[key[0]] = t
        services = []
        for n in self.names:
            instances = []
            for p in self.pods[n]:
                st = self.state[(n, p)]
                bad = st != BreakerState.CLOSED
                instances.append(InstanceStatus(
                    instance=p, state=st, since=self.since[(n, p)], reported=(st,),
                    failure_rate=(5.0 if bad else 0.1) + self.rng.random(),
                    success_rate=(1.0 if bad else 30.0) + self.rng.random(),
                    rejected_rate=8.0 if st == BreakerState.OPEN else 0.0,
                ))
            services.append(ServiceStatus(service=n, instances=tuple(instances),
                                          last_transition=self.last.get(n)))
        return FleetSnapshot(fetched_at=now, services=tuple(services),
                             transitions=tuple(transitions))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=5000)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--every", type=float, default=5, help="simulated minutes between rows")
    p.add_argument("--durable", action="store_true")
    p.add_argument("--no-journal", action="store_true")
    p.add_argument("--tracemalloc", action="store_true",
                   help="also trace allocations (current and peak; several times slower)")
    args = p.parse_args()
    polls = int(args.minutes * 60 / POLL_S)
    every = int(args.every * 60 / POLL_S)
    fleet = Fleet(args.services)
    history = FleetHistory()
    state = tempfile.TemporaryDirectory(prefix="cbconsole-memory-")
    tracker = None
    if not args.no_journal:
        journal = Journal.open_or_resume(Path(state.name), actor="bench",
                                         clock=lambda: T0,
                                         **({} if args.durable else {"writer": plain_append}))
        tracker = IncidentTracker(journal)
    gc.collect()
    if args.tracemalloc:
        tracemalloc.start()
    base_rss = rss_mb()
    print(f"{args.services} services x 3 instances, {polls} polls at {POLL_S:g} s "
          f"({args.minutes:g} simulated minutes); RSS before the first poll {base_rss:.1f} MiB")
    print(f"{'min':>4} {'RSS MiB':>8} {'traced MiB':>10} {'peak MiB':>9} {'hist tr':>8} "
          f"{'max/svc':>7} {'seen':>7} {'spark pts':>9} {'recent':>7} {'journal':>7} "
          f"{'ms/poll':>8} {'feed ms':>8}")
    rows: dict[float, dict] = {}
    snapshot = None
    times, feeds = [], []
    for i in range(1, polls + 1):
        start = time.perf_counter()
        snapshot = fleet.poll(i)
        history.apply(snapshot)
        series = [history.error_series(s.service) for s in snapshot.services[:60]]
        f0 = time.perf_counter()
        if tracker is not None:
            tracker.feed(snapshot)
        feeds.append(time.perf_counter() - f0)
        times.append(time.perf_counter() - start)
        del series
        if i % every == 0 or i == polls:
            gc.collect()
            current, peak = tracemalloc.get_traced_memory() if args.tracemalloc else (0, 0)
            h = history_size(history)
            recent = sum(len(d) for d in tracker._seen.recent.values()) if tracker else 0
            events = len(tracker.journal.events) if tracker else 0
            minute = i * POLL_S / 60
            row = rows[minute] = {
                "rss": rss_mb(), "traced": current / 2**20, "peak": peak / 2**20, **h,
                "recent": recent, "journal": events,
                "ms": statistics.median(times) * 1000, "feed": statistics.median(feeds) * 1000,
            }
            times, feeds = [], []
            print(f"{minute:>4.0f} {row['rss']:>8.1f} {row['traced']:>10.1f} {row['peak']:>9.1f} "
                  f"{h['transitions']:>8} {h['max_per_service']:>7} {h['seen_keys']:>7} "
                  f"{h['spark_points']:>9} {recent:>7} {events:>7} {row['ms']:>8.1f} "
                  f"{row['feed']:>8.2f}", flush=True)
    tracemalloc.stop()
    half = min(rows, key=lambda m: abs(m - args.minutes / 2))
    a, b = rows[half], rows[max(rows)]
    print()
    print(f"growth between minute {half:g} and minute {max(rows):g}:")
    print(f"{'figure':<34} {'at ' + format(half, 'g') + ' min':>10} {'at end':>10} {'growth':>10}")
    for key, label, fmt in (("rss", "RSS MiB", ".1f"), ("traced", "tracemalloc current MiB", ".1f"),
                            ("transitions", "history transitions", "d"),
                            ("seen_keys", "history de-dup keys", "d"),
                            ("spark_points", "history sparkline points", "d"),
                            ("recent", "tracker recent transitions", "d"),
                            ("journal", "journal events (the incident)", "d")):
        if key == "traced" and not args.tracemalloc:
            continue
        d = b[key] - a[key]
        pct = f" ({100 * d / a[key]:+.1f}%)" if a[key] else ""
        print(f"{label:<34} {format(a[key], fmt):>10} {format(b[key], fmt):>10} "
              f"{format(d, '+' + fmt):>10}{pct}")
    peak = f"tracemalloc peak {b['peak']:.1f} MiB" if args.tracemalloc else "tracemalloc off"
    print(f"{peak}; RSS at end {b['rss']:.1f} MiB "
          f"(before the first poll {base_rss:.1f} MiB)")
    print(f"\nreproduce: make bench-memory  (or: .venv/bin/python tests/bench/memory.py "
          f"--services {args.services} --minutes {args.minutes:g})")
    state.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
