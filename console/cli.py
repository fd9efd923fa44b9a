"""Command line: `cbconsole --demo` opens the board on the embedded demo fleet,
`cbconsole --prometheus URL` on a real one."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path

from console import __version__, profilenames
from console.clock import Clock, system_clock
from console.logfile import log_level
from console.ui.login import login_on_terminal

log = logging.getLogger(__name__)

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
    "prometheus.auth.bearer_token_file": "--prometheus-token-file",
    "prometheus.auth.username": "--prometheus-user",
    "prometheus.auth.ca_file": "--prometheus-ca",
    "prometheus.auth.insecure_skip_verify": "--prometheus-insecure",
}


def _overrides(args: argparse.Namespace) -> dict:
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
            "auth": {k: v for k, v in auth.items() if v is not None},
        },
    }


def connect_cluster(context: str | None, namespace: str | None):
    """(cluster, "") or (None, the error saying why not): the board works
    without a cluster and says why its cluster features are unavailable."""
    from console.sources.base import SourceError
    from console.sources.kube import KubernetesCluster

    try:
        return KubernetesCluster(context=context, namespace=namespace), ""
    except SourceError as error:
        log.warning("no cluster: %s", error, exc_info=True)
        return None, error


def connect_flags(config):
    """(flag service, "") or (None, why not)."""
    from console.sources.base import SourceError
    from console.sources.flags import HttpFlagService

    f = config.flags
    if not f.url:
        return None, "no flag service configured (flags.url or --flags-url)"
    verify = False if f.insecure_skip_verify else str(f.ca_file) if f.ca_file else True
    try:
        service = HttpFlagService(
            f.url,
            token_env=None if f.token_file else (f.token_env or None),
            token_file=f.token_file,
            timeout=f.timeout_s,
            deadline=f.deadline_s,
            verify=verify,
        )
    except (SourceError, ValueError) as error:
        log.warning("no flag service: %s", error, exc_info=True)
        return None, str(error)
    return service, ""


def export(argv: list[str], clock: Clock = system_clock) -> int:
    """`cbconsole export`, handed the adapter that counts an impact on the
    Prometheus the incident recorded."""
    from console.incident.export import main as export_main
    from console.sources.prometheus.impact import read_recorded

    return export_main(argv, clock, read_impact=read_recorded)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:
        return export(argv[1:])
    args = build_parser().parse_args(argv)
    # Imports and set-up make ~75,000 objects that live as long as the
    # console: no collection while they are made (~50 ms of the start).
    gc.disable()
    # No pydantic plugin is used: skip the scan of every installed package's
    # entry points at the first model (~10 ms of the start).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app, tracker = _build_app(args)
    finally:
        gc.enable()
    if app is None:
        return 2
    long_session_gc()
    try:
        app.run()
    finally:
        tracker = app.tracker  # a follower may have taken the journal over
        if tracker is not None and not tracker.journal.close():
            print(f"cbconsole: {len(tracker.journal.pending)} journal event(s) could not be "
                  f"written: {tracker.journal.problem}", file=sys.stderr)
    return app.return_code or 0


def long_session_gc() -> None:
    """The collector's policy for the console's life. What exists now lives
    as long as the process: frozen, no collection walks it again. A poll
    leaves tens of thousands of objects living about a second (the answers
    being read, the new snapshot, rendered lines that refer to themselves);
    by default they trigger a full collection, 100-200 ms with the GIL held
    at 5,000 breakers, twice a poll, and key presses wait behind it. Full
    collections now come after 100 young ones instead of 10: every ~8 s
    under that load (make bench-load). Rarer still (1,000) let garbage pile
    up for minutes: +50 % memory and a 0.7 s pause (make bench-soak)."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def _build_app(args):
    """(the app, its tracker) or (None, None) after saying why on stderr."""
    from console.config import ConfigFileError, load_config

    from console.sources.base import SourceError

    if args.demo and (args.context or args.namespace):
        flag = "--context" if args.context else "--namespace"
        print(f"cbconsole: {flag} is for a real cluster; --demo runs its own simulated one "
              f"(drop {flag}, or use --prometheus URL)", file=sys.stderr)
        return None, None
    try:
        config = load_config(args.config, overrides=_overrides(args), flag_names=FLAG_NAMES,
                             no_file=args.no_config)
    except ConfigFileError as error:
        print(f"cbconsole: {error}", file=sys.stderr)
        return None, None
    start_log(config, args)
    # Imported here so --help and config errors answer without loading Textual.
    from console.ui.app import CBConsoleApp

    flags_unavailable = ""
    if args.demo:
        from console.demo import DemoFleet, demo_service_map

        fleet = DemoFleet(seed=args.seed)
        source, cluster, flags, probe = fleet, fleet.cluster, fleet.flags, fleet.probe
        service_map = demo_service_map()
        cluster_unavailable = ""
    elif config.prometheus.url:
        from console.sources.prometheus.source import PrometheusSource
        from console.sources.alertmanager_setup import with_alertmanager

        try:
            source = PrometheusSource(
                config.prometheus.url,
                profile=config.profile_spec(),
                auth=config.prometheus.auth,
                recovery_timeouts=config.recovery_timeouts(),
                failure_rate_thresholds=config.failure_rate_thresholds(),
                default_recovery_timeout=config.default_recovery_timeout_s,
                backfill_minutes=config.prometheus.backfill_minutes,
                alert_name=config.prometheus.alert_name,
                timeout=config.prometheus.timeout_s,
                deadline=config.poll_deadline_s,
                show_infrastructure=config.prometheus.show_infrastructure,
            )
            source = with_alertmanager(source, config)  # issue 19: the page as paged
        except (ConfigFileError, SourceError, ValueError) as error:
            log.warning("cannot start on Prometheus: %s", error, exc_info=True)
            print(f"cbconsole: {error}", file=sys.stderr)
            return None, None
        from console.sources.kube import ContextNotFound
        from console.sources.probe import HttpProbe

        cluster, cluster_unavailable = connect_cluster(args.context, args.namespace)
        if isinstance(cluster_unavailable, ContextNotFound):
            # A context asked for by name and absent is a typo: say so now
            # rather than open a console without its cluster.
            print(f"cbconsole: --context {cluster_unavailable} (pick one of them, or drop "
                  "--context for the current one)", file=sys.stderr)
            return None, None
        cluster_unavailable = str(cluster_unavailable)
        if cluster is not None:
            login_on_terminal(cluster)
        flags, flags_unavailable = connect_flags(config)
        probe = HttpProbe(timeout=config.health_timeout_s)
        service_map = config.service_map(getattr(cluster, "namespace", None) or "default")
    else:
        print(
            "cbconsole: no data source given. Try `cbconsole --demo` for the embedded "
            "demo fleet, or `cbconsole --prometheus URL`.",
            file=sys.stderr,
        )
        return None, None
    tracker, journal_unavailable = open_journal(config, args, source)
    mode = resolve_mode(config, getattr(cluster, "label", None))
    app = CBConsoleApp(
        source,
        cluster=cluster,
        cluster_unavailable=cluster_unavailable,
        flags=flags,
        flags_unavailable=flags_unavailable or "no flag service configured",
        probe=probe,
        service_map=service_map,
        mode=mode,
        tracker=tracker,
        journal_unavailable=journal_unavailable,
        escalation=escalation_rows(config),
        timezone_name=config.incident.timezone,
        poll_interval=config.poll_interval_s,
        warnings=() if args.demo else tls_warnings(config, cluster),
        silence=getattr(source, "silence_settings", None),  # [alertmanager] ack_silence
    )
    return app, tracker


def start_log(config, args) -> None:
    """cbconsole.log beside the journal, from now on (never fatal)."""
    from console import logfile
    from console.paths import state_dir

    directory = state_dir(demo=args.demo, override=args.state_dir or config.incident.state_dir)
    where = logfile.setup(directory, config.log_level)
    source = "demo" if args.demo else f"Prometheus {_public(config.prometheus.url or '')}"
    log.info("cbconsole %s started on %s (pid %d), log level %s",
             __version__, source, os.getpid(), config.log_level)
    log.debug("log %s, poll every %ss, config %s", where, config.poll_interval_s,
              "none" if args.no_config else (args.config or "default"))


def resolve_mode(config, context: str | None):
    """Read-only (--read-only, or the kube context marked so in the config)
    wins over dry-run, which wins over live."""
    from console.mitigations.plan import Mode

    if config.is_read_only(context):
        return Mode.READ_ONLY
    return Mode.DRY_RUN if config.dry_run else Mode.LIVE


def tls_warnings(config, cluster=None) -> tuple[str, ...]:
    """One header line per connection whose TLS certificate is not verified."""
    warnings = []
    if config.prometheus.url and config.prometheus.auth.insecure_skip_verify:
        warnings.append(f"TLS verification OFF for Prometheus {_public(config.prometheus.url)}")
    if config.flags.url and config.flags.insecure_skip_verify:
        warnings.append(f"TLS verification OFF for the flag service {_public(config.flags.url)}")
    if cluster is not None and not getattr(cluster, "verify_tls", True):
        warnings.append(f"TLS verification OFF for the cluster {cluster.label} (kubeconfig)")
    return tuple(warnings)


def _public(url: str) -> str:
    """The URL without user:password@ (a header is no place for a secret)."""
    from console.urls import without_userinfo

    return without_userinfo(url.strip())


def open_journal(config, args, source):
    """(tracker, "") or (None, why there is no journal): the console runs
    without one, saying so loudly. While another console writes the
    directory, the tracker's journal follows that console's (read-only)."""
    from console.incident.follow import open_or_follow
    from console.incident.tracker import IncidentTracker, TrackerConfig
    from console.incident.journal import JournalError
    from console.paths import state_dir

    directory = state_dir(demo=args.demo, override=args.state_dir or config.incident.state_dir)
    try:
        # Another console holding the directory is followed read-only.
        journal = open_or_follow(directory)
    except JournalError as error:
        log.warning("no journal: %s", error, exc_info=True)
        return None, f"{error}: events are NOT recorded"
    details = {}
    if not args.demo:
        from console.sources.prometheus.impact import prometheus_details

        details = prometheus_details(source)
    tracker = IncidentTracker(
        journal,
        TrackerConfig(
            alert_name=config.prometheus.alert_name,
            severity=config.incident.severity,
            response_times_s=config.incident.response_times_s,
            recovered_hold_s=config.incident.recovered_hold_s,
        ),
        source_details=details,
    )
    return tracker, ""


def escalation_rows(config) -> list[tuple[str, str]]:
    e = config.escalation
    return [("On-call", e.on_call), *(("Team lead", lead) for lead in e.team_leads),
            ("Incident channel", e.channel)]


if __name__ == "__main__":
    sys.exit(main())
