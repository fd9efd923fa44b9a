"""The demo fleet's Probe: health checks and smoke tests answered from the
simulation, as `curl http://payment-api.shop.svc:8080/health` from a pod
would see them. Looking never changes the fleet: no draw from its rng."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from console.demo.topology import NAMESPACE
from console.probe import HealthResult, SmokeResult, smoke_result

if TYPE_CHECKING:
    from console.demo.fleet import DemoFleet

UNRESOLVED = "host name does not resolve"


class DemoProbe:
    def __init__(self, fleet: DemoFleet) -> None:
        self._fleet = fleet

    def service(self, url: str) -> str | None:
        """The demo service a URL's host names: name, name.shop, name.shop.svc[.cluster.local]."""
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return None
        name, _, rest = host.partition(".")
        if rest not in ("", NAMESPACE, f"{NAMESPACE}.svc", f"{NAMESPACE}.svc.cluster.local"):
            return None
        return name if name in self._fleet.deployments else None

    def check(self, url: str) -> HealthResult:
        at = self._fleet.clock()
        service = self.service(url)
        if service is None:
            return HealthResult(url=url, checked_at=at, error=UNRESOLVED)
        status, latency = self._fleet.health(service)
        return HealthResult(url=url, checked_at=at, status=status, latency_ms=latency)

    def smoke(self, url: str, requests: int = 100, concurrency: int = 10) -> SmokeResult:
        """N requests drawn from the service's error rate now, seeded by the
        fleet's seed and tick: the same moment gives the same answer."""
        service = self.service(url)
        if service is None:
            return smoke_result(url, [(None, None, UNRESOLVED)] * requests)
        fleet = self._fleet
        with fleet.running() as tick:
            d = fleet.downstreams.get(service)
            serving = bool(fleet.deployments[service].serving(tick))
            p = fleet.error_rate(d, tick) if d else 0.0
        if not serving:  # nothing behind the Service
            return smoke_result(url, [(None, None, "connection refused")] * requests)
        rng = random.Random(f"{fleet.seed}:smoke:{service}:{tick}:{requests}")
        results = []
        for _ in range(requests):
            if rng.random() < p:
                results.append((503, 2000.0 + 1500.0 * rng.random(), None))
            else:
                results.append((200, 8.0 + 20.0 * rng.random(), None))
        return smoke_result(url, results)
