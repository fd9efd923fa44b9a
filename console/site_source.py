"""The multi-site source built from the sites (console.sites.SiteSpec) and
the config: one PrometheusSource per site with its own [sites.NAME.prometheus]
(URL, profile, auth, tenant as X-Scope-OrgID, extra query params), and one
global source, split by [prometheus] cluster_label, for the sites without."""

from __future__ import annotations

from typing import Callable

from console import profilenames
from console.clock import Clock, system_clock
from console.config import Config
from console.errors import SourceError
from console.ports import BreakerSource
from console.sites import SiteSpec
from console.sites_setup import global_sites
from console.sources.prometheus.profiles import ConfigError
from console.sources.prometheus.source import BACKFILL_TIMEOUT_FACTOR, PrometheusSource
from console.sources.sites import Member, MultiSiteSource

#: The header entry of the global source (unless a site has that name).
GLOBAL = "global"
TENANT_HEADER = "X-Scope-OrgID"  # Grafana Mimir, Cortex, Loki


def site_source(specs: tuple[SiteSpec, ...], config: Config, *, clock: Clock = system_clock,
                make: Callable[..., BreakerSource] = PrometheusSource) -> MultiSiteSource:
    """`make` builds each member from PrometheusSource's arguments (url,
    keywords; all plain data): PrometheusSource itself, or a factory that
    runs it in the poll process (issue 16), any BreakerSource. Raises
    ConfigError/SourceError/ValueError as PrometheusSource does (a missing
    token, a wrong profile)."""
    members = [Member(s.name, _built(f"sites.{s.name}.prometheus", make, s.metrics.url,
                                     **_own(s, config, clock)), (s.name,), stamp=s.name)
               for s in specs if s.metrics is not None]
    values = global_sites(specs)
    if values:
        p = config.prometheus
        # The series of the sites with their own source are theirs: left quietly.
        own = {s.name: None for s in specs if s.metrics is not None}
        source = _built("prometheus", make, p.url, profile=config.profile_spec(), auth=p.auth,
                        site_label=p.cluster_label, sites=own | values,
                        clock=clock, **source_keywords(config))
        name = GLOBAL if GLOBAL not in values.values() else f"{GLOBAL} source"
        members.append(Member(name, source, tuple(values.values())))
    # The first answer may take a first poll's time (its history read too).
    first = config.poll_deadline_s + config.prometheus.timeout_s * BACKFILL_TIMEOUT_FACTOR
    return MultiSiteSource(members, wait=config.poll_interval_s, clock=clock, first_wait=first)


def _built(where: str, make, url: str, **kwargs) -> BreakerSource:
    """The member, or its error naming the table it was built from."""
    try:
        return make(url, **kwargs)
    except SourceError as error:  # nothing retried at start: what to fix
        raise ConfigError(f"{where}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _own(spec: SiteSpec, config: Config, clock: Clock) -> dict:
    """A site's own source's keywords."""
    m = spec.metrics
    profile = m.profile or config.prometheus.profile
    return dict(
        profile=config.profile_spec() if profile == profilenames.CUSTOM else profile,
        auth=m.auth,
        site=spec.name,
        headers={TENANT_HEADER: m.tenant} if m.tenant else None,
        params=m.params,
        clock=clock,
        **source_keywords(config),
    )


def source_keywords(config: Config) -> dict:
    """The settings every Prometheus source of this config shares (the one
    source, each site's, a poll process's): no clock, which a child lacks."""
    p = config.prometheus
    return dict(
        recovery_timeouts=config.recovery_timeouts(),
        failure_rate_thresholds=config.failure_rate_thresholds(),
        default_recovery_timeout=config.default_recovery_timeout_s,
        backfill_minutes=p.backfill_minutes,
        alert_name=p.alert_name,
        timeout=p.timeout_s,
        deadline=config.poll_deadline_s,
        show_infrastructure=p.show_infrastructure,
    )
