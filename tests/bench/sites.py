"""Sites: 20,000 breakers across four sites (5,000 each), every site its own
real Prometheus (Debian package) scraping its own flipping fleet
(tests/bench/flipfleet.py) every second; the console polls every second.

Poll wall time: per round, each site's raw queries (the PromQL a poll sends:
the profile's roles and the alert, over plain HTTP, one site after another)
and then one poll of the multi-site source (console.sources.sites, every
site's PrometheusSource at once in its own thread, merged). Reported: the
multi-site poll against the slowest site's raw queries of the same round
(target: <= 1.3x), and against the slowest single PrometheusSource.poll().
Also every site's raw queries at once, from threads: on a machine with
fewer cores than sites (the servers evaluate on the same cores), that, not
the slowest site alone, is the floor of any poll asking them together; and
each source reads its answers in Python under the GIL, which issue 16's poll
process per site takes off the console's own process.

Key press -> frame: tests/bench/load.py's run (200 `down` presses at random
moments, each timed to the frame written) with the multi-site source under
the console as cbconsole builds it (every site's PrometheusSource on its own
worker thread; --poll-process: every site in one poll process, as with
[prometheus] poll_process = true; target: p95 <= 100 ms). RSS of every
console process together (the console and any poll processes) at the start,
after the presses and, with --soak-minutes N, after N more minutes of polls
(the issue's: 30, target <= 250 MiB). --no-keys leaves it out. It runs
first, so that what the poll rounds leave in this process is not counted.

Usage: python tests/bench/sites.py [--sites 4] [--services 1667] [--instances 3]
       [--rounds 20] [--presses 200] [--no-keys] [--soak-minutes 30] [--poll-process]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import requests  # noqa: E402

from tests.bench.load import key_table, run as run_keys  # noqa: E402
from tests.bench.procstats import median, percentile, start_flipfleet, stop  # noqa: E402
from tests.promserver import Backend, wait_until  # noqa: E402

from console.sources.prometheus.read import alerts_query  # noqa: E402
from console.sources.prometheus.source import PrometheusSource  # noqa: E402
from console.sources.sites import Member, MultiSiteSource  # noqa: E402
from console.sites_cli import source_kind  # noqa: E402

SITE_NAMES = ("eu-west", "us-east", "ap-south", "sa-east", "eu-north", "us-west")


class CountingSites(MultiSiteSource):
    polls = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: list[float] = []
        self.decode_s: list[float] = []  # load.run's: the poll processes' share is not counted here

    def poll(self):
        start = time.perf_counter()
        snapshot = super().poll()
        self.seconds.append(time.perf_counter() - start)
        self.polls += 1
        return snapshot


def site_sources(urls: dict[str, str], make=PrometheusSource,
                 backfill: int = 5) -> dict[str, PrometheusSource]:
    return {name: make(url, profile="runbook", backfill_minutes=backfill, site=name, timeout=10)
            for name, url in urls.items()}


def multi(urls: dict[str, str], cls=MultiSiteSource, wait: float = 1.0, make=PrometheusSource,
          backfill: int = 5):
    return cls([Member(name, source, (name,), stamp=name)
                for name, source in site_sources(urls, make, backfill).items()], wait=wait)


def raw_queries(session: requests.Session, url: str, queries: list[str]) -> float:
    """The seconds a poll's queries take over plain HTTP, one after another."""
    start = time.perf_counter()
    now = time.time()
    for q in queries:
        r = session.get(f"{url}/api/v1/query", params={"query": q, "time": f"{now:.3f}"},
                        timeout=30)
        r.raise_for_status()
        r.json()
    return time.perf_counter() - start


def poll_rounds(urls: dict[str, str], rounds: int) -> dict:
    # No history read: the rounds time the polls that follow it (after the
    # keys' minutes of data, a 5 min backfill of 5,000 series outlasts its timeout).
    solo = site_sources(urls, backfill=0)
    sites = multi(urls, wait=30.0, backfill=0)  # here: every site's answer, however slow
    one = next(iter(solo.values()))
    queries = [*one.profile.queries.values(), alerts_query(one.alert_name)]
    session = requests.Session()
    for source in (*solo.values(), sites):
        source.poll()  # the first poll's backfill, out of the figures
    out: dict[str, list[float]] = {"raw": [], "solo": [], "multi": [], "raw_sum": [],
                                   "raw_at_once": []}
    sessions = [requests.Session() for _ in urls]
    pool = ThreadPoolExecutor(max_workers=len(urls))
    for _ in range(rounds):
        raw = [raw_queries(session, url, queries) for url in urls.values()]
        start = time.perf_counter()
        list(pool.map(lambda pair: raw_queries(pair[0], pair[1], queries),
                      zip(sessions, urls.values())))
        out["raw_at_once"].append(time.perf_counter() - start)
        times = []
        for source in solo.values():
            start = time.perf_counter()
            source.poll()
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        snapshot = sites.poll()
        out["multi"].append(time.perf_counter() - start)
        out["raw"].append(max(raw))
        out["raw_sum"].append(sum(raw))
        out["solo"].append(max(times))
        time.sleep(0.5)
    out["rows"] = [len(snapshot.services)]
    out["breakers"] = [sum(len(s.instances) for s in snapshot.services)]
    sites.close()
    pool.shutdown()
    for source in solo.values():
        source.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sites", type=int, default=4, choices=range(1, len(SITE_NAMES) + 1))
    p.add_argument("--services", type=int, default=1667, help="per site")
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--presses", type=int, default=200)
    p.add_argument("--no-keys", action="store_true")
    p.add_argument("--soak-minutes", type=float, default=0.0)
    p.add_argument("--poll-process", action="store_true",
                   help="every site's source in one poll process (PollHost)")
    args = p.parse_args()
    names = SITE_NAMES[:args.sites]
    fleets, backends = [], {}
    try:
        for name in names:
            fleet, target = start_flipfleet(
                "--services", str(args.services), "--instances", str(args.instances),
                "--pool", "50", "--flips", "20", "--every", "2")
            fleets.append(fleet)
            backends[name] = Backend("prometheus", target, scrape_interval=1)
        for backend in backends.values():
            backend.wait_ready("circuit_breaker_state", timeout=120)
            wait_until(lambda b=backend: len(b.query("count by (service) (circuit_breaker_state)"))
                       == args.services, timeout=120, what="all services scraped")
        urls = {name: b.url for name, b in backends.items()}
        keys = None
        if not args.no_keys:
            source = multi(urls, CountingSites, make=source_kind(args.poll_process))
            with tempfile.TemporaryDirectory(prefix="cbconsole-sites-") as state:
                keys = asyncio.run(run_keys("", args.sites * args.services, args.presses,
                                            Path(state), source=source,
                                            soak_s=args.soak_minutes * 60))
            source.close()
            report_keys(args, keys)  # now: a failure in the rounds below keeps it
        r = poll_rounds(urls, args.rounds)
    finally:
        for backend in backends.values():
            backend.stop()
        for fleet in fleets:
            stop(fleet)
    report(args, r)
    return 0


def report(args, r: dict) -> None:
    per_site = args.services * args.instances
    print(f"\n{args.sites} sites x {per_site} breakers ({args.services} services x "
          f"{args.instances} instances) = {r['breakers'][0]} breakers, {r['rows'][0]} rows; "
          f"each its own Prometheus, scrape 1 s; 20 breakers per site change every 2 s")
    print(f"\n{'per round (' + str(args.rounds) + ' rounds)':<44} {'median ms':>10} {'p95 ms':>8}")
    for label, values in (
            ("slowest site's raw queries (HTTP only)", r["raw"]),
            ("all sites' raw queries, one after another", r["raw_sum"]),
            ("all sites' raw queries at once (threads)", r["raw_at_once"]),
            ("slowest single PrometheusSource.poll()", r["solo"]),
            ("multi-site poll (all at once, merged)", r["multi"])):
        ms = [v * 1000 for v in values]
        print(f"{label:<44} {median(ms):>10.0f} {percentile(ms, 95):>8.0f}")
    ratios = [m / s for m, s in zip(r["multi"], r["raw"])]
    print(f"multi-site poll / slowest site's raw queries: median {median(ratios):.2f}x, "
          f"p95 {percentile(ratios, 95):.2f}x  (target <= 1.3x)")
    floor = [m / s for m, s in zip(r["multi"], r["raw_at_once"])]
    print(f"multi-site poll / all sites' raw queries at once (this machine's floor for "
          f"asking them together): median {median(floor):.2f}x")
    print(f"\nreproduce: make bench-sites  (or: .venv/bin/python tests/bench/sites.py --sites "
          f"{args.sites} --services {args.services} --instances {args.instances} --rounds "
          f"{args.rounds} --presses {args.presses}{' --no-keys' if args.no_keys else ''}"
          f"{f' --soak-minutes {args.soak_minutes:g}' if args.soak_minutes else ''}"
          f"{' --poll-process' if args.poll_process else ''})")


def report_keys(args, keys: dict) -> None:
    print(f"{args.sites} sites x {args.services * args.instances} breakers, "
          f"{'every site in one poll process' if args.poll_process else 'on worker threads'}")
    key_table(keys)
    print(f"RSS MiB, the console's process: start {keys['rss_start']:.1f}, board full "
          f"{keys['rss_loaded']:.1f}, end {keys['rss_end']:.1f};  {keys['polls']} polls "
          f"during the presses, median {median(keys['poll_s']) * 1000:.0f} ms")
    if "rss_pressed" in keys:
        print(f"RSS MiB, every console process together: after the presses "
              f"{keys['rss_pressed']:.1f}; after {args.soak_minutes:g} more minutes "
              f"{keys['rss_end'] + keys['rss_child']:.1f} (target <= 250)")
    else:
        print(f"RSS MiB, every console process together at the end: "
              f"{keys['rss_end'] + keys['rss_child']:.1f} (the poll processes "
              f"{keys['rss_child']:.1f})")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
