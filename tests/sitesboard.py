"""The board across sites as the tests drive it: the two-site demo on the
scene's clock, and a source answering a snapshot the test builds (sources
STALE, PARTIAL...)."""

from __future__ import annotations

from console.clock import FakeClock
from console.demo import DemoSites, demo_service_map
from console.model.fleet import FleetSnapshot, ServiceStatus, SourceHealth
from console.ui.app import CBConsoleApp
from screenshots.scenes import START

POLL_S = 2.0


def two_site_demo():
    """`cbconsole --demo` as it starts: eu-west and us-east."""
    clock = FakeClock(START)
    sites = DemoSites(seed=7, clock=clock)
    app = CBConsoleApp(sites, cluster=sites.cluster, flags=sites.flags, probe=sites.probe,
                       service_map=demo_service_map(), poll_interval=3600, clock=clock,
                       sleep=clock.advance)
    return app, clock, sites


class SitesSource:
    """Answers `services` and `sources` as they are now, as a multi-site
    source's snapshot carries them."""

    label = "sites"

    def __init__(self, clock: FakeClock, services: list[ServiceStatus],
                 sources: list[SourceHealth]) -> None:
        self.clock = clock
        self.services = services
        self.sources = sources

    def poll(self) -> FleetSnapshot:
        return FleetSnapshot(fetched_at=self.clock(), services=tuple(self.services),
                             sources=tuple(self.sources))


async def polls(app, pilot, clock, seconds: float) -> None:
    """`seconds` of the scene's time, a poll every POLL_S, each one landed."""
    for _ in range(int(seconds // POLL_S)):
        clock.advance(POLL_S)
        app.poller.start()
        await app.workers.wait_for_complete()
        await pilot.pause()
