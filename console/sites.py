"""A site (a cluster or region) as the console runs it: its name on the
board, its kube context and namespace, its flag service, whether it is
read-only or production, and where its metrics come from. Built from the
config by console.sites_setup.site_specs; the UI routes every action by the
row's site name through these. Plain data: no adapter is imported here, so
any layer may hold one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SiteSpec:
    #: The site's name on the board and in the journal; "" is the one
    #: implicit site of a console without [sites] (today's behaviour).
    name: str
    #: Its kube context (None: the kubeconfig's current one).
    context: str | None = None
    #: Its namespace (None: the context's own, or the config's `namespace`).
    namespace: str | None = None
    #: Its flag service: a console.config.FlagsConfig, the site's own
    #: [sites.NAME.flags] over [flags] (url None: none configured).
    flags: Any = None
    #: Refuse every mutating action on this site (--read-only, the config's
    #: read_only, [contexts.X] read_only or [sites.NAME] read_only).
    read_only: bool = False
    #: Read-only until the operator unlocks it by typing the context's name.
    production: bool = False
    #: Its own metrics source: a console.sites_config.SiteMetrics (url,
    #: profile, auth, tenant, params); None: the global [prometheus] source.
    metrics: Any = None
    #: With the global source: the cluster label's value whose series are
    #: this site's rows (None with its own source, and for the implicit site).
    label_value: str | None = None

    @property
    def title(self) -> str:
        """How messages name it ("" reads as the one cluster)."""
        return self.name or "the cluster"


def by_name(sites) -> dict[str, SiteSpec]:
    return {s.name: s for s in sites}
