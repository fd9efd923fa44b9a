"""The command line's side of sites (issue 18): the SiteSpecs from the config,
--context, --site and --cluster-label, and the multi-site source for them.
One implicit site (no [sites], no cluster label, at most one --context) is
today's console: cli.py builds it as before."""

from __future__ import annotations

import logging
import sys
from functools import partial

from console.sites import SiteSpec

log = logging.getLogger(__name__)

#: Until the actions are routed per site: no one cluster to act on.
NO_SINGLE_CLUSTER = "several sites: no single cluster to act on"


def sites_of(config, args) -> tuple[SiteSpec, ...] | None:
    """The sites, or None after saying on stderr what to fix."""
    from console.config import ConfigFileError
    from console.sites_setup import site_specs

    try:
        return site_specs(config, contexts=args.context or (), only=args.site or (),
                          namespace=args.namespace)
    except ConfigFileError as error:
        print(f"cbconsole: {error}", file=sys.stderr)
        return None


def several(sites: tuple[SiteSpec, ...] | None) -> bool:
    """More than the one implicit site of a single-source console."""
    return bool(sites) and (len(sites) > 1 or sites[0].name != "")


def open_sites(sites: tuple[SiteSpec, ...], config):
    """The multi-site source (Alertmanager over it when configured with a
    global [prometheus] url), or None after saying why on stderr."""
    from console.config import ConfigFileError
    from console.site_source import site_source
    from console.sites_setup import global_sites
    from console.sources.alertmanager_setup import with_alertmanager
    from console.sources.base import SourceError

    try:
        source = site_source(sites, config, make=source_kind(config.prometheus.poll_process))
        return (with_alertmanager(source, config, global_sites(sites)) if config.prometheus.url
                else source)
    except (ConfigFileError, SourceError, ValueError) as error:
        log.warning("cannot start on the sites' sources: %s", error, exc_info=True)
        print(f"cbconsole: {error}", file=sys.stderr)
        return None


def source_kind(own_process: bool):
    """What a Prometheus source is built with: PrometheusSource, polled on a
    worker thread of the console's process, or with [prometheus]
    poll_process = true in the poll process (issue 16): one process for
    every source built with this factory (every site's)."""
    if own_process:
        from console.sources.pollproc.proxy import PollHost

        return partial(poll_process, host=PollHost())
    from console.sources.prometheus.source import PrometheusSource

    return PrometheusSource


def poll_process(url: str, *, clock=None, host=None, **kwargs):
    """A site's source in the poll process `host` runs (issue 16): the sites
    poll at once in it without sharing the console's GIL. The child reads
    the system clock, so the composition's clock stays here."""
    from console.sources.pollproc.proxy import ProcessSource

    return ProcessSource(url, host=host, **kwargs)


def site_tls_warnings(sites: tuple[SiteSpec, ...]) -> tuple[str, ...]:
    from console.urls import without_userinfo

    return tuple(f"TLS verification OFF for {s.name}'s Prometheus {without_userinfo(s.metrics.url)}"
                 for s in sites if s.metrics is not None and s.metrics.auth.insecure_skip_verify)
