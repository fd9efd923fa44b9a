"""Load: key press to screen with ~5,000 breakers on a real Prometheus while
the console polls every second.

Reading of the issue's "5,000 breakers across 500 services with 3 instances
each": 500 x 3 is 1,500, not 5,000, so this takes the breaker count as the
figure that matters: 5,001 breakers (per-instance breaker state series) =
1,667 services x 3 instances (--services / --instances change it; e.g.
--services 500 --instances 10 for 500 services). A flipping exporter
(tests/bench/flipfleet.py, its own process) moves 20 breakers among the first
50 services every 2 s; Prometheus (Debian package) scrapes it every second.

The console runs headless (App.run_test) as `cbconsole` would: a real
PrometheusSource, an IncidentTracker on a temp journal (--no-journal leaves
it out), poll interval 1 s. Once the board holds every service, `down` is
pressed --presses times at random moments 0.1-0.4 s apart (so presses land
during polls too; 200 by default, so that the p95 is not the third-worst
press of a small sample). Each press is timed from the key event sent to:
  cursor  the first frame written after the board's cursor moved;
  detail  the first frame written after the detail pane shows the newly
          selected service.
(A frame is the update written to the driver: FrameDriver, a HeadlessDriver
that says it is not headless, so Textual renders each update to the escape
sequence a terminal would get, writes it and flushes; nothing is printed.)
It also reports the event loop's lag (a 20 ms sleep's overshoot) and RSS at
the start and the end. Target: <= 100 ms.

Usage: python tests/bench/load.py [--services 1667] [--instances 3] [--presses 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual import events  # noqa: E402
from textual.drivers.headless_driver import HeadlessDriver  # noqa: E402

from tests.bench.procstats import (  # noqa: E402
    GcPauses, LagProbe, median, open_fds, percentile, rss_mb, start_flipfleet, stop, threads,
)
from tests.promserver import Backend, wait_until  # noqa: E402

from console.ui.app import CBConsoleApp  # noqa: E402
from console.cli import long_session  # noqa: E402
from console.incident.tracker import IncidentTracker  # noqa: E402
from console.incident.journal import Journal  # noqa: E402
from console.sources.prometheus.source import PrometheusSource  # noqa: E402
from console.sources.pollproc.proxy import ProcessSource  # noqa: E402


class Counting:
    polls = 0
    seconds: list[float]

    def poll(self):
        start = time.perf_counter()
        snapshot = super().poll()
        self.seconds.append(time.perf_counter() - start)
        self.decode_s.append(getattr(self, "last_decode_s", 0.0))
        self.polls += 1
        return snapshot


class FrameDriver(HeadlessDriver):
    """Input as headless (keys come from send_message), output as a terminal:
    Textual writes each frame, then flushes; the flush is the frame's time."""

    frames: list[float] = []
    last: FrameDriver | None = None

    def __init__(self, app, **kwargs) -> None:
        super().__init__(app, **kwargs)
        FrameDriver.last = self

    @property
    def is_headless(self) -> bool:
        return False

    def flush(self) -> None:
        self.frames.append(time.perf_counter())


class TimedApp(CBConsoleApp):
    def get_driver_class(self):
        return FrameDriver


class CountingSource(Counting, PrometheusSource):
    """The poll on a worker thread of the console's process, as cbconsole runs it."""


class CountingProcessSource(Counting, ProcessSource):
    """The poll in its own process (--poll-process); poll_s is then the wait
    for its answer."""


def poll_pids(source) -> list[int]:
    """The poll processes under `source`: one, which a multi-site source's
    sites share (each its own, if built with hosts of their own)."""
    members = getattr(source, "members", None)
    if members is not None:
        return sorted({pid for m in members for pid in poll_pids(m.source)})
    pid = getattr(source, "pid", None)
    return [pid] if pid else []


async def run(url: str, services: int, presses: int, journal_dir: Path | None,
              poll_process: bool = False, source=None, soak_s: float = 0.0) -> dict:
    """`source`: another counting source (polls, seconds) instead of one on
    `url` (tests/bench/sites.py: the multi-site one); `soak_s`: seconds it
    goes on polling after the presses before RSS is read at the end."""
    if source is None:
        kind = CountingProcessSource if poll_process else CountingSource
        source = kind(url, profile="runbook", backfill_minutes=5)
        source.seconds, source.decode_s = [], []
    tracker = IncidentTracker(Journal.open_or_resume(journal_dir, actor="bench")) if journal_dir else None
    app = TimedApp(source, tracker=tracker, poll_interval=1.0)
    long_session(app)  # as cbconsole does once the app is built
    frames = FrameDriver.frames = []
    out: dict = {"rss_start": rss_mb(), "threads_start": threads()[1], "fds_start": open_fds()}

    async with app.run_test(headless=False, size=(140, 40)):
        driver = FrameDriver.last
        board = app.query_one("#board")
        detail = app.query_one("#detail")
        moved: list[tuple[float, int]] = []
        shown: list[tuple[float, str | None]] = []
        cursor_down = board.action_cursor_down

        def timed_cursor_down():
            before = board.cursor_row
            result = cursor_down()
            if board.cursor_row != before:
                moved.append((time.perf_counter(), board.cursor_row))
            return result

        board.action_cursor_down = timed_cursor_down
        show = detail.show

        def timed_show(service, *args, **kw):
            shown.append((time.perf_counter(), getattr(service, "service", None)))
            return show(service, *args, **kw)

        detail.show = timed_show

        wait_start = time.monotonic()
        while not (app.poller.snapshot and len(app.poller.snapshot.services) == services):
            if time.monotonic() - wait_start > 120:
                raise RuntimeError(f"board never held {services} services: {app.poller.state.error}")
            await asyncio.sleep(0.2)
        out["first_board_s"] = time.monotonic() - wait_start
        out["rss_loaded"] = rss_mb()
        await asyncio.sleep(3)  # a few polls in
        probe = LagProbe(0.02)
        pauses = GcPauses()
        pauses.start()
        probe.start()
        polls_before = source.polls
        cpu_before = time.process_time()  # this process's threads only, not the poll process
        rng = random.Random(1)
        cursor_ms, detail_ms, missed = [], [], 0

        async def first_after(t: float, deadline: float) -> float | None:
            while time.perf_counter() < deadline:
                later = [f for f in frames if f > t]
                if later:
                    return later[0]
                await asyncio.sleep(0.001)
            return None

        for _ in range(presses):
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            n_moved = len(moved)
            target_row = board.cursor_row + 1
            sent = time.perf_counter()
            key = events.Key("down", None)
            key.set_sender(app)
            driver.send_message(key)
            deadline = sent + 5
            while len(moved) == n_moved and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            if len(moved) == n_moved:
                missed += 1
                continue
            t_moved, row = moved[n_moved]
            service = board.selected_service
            painted = await first_after(t_moved, deadline)
            if painted is not None:
                cursor_ms.append((painted - sent) * 1000)
            while time.perf_counter() < deadline and not any(
                t > t_moved and s == service for t, s in shown
            ):
                await asyncio.sleep(0.001)
            t_shown = next((t for t, s in shown if t > t_moved and s == service), None)
            if t_shown is not None:
                painted = await first_after(t_shown, deadline)
                if painted is not None:
                    detail_ms.append((painted - sent) * 1000)
            del target_row, row
        await probe.stop()
        pauses.stop()
        cpu_s = time.process_time() - cpu_before
        polls_pressed = source.polls - polls_before
        if soak_s:
            out["rss_pressed"] = rss_mb() + sum(rss_mb(pid) for pid in poll_pids(source))
            await asyncio.sleep(soak_s)
        # What a full collection walks (frozen objects are not), and its cost now.
        tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()
        t = time.perf_counter()
        gc.collect()
        full_now_ms = (time.perf_counter() - t) * 1000
        out.update(
            cursor=cursor_ms, detail=detail_ms, missed=missed, lags=[x * 1000 for x in probe.lags],
            polls=polls_pressed, poll_s=source.seconds[polls_before:polls_before + polls_pressed],
            decode_s=source.decode_s[polls_before:polls_before + polls_pressed],
            rss_end=rss_mb(), rss_child=sum(rss_mb(pid) for pid in poll_pids(source)),
            threads_end=threads()[1], fds_end=open_fds(), gc_full=pauses.full,
            cpu_s=cpu_s, gc_tracked=tracked, gc_frozen=frozen, gc_full_now_ms=full_now_ms,
            journal=len(tracker.journal.events) if tracker else 0,
            incident_services=len(tracker.services) if tracker else 0,
        )
    return out


def key_table(r: dict) -> None:
    """run()'s key press -> frame figures and the event loop's lag, as a table
    (tests/bench/compare.py reads it)."""
    print(f"{'key press -> screen':<34} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  target")
    for label, values in (("cursor moved, frame written", r["cursor"]),
                          ("detail pane shows it, frame", r["detail"])):
        print(f"{label:<34} {len(values):>4} {median(values):>10.1f} {percentile(values, 95):>8.1f} "
              f"{max(values, default=float('nan')):>8.1f}  <= 100")
    print(f"{'event-loop lag (20 ms sleep)':<34} {len(r['lags']):>4} {median(r['lags']):>10.1f} "
          f"{percentile(r['lags'], 95):>8.1f} {max(r['lags'], default=0):>8.1f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=1667)
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--presses", type=int, default=200)
    p.add_argument("--no-journal", action="store_true")
    p.add_argument("--poll-process", action="store_true",
                   help="poll in a process of its own ([prometheus] poll_process = true)")
    args = p.parse_args()
    breakers = args.services * args.instances
    fleet, target = start_flipfleet("--services", str(args.services), "--instances",
                                    str(args.instances), "--pool", "50", "--flips", "20",
                                    "--every", "2")
    backend = Backend("prometheus", target, scrape_interval=1)
    try:
        backend.wait_ready("circuit_breaker_state", timeout=90)
        wait_until(lambda: len(backend.query("count by (service) (circuit_breaker_state)"))
                   == args.services, timeout=90, what="all services scraped")
        with tempfile.TemporaryDirectory(prefix="cbconsole-load-") as state:
            r = asyncio.run(run(backend.url, args.services, args.presses,
                                None if args.no_journal else Path(state),
                                args.poll_process))
    finally:
        backend.stop()
        stop(fleet)
    print(f"{breakers} breakers = {args.services} services x {args.instances} instances; "
          f"20 breakers change state every 2 s; Prometheus scrape 1 s; console poll 1 s; "
          f"journal {'off' if args.no_journal else 'on'}")
    print(f"{r['polls']} polls during the presses; PrometheusSource.poll() median "
          f"{median(r['poll_s']) * 1000:.0f} ms (worker thread); first full board after "
          f"{r['first_board_s']:.1f} s")
    print(f"CPU of the console's process (all its threads) during the presses: "
          f"{r['cpu_s']:.1f} s, {r['cpu_s'] * 1000 / max(r['polls'], 1):.0f} ms per poll")
    if any(r["decode_s"]):
        print(f"of which decoding the poll process's answer in the console: median "
              f"{median(r['decode_s']) * 1000:.0f} ms, max {max(r['decode_s']) * 1000:.0f} ms")
    print()
    key_table(r)
    print(f"{'full GC pauses (console process)':<34} {len(r['gc_full']):>4} "
          f"{median(r['gc_full']) if r['gc_full'] else 0:>10.1f} "
          f"{percentile(r['gc_full'], 95) if r['gc_full'] else 0:>8.1f} {max(r['gc_full'], default=0):>8.1f}")
    print(f"at the end: {r['gc_tracked']:,} objects a full collection walks, {r['gc_frozen']:,} "
          f"frozen; one full collection then took {r['gc_full_now_ms']:.0f} ms")
    if r["missed"]:
        print(f"presses whose cursor never moved within 5 s: {r['missed']}")
    print()
    print(f"{'process':<34} {'start':>8} {'board full':>10} {'end':>8}")
    print(f"{'RSS MiB':<34} {r['rss_start']:>8.1f} {r['rss_loaded']:>10.1f} {r['rss_end']:>8.1f}")
    if r["rss_child"]:
        print(f"{'RSS MiB of the poll process':<34} {'':>8} {'':>10} {r['rss_child']:>8.1f}")
    print(f"{'threads (/proc/self/task)':<34} {r['threads_start']:>8} {'':>10} {r['threads_end']:>8}")
    print(f"{'open fds':<34} {r['fds_start']:>8} {'':>10} {r['fds_end']:>8}")
    if not args.no_journal:
        print(f"incident journal: {r['journal']} events, {r['incident_services']} services in the incident")
    print(f"\nreproduce: make bench-load  (or: .venv/bin/python tests/bench/load.py "
          f"--services {args.services} --instances {args.instances} --presses {args.presses}"
          f"{' --no-journal' if args.no_journal else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
