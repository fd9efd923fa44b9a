"""Command line: `cbconsole --demo` opens the board on the embedded demo fleet,
`cbconsole --prometheus URL` on a real one."""

from __future__ import annotations

import gc
import logging
import os
import sys

from console import __version__
from console.arguments import FLAG_NAMES, build_parser, overrides
from console.clock import Clock, system_clock
from console.ui.login import login_on_terminal

log = logging.getLogger(__name__)


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
    return connect_flag_service(config.flags)


def connect_flag_service(f):
    """(the [flags] service `f` names, "") or (None, why not)."""
    from console.sources.base import SourceError
    from console.sources.flags import HttpFlagService

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
    long_session(app)
    try:
        app.run()
    finally:
        tracker = app.tracker  # a follower may have taken the journal over
        if tracker is not None and not tracker.journal.close():
            print(f"cbconsole: {len(tracker.journal.pending)} journal event(s) could not be "
                  f"written: {tracker.journal.problem}", file=sys.stderr)
    return app.return_code or 0


#: How long a thread holds the GIL before another may take it (Python's
#: default: 5 ms). The sites' poll threads hand it over at every switch and
#: a key press waits for each in turn: a shorter slice gets it back sooner
#: (make bench-sites, four sites on threads: event-loop lag p95 44 -> 27 ms).
SWITCH_INTERVAL = 0.001


def long_session(app=None) -> None:
    """The interpreter's policy for the console's life: the GIL's switch
    interval (SWITCH_INTERVAL) and the collector's. What exists now lives
    as long as the process: frozen, no collection walks it again; so is
    what each poll leaves alive (console.gcpause). The screen's own garbage
    (rendered lines that refer to themselves) still sets collections off:
    full ones come after 100 young ones instead of 10, and walk only what
    is not frozen. Rarer still (1,000) let garbage pile up for minutes: +50 %
    memory (make bench-soak). The first full board is frozen too, once
    drawn (`app`'s poller)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    if app is not None:
        app.poller.freeze_after_first_poll = True
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
        config = load_config(args.config, overrides=overrides(args), flag_names=FLAG_NAMES,
                             no_file=args.no_config)
    except ConfigFileError as error:
        print(f"cbconsole: {error}", file=sys.stderr)
        return None, None
    from console.sites_cli import NO_SINGLE_CLUSTER, open_sites, several, sites_of

    sites = () if args.demo else sites_of(config, args)  # issue 18
    if sites is None:
        return None, None
    start_log(config, args)
    # Imported here so --help and config errors answer without loading Textual.
    from console.ui.app import CBConsoleApp

    flags_unavailable = ""
    warnings: tuple[str, ...] = ()
    if args.demo:
        from console.demo import DemoSites, demo_service_map

        fleet = DemoSites(seed=args.seed)  # eu-west and us-east: the regional case
        source, cluster, flags, probe = fleet, fleet.cluster, fleet.flags, fleet.probe
        service_map = demo_service_map()
        cluster_unavailable = ""
    elif several(sites):
        from console.sites_cli import site_tls_warnings
        from console.sources.probe import HttpProbe

        source = open_sites(sites, config)
        if source is None:
            return None, None
        cluster, cluster_unavailable, flags = None, NO_SINGLE_CLUSTER, None
        flags_unavailable = NO_SINGLE_CLUSTER
        probe = HttpProbe(timeout=config.health_timeout_s)
        service_map = config.service_map("default")
        warnings = site_tls_warnings(sites)
    elif config.prometheus.url:
        from console.sources.alertmanager_setup import with_alertmanager
        from console.site_source import source_keywords
        from console.sites_cli import source_kind

        try:
            source = source_kind(config.prometheus.poll_process)(
                config.prometheus.url,
                profile=config.profile_spec(),
                auth=config.prometheus.auth,
                **source_keywords(config),
            )
            source = with_alertmanager(source, config)  # issue 19: the page as paged
        except (ConfigFileError, SourceError, ValueError) as error:
            log.warning("cannot start on Prometheus: %s", error, exc_info=True)
            print(f"cbconsole: {error}", file=sys.stderr)
            return None, None
        from console.sources.kube import ContextNotFound
        from console.sources.probe import HttpProbe

        cluster, cluster_unavailable = connect_cluster(sites[0].context, args.namespace)
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
    from console.mitigations.prodlock import ProductionLocks
    from console import site_wiring

    if args.demo:
        router = site_wiring.demo_router(fleet, service_map, mode)
    elif several(sites):
        router = site_wiring.spec_router(sites, service_map, mode,
                                         connect_cluster=connect_cluster,
                                         connect_flags=connect_flag_service)
    else:
        router = site_wiring.implicit_router(cluster, cluster_unavailable, flags,
                                             flags_unavailable, service_map, mode)
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
        warnings=() if args.demo else (*tls_warnings(config, cluster), *warnings),
        silence=getattr(source, "silence_settings", None),  # [alertmanager] ack_silence
        # Production contexts: locked until their name is typed (issue 18).
        locks=ProductionLocks(config, current_context=getattr(cluster, "label", None)),
        sites=router,  # issue 18: each row's site's cluster, flag service, read-only
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

        details = prometheus_details(getattr(source, "primary", source))  # a site's
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
