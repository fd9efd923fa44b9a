"""Command line: `cbconsole --demo` opens the board on the embedded demo fleet."""

from __future__ import annotations

import argparse
import sys

from console import __version__


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0.1 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("the poll interval must be between 0.1 and 3600 seconds")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cbconsole",
        description="Keyboard-driven console for circuit-breaker incidents (RUNBOOK-004).",
    )
    parser.add_argument("--version", action="version", version=f"cbconsole {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open on the embedded demo fleet (simulated breakers, cluster and flags)",
    )
    parser.add_argument("--seed", type=int, default=7, help="demo fleet random seed (default 7)")
    parser.add_argument(
        "--poll",
        type=positive_seconds,
        default=2.0,
        metavar="SECONDS",
        help="poll interval in seconds (default 2)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.demo:
        print(
            "cbconsole: no data source given. Try `cbconsole --demo` to open the "
            "embedded demo fleet.",
            file=sys.stderr,
        )
        return 2
    # Imported here so --help and errors answer without loading Textual.
    from console.app import CBConsoleApp
    from console.demo import DemoFleet

    fleet = DemoFleet(seed=args.seed)
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, poll_interval=args.poll
    )
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
