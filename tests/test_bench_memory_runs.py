"""bench-memory still runs: one simulated minute of a small fleet through the
real history, tracker and journal, as `make bench-memory` drives them (it had
stopped at its first line after a tracker rename, unseen)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]


def test_bench_memory_prints_its_growth_table():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/bench/memory.py"), "--services", "50", "--minutes", "10"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "growth between minute" in done.stdout
    assert "journal events (the incident)" in done.stdout
