"""The demo fleet's Probe: health checks and smoke tests answered from the
simulation, as `curl http://payment-api.shop.svc:8080/health` from a pod
would see them. Looking never changes the fleet: no draw from its rng.

A smoke test through a caller (`http://api.shop.svc:8080/api/v1/payments`,
the runbook's load test) goes where users' requests go: to one of the
caller's pods, through its breaker for the downstream. An open breaker
rejects with 503; a pod with fallback on answers from its fallback; the
feature flag off means the caller serves no such call (503)."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

from console.demo.topology import NAMESPACE, Downstream, caller_path
from console.model.fleet import BreakerState
from console.model.probe import HealthResult, SmokeResult, smoke_result
from console.demo.world import World


UNRESOLVED = "host name does not resolve"


class DemoProbe:
    def __init__(self, fleet: World) -> None:
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

    def through(self, service: str, url: str) -> Downstream | None:
        """The downstream a caller's endpoint calls, for a URL on the caller."""
        path = urlsplit(url).path
        return next((d for d in self._fleet.downstreams.values()
                     if d.caller == service and caller_path(d.endpoint) == path), None)

    def smoke(self, url: str, requests: int = 100, concurrency: int = 10) -> SmokeResult:
        """N requests drawn from the service's error rate now, seeded by the
        fleet's seed and tick: the same moment gives the same answer."""
        service = self.service(url)
        if service is None:
            return smoke_result(url, [(None, None, UNRESOLVED)] * requests)
        downstream = self.through(service, url)
        if downstream is not None:
            return self._through_caller(url, service, downstream, requests)
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

    def _through_caller(self, url: str, caller: str, d: Downstream,
                        requests: int) -> SmokeResult:
        fleet = self._fleet
        with fleet.running() as tick:
            pods = fleet.deployments[caller].serving(tick)
            calling = fleet.flag_values[d.flag].enabled
            p = fleet.error_rate(d, tick)
            # A pod that has not called yet has a closed breaker, no fallback.
            links = [(link.breaker.state, link.fallback) if link else (BreakerState.CLOSED, None)
                     for link in (pod.links.get(d.name) for pod in pods)]
        if not pods:
            return smoke_result(url, [(None, None, "connection refused")] * requests)
        rng = random.Random(f"{fleet.seed}:smoke:{caller}:{d.name}:{tick}:{requests}")
        results = []
        for _ in range(requests):
            state, fallback = links[rng.randrange(len(links))]
            if not calling or state is BreakerState.OPEN:
                results.append((503, 1.0 + 2.0 * rng.random(), None))  # rejected at once
            elif fallback or rng.random() >= p:
                results.append((200, 10.0 + 20.0 * rng.random(), None))
            else:
                results.append((503, 2000.0 + 1500.0 * rng.random(), None))
        return smoke_result(url, results)
