"""Process figures the load, soak and memory benchmarks print (Linux /proc)."""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import threading
import time

from console.sources.pollproc.proxy import ProcessSource
from console.sources.prometheus.source import PrometheusSource


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now, in MiB (VmRSS), of this process or `pid`."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def threads() -> tuple[int, int]:
    """(threading.active_count(), OS threads in /proc/self/task)."""
    return threading.active_count(), len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def history_size(history) -> dict[str, int]:
    """What a console.model.history.FleetHistory holds: transitions kept, their
    de-duplication keys, error-series points, and the largest per service."""
    transitions = getattr(history, "_transitions", {})
    seen = getattr(history, "_seen", {})
    errors = getattr(history, "_errors", {})
    return {
        "services": len(errors),
        "transitions": sum(len(d) for d in transitions.values()),
        "max_per_service": max((len(d) for d in transitions.values()), default=0),
        "seen_keys": sum(len(s) for s in seen.values()),
        "spark_points": sum(len(d) for d in errors.values()),
    }


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def start_flipfleet(*args: str):
    """Start tests/bench/flipfleet.py (same python) -> (process, "host:port")."""
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("flipfleet.py")), *args],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"flipfleet did not start: {line!r}")
    # Keep its later lines from filling the pipe.
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, line.split()[1]


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001
        proc.kill()
        proc.wait(timeout=5)


class GcPauses:
    """Each full (generation 2) collection's pause in this process, in ms
    (.full), from start() until stop(): the pauses key presses wait behind."""

    def __init__(self) -> None:
        self.full: list[float] = []
        self._t = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.full.append((time.perf_counter() - self._t) * 1000)

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


class LagProbe:
    """The event loop's lag: how late a sleep of `interval` seconds wakes up,
    sampled (in seconds, in .lags) from start() until stop()."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._running = False
        self._task = None

    def start(self) -> None:
        self._running = True
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._running:
            t = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(time.perf_counter() - t - self.interval)

    async def stop(self) -> None:
        self._running = False
        await self._task


class _Counted:
    polls = 0
    failures = 0

    def poll(self):
        try:
            snapshot = super().poll()
        except Exception:
            self.failures += 1
            raise
        self.polls += 1
        return snapshot


class CountingSource(_Counted, PrometheusSource):
    """The real source, its good and failed polls counted (the soaks), on a
    worker thread of the console's process, as cbconsole runs it."""


class CountingProcessSource(_Counted, ProcessSource):
    """The same, polling in its own process (--poll-process)."""


def console_rss_mb(source) -> float:
    """RSS of all the console's processes together (its poll process too)."""
    pid = getattr(source, "pid", None)
    return rss_mb() + (rss_mb(pid) if pid else 0.0)
