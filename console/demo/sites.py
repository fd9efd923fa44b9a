"""The demo as two sites (`cbconsole --demo`): eu-west, where payment-api's
bad rollout went out and inventory-svc flaps, and us-east, where neither
happened: the regional case, payment-api OPEN in one cluster and CLOSED in
the other.

Each site is its own simulated fleet (its own cluster, flags and probe, on
its own seed); `DemoSites` is the BreakerSource asking both, as the
multi-site source asks each site's Prometheus.
"""

from __future__ import annotations

from dataclasses import replace

from console.clock import Clock, system_clock
from console.demo.cluster import DemoCluster
from console.demo.flags import DemoFlags
from console.demo.fleet import DemoFleet
from console.demo.probe import DemoProbe
from console.demo.topology import DOWNSTREAMS, Downstream
from console.model.fleet import CallTotals, FleetSnapshot, SourceHealth

SITES = ("eu-west", "us-east")


def calm(downstreams: tuple[Downstream, ...]) -> tuple[Downstream, ...]:
    """The fleet without the story: payment-api still on v2.7.4 (the bad
    v2.8.0 never rolled out there), inventory-svc's replica healthy."""
    out = []
    for d in downstreams:
        if d.fault is not None:
            history = d.history[:-1]
            d = replace(d, fault=None, history=history,
                        version=history[-1][2].split(" v", 1)[1].split(":", 1)[0])
        out.append(replace(d, flap=None) if d.flap is not None else d)
    return tuple(out)


class DemoSites:
    """The demo's sites, each a DemoFleet; `fleets[site]`, and its
    `clusters[site]`, `flag_sources[site]`, `probes[site]` act on that site's
    simulation only. `cluster`, `flags` and `probe` are the first site's."""

    def __init__(self, seed: int = 7, clock: Clock = system_clock,
                 sites: tuple[str, ...] = SITES) -> None:
        self.seed = seed
        self.label = f"demo fleet (seed {seed}, {len(sites)} sites)"
        # The first site is today's single demo fleet, seed for seed.
        self.fleets: dict[str, DemoFleet] = {
            site: DemoFleet(seed=seed + index, clock=clock, site=site,
                            downstreams=DOWNSTREAMS if index == 0 else calm(DOWNSTREAMS))
            for index, site in enumerate(sites)
        }
        for site, fleet in self.fleets.items():
            fleet.cluster.label = f"demo-{site}"
        first = self.fleets[sites[0]]
        self.cluster, self.flags, self.probe = first.cluster, first.flags, first.probe

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(self.fleets)

    @property
    def clusters(self) -> dict[str, DemoCluster]:
        return {site: fleet.cluster for site, fleet in self.fleets.items()}

    @property
    def flag_sources(self) -> dict[str, DemoFlags]:
        return {site: fleet.flags for site, fleet in self.fleets.items()}

    @property
    def probes(self) -> dict[str, DemoProbe]:
        return {site: fleet.probe for site, fleet in self.fleets.items()}

    def poll(self) -> FleetSnapshot:
        snapshots = {site: fleet.poll() for site, fleet in self.fleets.items()}
        now = max(s.fetched_at for s in snapshots.values())
        totals: dict[str, CallTotals] = {}
        where = " + ".join(self.fleets)
        for snapshot in snapshots.values():
            for name, t in snapshot.totals.items():
                had = totals.get(name)
                if had is not None:
                    t = CallTotals(failures=had.failures + t.failures,
                                   successes=had.successes + t.successes,
                                   rejected=had.rejected + t.rejected)
                totals[name] = CallTotals(failures=t.failures, successes=t.successes,
                                          rejected=t.rejected,
                                          source=f"{self.label}'s own counters ({where})")
        return FleetSnapshot(
            fetched_at=now,
            services=tuple(s for snap in snapshots.values() for s in snap.services),
            transitions=tuple(sorted((t for snap in snapshots.values() for t in snap.transitions),
                                     key=lambda t: t.at)),
            totals=totals,
            sources=tuple(SourceHealth(name=site, sites=(site,), as_of=snap.fetched_at)
                          for site, snap in snapshots.items()),
        )
