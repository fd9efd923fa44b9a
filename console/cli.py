"""Command line: `cbconsole --demo` opens the board on the embedded demo fleet,
`cbconsole --prometheus URL` on a real one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console import __version__

PROFILES = ("runbook", "resilience4j", "envoy", "custom")


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
    parser.add_argument("--config", type=Path, metavar="FILE", help="config file (TOML)")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
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
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    auth = {
        "bearer_token_file": args.prometheus_token_file,
        "username": args.prometheus_user,
        "ca_file": args.prometheus_ca,
        "insecure_skip_verify": True if args.prometheus_insecure else None,
    }
    return {
        "poll_interval_s": args.poll,
        "prometheus": {
            "url": args.prometheus,
            "profile": args.profile,
            "backfill_minutes": args.backfill_minutes,
            "alert_name": args.alert_name,
            "auth": {k: v for k, v in auth.items() if v is not None},
        },
    }


def connect_cluster(context: str | None, namespace: str | None):
    """(cluster, "") or (None, why not): the board works without a cluster and
    says why its cluster features are unavailable."""
    from console.sources.base import SourceError
    from console.sources.kube import KubernetesCluster

    try:
        return KubernetesCluster(context=context, namespace=namespace), ""
    except SourceError as error:
        return None, str(error)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from console.config import ConfigFileError, load_config

    try:
        config = load_config(args.config, overrides=_overrides(args))
    except ConfigFileError as error:
        print(f"cbconsole: {error}", file=sys.stderr)
        return 2
    # Imported here so --help and config errors answer without loading Textual.
    from console.app import CBConsoleApp

    if args.demo:
        from console.demo import DemoFleet

        fleet = DemoFleet(seed=args.seed)
        source, cluster, flags = fleet, fleet.cluster, fleet.flags
        cluster_unavailable = ""
    elif config.prometheus.url:
        from console.sources.prometheus import PrometheusSource

        try:
            source = PrometheusSource(
                config.prometheus.url,
                profile=config.profile_spec(),
                auth=config.prometheus.auth,
                recovery_timeouts=config.recovery_timeouts(),
                default_recovery_timeout=config.default_recovery_timeout_s,
                backfill_minutes=config.prometheus.backfill_minutes,
                alert_name=config.prometheus.alert_name,
                timeout=config.prometheus.timeout_s,
            )
        except (ConfigFileError, ValueError) as error:
            print(f"cbconsole: {error}", file=sys.stderr)
            return 2
        cluster, cluster_unavailable = connect_cluster(args.context, args.namespace)
        flags = None  # the flag service is wired with the mitigations
    else:
        print(
            "cbconsole: no data source given. Try `cbconsole --demo` for the embedded "
            "demo fleet, or `cbconsole --prometheus URL`.",
            file=sys.stderr,
        )
        return 2
    app = CBConsoleApp(
        source,
        cluster=cluster,
        cluster_unavailable=cluster_unavailable,
        flags=flags,
        poll_interval=config.poll_interval_s,
    )
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
