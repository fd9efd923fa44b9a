"""Time from `cbconsole --demo` to the first painted board, as a user sees it,
beside the floor: a bare Textual app painting one DataTable (floor_app.py).

Both run in a detached tmux pane (a real terminal, 140x40) with the same
python; the screen is read every 10 ms until it shows the SERVICE header and
payment-api. Prints each run, the medians and their ratio (target: the
console within 2x the floor), then which heavy packages the demo has
imported once its board is painted (kubernetes, prometheus_api_client, httpx
must not be: demo mode needs none of them).

`make bench-startup` compiles the bytecode first (`make install` does), as a
wheel install would: both apps then start from bytecode, as they do for a user.

Usage: python tests/bench/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CBCONSOLE = Path(sys.executable).with_name("cbconsole")
FLOOR = Path(__file__).with_name("floor_app.py")
HEAVY = ("kubernetes", "prometheus_api_client", "httpx", "requests", "prometheus_client",
         "console.sources.kube", "console.sources.prometheus.source")


def tmux(session: str, *args: str) -> list[str]:
    # A server per run: killing the last session stops a server, and the next
    # run must not race it.
    return ["tmux", "-L", session, *args]


def screen(session: str) -> str:
    return subprocess.run(
        tmux(session, "capture-pane", "-p", "-t", session),
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def one_run(session: str, command: str, wait_open: bool, timeout: float = 30.0) -> tuple[float, float | None]:
    """(seconds to the first painted board, seconds to payment-api OPEN 3/3
    or None if not waited for)."""
    start = time.perf_counter()
    subprocess.run(
        tmux(session, "new-session", "-d", "-s", session, "-x", "140", "-y", "40", command),
        check=True,
    )
    painted = None
    try:
        while time.perf_counter() - start < timeout:
            text = screen(session)
            if painted is None and "payment-api" in text and "SERVICE" in text:
                painted = time.perf_counter() - start
                if not wait_open:
                    return painted, None
            # The board's row (the header may name payment-api's incident too).
            row = next((line for line in text.splitlines()
                        if line.lstrip().startswith("payment-api")), "")
            if painted is not None and "OPEN" in row and "3/3" in row:
                return painted, time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"no board within {timeout}s; screen was:\n{screen(session)}")
    finally:
        subprocess.run(tmux(session, "kill-server"), check=False)


async def _demo_modules() -> dict[str, bool]:
    """The demo as cli.main builds it, headless: what is imported once the
    first board is painted."""
    before = set(sys.modules)
    from console.ui.app import CBConsoleApp
    from console.demo import DemoFleet, demo_service_map
    from console.incident.tracker import IncidentTracker
    from console.incident.journal import Journal

    fleet = DemoFleet(seed=7)
    with tempfile.TemporaryDirectory() as state:
        app = CBConsoleApp(fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
                           service_map=demo_service_map(),
                           tracker=IncidentTracker(Journal.open_or_resume(Path(state))))
        async with app.run_test(size=(140, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.poller.snapshot is not None
            await pilot.pause(1.0)  # a diagnosis may start after 0.5 s on the selected row
            await app.workers.wait_for_complete()
    del before
    return {name: name in sys.modules for name in HEAVY}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        print("tmux is needed: apt-get install tmux", file=sys.stderr)
        return 2
    painted, opened, floor = [], [], []
    print(f"{'run':>3}  {'floor s':>8}  {'cbconsole --demo s':>18}  {'payment-api OPEN 3/3 s':>22}")
    for i in range(args.runs):
        # Interleaved, so a busy moment on the machine hits both alike.
        # Server names with the pid: another bench-startup on the machine has its own.
        f, _ = one_run(f"cbconsole-floor-{os.getpid()}-{i}", f"{sys.executable} {FLOOR}",
                       wait_open=False)
        # A fresh journal directory per run: no incident resumed from the last.
        with tempfile.TemporaryDirectory(prefix="cbconsole-startup-") as state:
            p, o = one_run(f"cbconsole-bench-{os.getpid()}-{i}",
                           f"{CBCONSOLE} --demo --state-dir {state}",
                           wait_open=True)
        floor.append(f)
        painted.append(p)
        opened.append(o)
        print(f"{i + 1:>3}  {f:>8.2f}  {p:>18.2f}  {o:>22.2f}")
    fm, pm = statistics.median(floor), statistics.median(painted)
    print()
    print(f"{'median of ' + str(args.runs):<28} {'seconds':>8}")
    print(f"{'floor (one DataTable)':<28} {fm:>8.2f}")
    print(f"{'cbconsole --demo board':<28} {pm:>8.2f}")
    print(f"{'payment-api OPEN 3/3':<28} {statistics.median(opened):>8.2f}")
    print(f"{'ratio board/floor':<28} {pm / fm:>8.2f}   (target <= 2.00)")
    modules = asyncio.run(_demo_modules())
    print("\nimported in demo mode after the first board (want: False):")
    for name, loaded in modules.items():
        print(f"  {name:<28} {loaded}")
    print("\nreproduce: make bench-startup  (or: .venv/bin/python tests/bench/startup.py --runs 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
