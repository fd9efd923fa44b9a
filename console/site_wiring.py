"""Where each row's diagnosis and mitigations go (issue 18): one
siterouting.Site per site behind one SiteRouter. The demo's sites each have
their simulated cluster, flag service and probe; a real site its kube
context's cluster and its flag service (console.sites.SiteSpec); a console
without [sites] its one implicit site "".

The production lock is not the router's `locked`: a locked context must
still open its dialog, where typing its name unlocks it (the mitigation
flow's ProductionLocks)."""

from __future__ import annotations

import logging

from console.mitigations.siterouting import Site, SiteRouter

log = logging.getLogger(__name__)

NO_CLUSTER = "no cluster"


def demo_router(fleet, service_map, mode) -> SiteRouter:
    sites = [Site(name=name, context=cluster.label, cluster=cluster,
                  flags=fleet.flag_sources[name], probe=fleet.probes[name])
             for name, cluster in fleet.clusters.items()]
    return SiteRouter(sites, service_map=service_map, mode=mode)


def spec_router(specs, service_map, mode, *, connect_cluster, connect_flags) -> SiteRouter:
    """Each SiteSpec's cluster (its context, connected now: a context that
    cannot be reached leaves that site without actions, saying why) and
    flag service; read-only and production as the spec says."""
    sites = []
    for spec in specs:
        cluster, why = connect_cluster(spec.context, spec.namespace)
        flags, flags_why = (connect_flags(spec.flags) if spec.flags is not None
                            else (None, "no flag service configured"))
        sites.append(Site(
            name=spec.name, context=getattr(cluster, "label", None) or spec.context,
            namespace=spec.namespace, cluster=cluster,
            cluster_unavailable=f"{spec.name}: {why}" if cluster is None else "",
            flags=flags, flags_unavailable=flags_why or "no flag service configured",
            read_only=spec.read_only, production=spec.production))
    return SiteRouter(sites, service_map=service_map, mode=mode)


def implicit_router(cluster, cluster_unavailable, flags, flags_unavailable, service_map,
                    mode) -> SiteRouter:
    return SiteRouter.implicit(
        cluster=cluster, flags=flags, service_map=service_map, mode=mode,
        cluster_unavailable=cluster_unavailable or NO_CLUSTER,
        flags_unavailable=flags_unavailable or "no flag service configured")
