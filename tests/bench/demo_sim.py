"""How long the demo fleet takes to simulate 10 minutes in one poll (median of 5).
Usage: python tests/bench/demo_sim.py"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone

from console.clock import FakeClock
from console.demo import DemoFleet


def one() -> float:
    clock = FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc))
    fleet = DemoFleet(seed=7, clock=clock)
    clock.advance(600)
    start = time.perf_counter()
    fleet.poll()
    return time.perf_counter() - start


if __name__ == "__main__":
    runs = [one() for _ in range(5)]
    print("10 min of demo sim:", ", ".join(f"{r:.3f}s" for r in runs))
    print(f"median {statistics.median(runs):.3f}s")
