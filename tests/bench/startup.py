"""Time from `cbconsole --demo` to the first painted board, as a user sees it.

Runs the console in a detached tmux pane (a real terminal) and reads the
screen every 10 ms until the board shows payment-api. Prints each run and the
median. Usage: python tests/bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CBCONSOLE = Path(sys.executable).with_name("cbconsole")


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


def one_run(session: str, timeout: float = 30.0) -> tuple[float, float]:
    """(seconds to the first painted board, seconds to payment-api OPEN 3/3)."""
    start = time.perf_counter()
    subprocess.run(
        tmux(session, "new-session", "-d", "-s", session, "-x", "140", "-y", "40", f"{CBCONSOLE} --demo"),
        check=True,
    )
    painted = None
    try:
        while time.perf_counter() - start < timeout:
            text = screen(session)
            if painted is None and "payment-api" in text and "SERVICE" in text:
                painted = time.perf_counter() - start
            row = next((line for line in text.splitlines() if "payment-api" in line), "")
            if painted is not None and "OPEN" in row and "3/3" in row:
                return painted, time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"no board within {timeout}s; screen was:\n{screen(session)}")
    finally:
        subprocess.run(tmux(session, "kill-server"), check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        print("tmux is needed: apt-get install tmux", file=sys.stderr)
        return 2
    painted, opened = [], []
    for i in range(args.runs):
        p, o = one_run(f"cbconsole-bench-{i}")
        painted.append(p)
        opened.append(o)
        print(f"run {i + 1}: first board {p:.2f}s, payment-api OPEN 3/3 {o:.2f}s")
    print(
        f"median of {args.runs}: first board {statistics.median(painted):.2f}s, "
        f"payment-api OPEN 3/3 {statistics.median(opened):.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
