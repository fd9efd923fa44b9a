"""Where a row's diagnosis and mitigations go: its site's kube context,
namespace, flag service and read-only setting (issue 18).

A row is (site, service); the diagnosis and mitigation flows ask the
SiteRouter by the row's site name and get that site's `Site`, its
ServiceTarget and an ActionRunner aimed at its cluster. A single-source
console has one implicit site "" built from today's objects
(`SiteRouter.implicit`): nothing changes for it.

The seam for the composition (console.cli): one `Site` per configured site
(console.sites' SiteSpec: name, context, namespace, flags, read_only,
production, with the ClusterSource and FlagSource connected for it), and
`locked(context)` from the production lock (ProductionLocks.locked): a
locked context is read-only until the operator unlocks it.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable

from console.mitigations.plan import Mode
from console.mitigations.runner import ActionRunner
from console.model.servicemap import ServiceMap, ServiceTarget
from console.ports import ClusterSource, FlagSource, Probe

#: Distinct on a dark and a light theme; red is kept for production.
PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta",
           "bright_green")
PRODUCTION_COLOUR = "red"


@dataclass(frozen=True)
class Site:
    """One site's way to its cluster and flag service."""

    name: str = ""  # "" is the one implicit site
    context: str | None = None  # the kube context (its label), for the dialog and kubectl
    namespace: str | None = None  # None: the service map's
    cluster: ClusterSource | None = None
    cluster_unavailable: str = "no cluster"
    flags: FlagSource | None = None
    flags_unavailable: str = "no flag service configured"
    read_only: bool = False
    production: bool = False
    #: Its own health checker (the demo's sites answer apart); None: the console's.
    probe: Probe | None = None


class SiteRouter:
    """The sites by name. `service_map`: the [services] entries and
    conventions (a site's namespace replaces the default one); `mode`: the
    console's (live or dry run; read-only wins); `locked(context)`: True
    while a production context is locked."""

    def __init__(self, sites: Iterable[Site], *, service_map: ServiceMap, mode: Mode = Mode.LIVE,
                 locked: Callable[[str | None], bool] | None = None) -> None:
        self.sites = {site.name: site for site in sites}
        self.service_map = service_map
        self.base_mode = Mode(mode)
        self.locked = locked or (lambda context: False)
        self._maps: dict[str, ServiceMap] = {}

    @classmethod
    def implicit(cls, *, cluster: ClusterSource | None, flags: FlagSource | None,
                 service_map: ServiceMap, mode: Mode = Mode.LIVE,
                 cluster_unavailable: str = "no cluster",
                 flags_unavailable: str = "no flag service configured") -> SiteRouter:
        """Today's single-source console: one site "", its objects as given."""
        site = Site(name="", context=getattr(cluster, "label", None), cluster=cluster,
                    cluster_unavailable=cluster_unavailable or "no cluster", flags=flags,
                    flags_unavailable=flags_unavailable or "no flag service configured")
        return cls([site], service_map=service_map, mode=mode)

    @property
    def several(self) -> bool:
        """More than one site: every dialog names its cluster."""
        return len(self.sites) > 1

    def site(self, name: str) -> Site:
        """The site `name`; a row from a site with no entry gets no cluster
        and no flag service (and says why), never another site's."""
        found = self.sites.get(name)
        if found is not None:
            return found
        if not name and len(self.sites) == 1:
            return next(iter(self.sites.values()))
        why = f"no kube context is configured for site {name!r}"
        return Site(name=name, cluster_unavailable=why, read_only=True,
                    flags_unavailable=f"no flag service is configured for site {name!r}")

    def mode(self, name: str) -> Mode:
        site = self.site(name)
        if site.read_only or self.base_mode is Mode.READ_ONLY or self.locked(site.context):
            return Mode.READ_ONLY
        return self.base_mode

    def target(self, name: str, service: str) -> ServiceTarget:
        return self._map(name).target(service)

    def _map(self, name: str) -> ServiceMap:
        namespace = self.site(name).namespace
        if namespace is None:
            return self.service_map
        if name not in self._maps:
            m = self.service_map
            self._maps[name] = ServiceMap(m.entries, namespace=namespace, caller=m.caller,
                                          fallback_mode=m.fallback_mode)
        return self._maps[name]

    def runner(self, name: str, template: ActionRunner) -> ActionRunner:
        """`template` aimed at site `name`: its cluster, flags, context and
        mode as they are now (a copy per call: an unlock or a lock applies
        to the next plan and the next send; the template's timeouts too)."""
        site = self.site(name)
        runner = copy.copy(template)
        runner.site = site.name
        runner.cluster = site.cluster
        runner.flags = site.flags
        runner.probe = site.probe or template.probe
        runner.context = site.context
        runner.cluster_unavailable = site.cluster_unavailable
        runner.flags_unavailable = site.flags_unavailable
        runner.mode = self.mode(name)
        runner.production = site.production
        return runner


def context_colour(context: str | None, production: bool = False) -> str:
    """A stable colour per context (the same in every run: crc32, not the
    salted hash()); production always red."""
    if production:
        return PRODUCTION_COLOUR
    if not context:
        return "default"
    return PALETTE[zlib.crc32(context.encode()) % len(PALETTE)]


def site_line(site: str, context: str | None) -> str:
    """The dialog's first words: "eu-west · context eu-west-prod"."""
    return f"{site} · context {context or '(current)'}"
