"""The command line's arguments: the parser (`cbconsole --help`) and the
config overrides the flags make (console.cli reads them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from console import __version__, profilenames
from console.logfile import log_level

PROFILES = (*profilenames.BUILTIN, profilenames.CUSTOM)


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
        epilog=(
            "Secrets are never taken on the command line: a Prometheus bearer token "
            "comes from $CBCONSOLE_PROMETHEUS_TOKEN or --prometheus-token-file, a "
            "basic-auth password from the config file's password_env/password_file."
        ),
    )
    parser.add_argument("--version", action="version", version=f"cbconsole {__version__}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--demo",
        action="store_true",
        help="open on the embedded demo fleet (simulated breakers, cluster and flags)",
    )
    source.add_argument("--prometheus", metavar="URL", help="Prometheus-compatible API base URL")
    parser.add_argument("--seed", type=int, default=7, help="demo fleet random seed (default 7)")
    parser.add_argument(
        "--poll", type=positive_seconds, metavar="SECONDS", help="poll interval (default 2)"
    )
    config = parser.add_mutually_exclusive_group()
    config.add_argument(
        "--config", type=Path, metavar="FILE",
        help="config file (TOML; default ~/.config/cbconsole/config.toml, or $CBCONSOLE_CONFIG)",
    )
    config.add_argument(
        "--no-config", action="store_true",
        help="read no config file (flags and CBCONSOLE_* variables still apply)",
    )
    parser.add_argument(
        "--context", metavar="NAME", action="append",
        help="kubeconfig context (default: the current one); repeated, one per cluster "
             "(with --cluster-label, or the config's [sites.NAME] tables)")
    parser.add_argument(
        "--site", metavar="NAME", action="append",
        help="watch only this site of the config's [sites.NAME] tables (repeatable)")
    parser.add_argument(
        "--cluster-label", metavar="LABEL",
        help="--prometheus is a global source (Thanos, Mimir, federation): this label's "
             "value (e.g. cluster) says each series' site, the context's name by default")
    parser.add_argument("--namespace", metavar="NS", help="Kubernetes namespace (default: the context's)")
    parser.add_argument("--profile", choices=PROFILES, help="breaker metric profile (default runbook)")
    parser.add_argument(
        "--backfill-minutes", type=int, metavar="N", help="history to read back at start (default 60)"
    )
    parser.add_argument("--alert-name", metavar="NAME", help="alert rule name (default CircuitBreakerOpen)")
    parser.add_argument("--prometheus-token-file", type=Path, metavar="FILE", help="bearer token file")
    parser.add_argument("--prometheus-user", metavar="USER", help="basic auth user")
    parser.add_argument("--prometheus-ca", type=Path, metavar="FILE", help="CA bundle for TLS")
    parser.add_argument(
        "--prometheus-insecure",
        action="store_true",
        help="skip TLS certificate verification (verification is on by default)",
    )
    parser.add_argument("--flags-url", metavar="URL", help="feature-flag service base URL")
    parser.add_argument(
        "--flags-token-file", type=Path, metavar="FILE",
        help="flag service admin token file (default: $CBCONSOLE_FLAGS_TOKEN)",
    )
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR",
        help="incident journal directory (default: the user state dir; the demo's in DIR/demo)",
    )
    parser.add_argument(
        "--tz", metavar="ZONE", help="time zone of the times shown (default UTC; e.g. Europe/Paris)"
    )
    parser.add_argument(
        "--log-level", type=log_level, metavar="LEVEL",
        help="cbconsole.log's level, in the state dir: DEBUG, INFO (default), WARNING, ERROR",
    )
    safety = parser.add_argument_group("safety")
    safety.add_argument(
        "--read-only", action="store_true",
        help="refuse every mutating action before any request is sent",
    )
    safety.add_argument(
        "--dry-run", action="store_true",
        help="show every dialog and equivalent command, send nothing",
    )
    return parser


# The config key each flag sets: a bad value is blamed on the flag.
FLAG_NAMES = {
    "poll_interval_s": "--poll",
    "log_level": "--log-level",
    "read_only": "--read-only",
    "dry_run": "--dry-run",
    "incident.timezone": "--tz",
    "flags.url": "--flags-url",
    "flags.token_file": "--flags-token-file",
    "prometheus.url": "--prometheus",
    "prometheus.profile": "--profile",
    "prometheus.backfill_minutes": "--backfill-minutes",
    "prometheus.alert_name": "--alert-name",
    "prometheus.cluster_label": "--cluster-label",
    "prometheus.auth.bearer_token_file": "--prometheus-token-file",
    "prometheus.auth.username": "--prometheus-user",
    "prometheus.auth.ca_file": "--prometheus-ca",
    "prometheus.auth.insecure_skip_verify": "--prometheus-insecure",
}


def overrides(args: argparse.Namespace) -> dict:
    auth = {
        "bearer_token_file": args.prometheus_token_file,
        "username": args.prometheus_user,
        "ca_file": args.prometheus_ca,
        "insecure_skip_verify": True if args.prometheus_insecure else None,
    }
    flags = {"url": args.flags_url}
    if args.flags_token_file:
        # A file named on the command line wins over the environment variable.
        flags |= {"token_file": args.flags_token_file, "token_env": ""}
    return {
        "poll_interval_s": args.poll,
        "log_level": args.log_level,
        "read_only": True if args.read_only else None,
        "dry_run": True if args.dry_run else None,
        "incident": {"timezone": args.tz},
        "flags": flags,
        "prometheus": {
            "url": args.prometheus,
            "profile": args.profile,
            "backfill_minutes": args.backfill_minutes,
            "alert_name": args.alert_name,
            "cluster_label": args.cluster_label,
            "auth": {k: v for k, v in auth.items() if v is not None},
        },
    }
