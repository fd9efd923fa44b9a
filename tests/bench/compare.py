"""Two revisions side by side in one sitting: bench-load's key -> frame and
bench-startup's board/floor ratio, several rounds, interleaved.

Each revision is checked out into a temporary git worktree with its own
venv (`make install-test` there, once; the opossum node_modules are copied
from this checkout when the lock files match). Each round then runs, for
both, what `make bench-load` and `make bench-startup` run after their
install step (tests/bench/load.py, tests/bench/startup.py, that revision's
own), in the order A B on odd rounds and B A on even ones, so that a busy
moment on the machine, or a drift over the sitting, hits both alike.
Prints every run's figures as it goes, then per revision the median of the
rounds and their spread (min-max), and AFTER against BEFORE (target: within
10 %).

Usage: python tests/bench/compare.py --before REV --after REV [--rounds 5]
       [--load-args "--presses 200"] [--startup-args "--runs 10"] [--keep]
(make bench-compare BEFORE=REV AFTER=REV [ROUNDS=5])
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
LOAD = re.compile(r"^(cursor moved|detail pane)\D*?\s(\d+)\s+([\d.]+|nan)\s+([\d.]+|nan)"
                  r"\s+([\d.]+|nan)", re.M)
LAG = re.compile(r"^event-loop lag \(20 ms sleep\)\s+\d+\s+[\d.]+\s+([\d.]+)", re.M)
RSS = re.compile(r"^RSS MiB\s+[\d.]+\s+[\d.]+\s+([\d.]+)", re.M)
CHILD = re.compile(r"^RSS MiB of the poll process\s+([\d.]+)", re.M)
STARTUP = {"ratio": re.compile(r"^ratio board/floor\s+([\d.]+)", re.M),
           "board_s": re.compile(r"^cbconsole --demo board\s+([\d.]+)", re.M),
           "floor_s": re.compile(r"^floor \(one DataTable\)\s+([\d.]+)", re.M)}


def git(*args: str, cwd: Path = HERE) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def checkout(rev: str, where: Path) -> None:
    git("worktree", "add", "--detach", "--quiet", str(where), rev)


def install(rev: str, where: Path) -> None:
    lock = Path("tests/opossum/package-lock.json")
    ours = HERE / "tests/opossum/node_modules"
    if ours.is_dir() and (where / lock).exists() and filecmp.cmp(HERE / lock, where / lock,
                                                               shallow=False):
        shutil.copytree(ours, where / "tests/opossum/node_modules", symlinks=True)
        (where / "tests/opossum/node_modules").touch()
    print(f"{rev}: {git('log', '-1', '--format=%h %s', cwd=where)[:90]}", flush=True)
    subprocess.run(["make", "-s", "-C", str(where), "install-test", "install"], check=True,
                   stdout=subprocess.DEVNULL)


def run(tree: Path, script: str, args: list[str], tries: int = 3) -> str:
    """The script's output; a failed run is tried again (an older startup.py
    names its tmux servers by run number only, so another bench-startup on
    the machine at that moment makes it fail) and said so."""
    for attempt in range(1, tries + 1):
        done = subprocess.run([str(tree / ".venv/bin/python"), f"tests/bench/{script}", *args],
                              cwd=tree, capture_output=True, text=True, check=False)
        if not done.returncode:
            return done.stdout
        print(f"  {tree.name} {script} failed ({done.returncode}), try {attempt} of {tries}:"
              f" {(done.stderr.strip().splitlines() or ['?'])[-1][:160]}", flush=True)
    raise RuntimeError(f"{tree.name} {script} failed {tries} times:\n"
                       f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def load_figures(out: str) -> dict[str, float]:
    figures = {}
    for label, _n, median, p95, _max in LOAD.findall(out):
        name = "cursor" if label.startswith("cursor") else "detail"
        figures[f"{name}_median_ms"], figures[f"{name}_p95_ms"] = float(median), float(p95)
    if len(figures) != 4:
        raise RuntimeError(f"bench-load printed no key -> frame table:\n{out[-2000:]}")
    for name, pattern in (("lag_p95_ms", LAG), ("rss_end_mib", RSS)):
        found = pattern.search(out)
        if found:
            figures[name] = float(found[1])
    child = CHILD.search(out)
    if child and "rss_end_mib" in figures:  # every console process together
        figures["rss_end_mib"] += float(child[1])
    return figures


def startup_figures(out: str) -> dict[str, float]:
    figures = {}
    for name, pattern in STARTUP.items():
        found = pattern.search(out)
        if not found:
            raise RuntimeError(f"bench-startup printed no {name}:\n{out[-2000:]}")
        figures[name] = float(found[1])
    return figures


def summary(results: dict[str, list[dict[str, float]]], before: str, after: str) -> None:
    keys = list(results["before"][0])
    width = max(len(k) for k in keys)
    print(f"\n{'median of ' + str(len(results['before'])) + ' rounds':<{width + 2}}"
          f"{'BEFORE ' + before:>26}  {'AFTER ' + after:>26}  {'after/before':>12}")
    for key in keys:
        cells, medians = [], []
        for label in ("before", "after"):
            values = [r[key] for r in results[label]]
            medians.append(statistics.median(values))
            cells.append(f"{medians[-1]:.2f} ({min(values):.2f}-{max(values):.2f})")
        change = medians[1] / medians[0] if medians[0] else float("nan")
        flag = "" if change <= 1.10 else "  over +10 %"
        print(f"{key:<{width + 2}}{cells[0]:>26}  {cells[1]:>26}  {change:>11.2f}x{flag}")
    print("(each cell: the median, then the spread min-max of the rounds; lower is better)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load-args", default="", help="passed to tests/bench/load.py")
    parser.add_argument("--startup-args", default="", help="passed to tests/bench/startup.py")
    parser.add_argument("--keep", action="store_true", help="leave the worktrees")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    revs = {"before": args.before, "after": args.after}
    base = Path(tempfile.mkdtemp(prefix="cbconsole-compare-"))
    trees: dict[str, Path] = {}
    try:
        for label, rev in revs.items():
            checkout(rev, base / label)
            trees[label] = base / label
            install(rev, trees[label])
        results: dict[str, list[dict[str, float]]] = {label: [] for label in revs}
        for round_no in range(1, args.rounds + 1):
            order = ["before", "after"] if round_no % 2 else ["after", "before"]
            figures: dict[str, dict[str, float]] = {label: {} for label in revs}
            for script, parse, extra in (("load.py", load_figures, args.load_args),
                                         ("startup.py", startup_figures, args.startup_args)):
                for label in order:
                    figures[label] |= parse(run(trees[label], script, shlex.split(extra)))
            for label in revs:
                results[label].append(figures[label])
                shown = "  ".join(f"{k} {v:.2f}" for k, v in figures[label].items())
                print(f"round {round_no} {label:>6} {revs[label]}: {shown}", flush=True)
        summary(results, args.before, args.after)
    finally:
        if args.keep:
            print(f"worktrees kept in {base}")
        else:
            for tree in trees.values():
                git("worktree", "remove", "--force", str(tree))
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
