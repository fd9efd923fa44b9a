"""HttpProbe against a real local HTTP server; DemoProbe against the demo fleet."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from console.clock import FakeClock
from console.demo import DemoFleet
from console.model.probe import HealthResult, NoAnswer, percentiles, smoke_result
from console.ports import Probe
from console.sources.probe import HttpProbe
from tests.healthserver import HealthServer

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def web():
    with HealthServer() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_200_and_503(web):
    probe = HttpProbe(timeout=2.0, clock=lambda: T0)
    assert isinstance(probe, Probe)
    assert probe.verify is True and probe.timeout == 2.0
    ok = probe.check(f"{web.url}/ok")
    assert (ok.status, ok.error, ok.healthy, ok.checked_at) == (200, None, True, T0)
    assert ok.latency_ms is not None and 0 < ok.latency_ms < 2000
    down = probe.check(f"{web.url}/down")
    assert (down.status, down.error, down.healthy) == (503, None, False)


def test_check_slow_past_the_timeout(web):
    web.slow_s = 1.0
    # The probe gives up at its timeout: it reports no answer, not the
    # server's (late) 200 (timed in real time it would depend on the machine).
    result = HttpProbe(timeout=0.3).check(f"{web.url}/slow")
    assert (result.status, result.latency_ms) == (None, None)
    assert result.error == "no answer within 0.3 s"
    assert result.healthy is None and result.unknown_from_here  # not evidence (issue 12)


def test_check_refused_port_and_unknown_host():
    result = HttpProbe(timeout=1.0).check(f"http://127.0.0.1:{closed_port()}/health")
    assert (result.status, result.error, result.healthy) == (None, "connection refused", None)
    unknown = HttpProbe(timeout=1.0).check("http://no-such-host.invalid:8080/health")
    assert unknown.error == "host name does not resolve"


def test_check_tls_failure_in_plain_words(web):
    # https to a plain-http server: the TLS handshake fails, verify on or off.
    result = HttpProbe(timeout=1.0).check(web.url.replace("http:", "https:") + "/ok")
    assert result.status is None
    assert result.error.startswith("TLS failed: ")


def test_not_probed_is_unknown_not_unhealthy():
    result = HealthResult(url="", checked_at=T0, error="no health_url in the service map",
                          probed=False)
    assert result.healthy is None and not result.unknown_from_here


def test_smoke_counts_every_kth_failure(web):
    web.every = 4
    result = HttpProbe(timeout=2.0).smoke(f"{web.url}/flaky", requests=40, concurrency=5)
    assert (result.sent, result.succeeded) == (40, 30)
    assert result.failures == {"503": 10}
    assert result.success_percent == 75.0
    assert result.p50_ms is not None and result.p95_ms is not None
    assert 0 < result.p50_ms <= result.p95_ms < 2000
    assert web.count == 40


def test_smoke_bounds_concurrency():
    with HealthServer(delay_s=0.05) as web:
        result = HttpProbe(timeout=2.0).smoke(f"{web.url}/ok", requests=12, concurrency=3)
    assert result.succeeded == 12
    assert 1 <= web.max_in_flight <= 3


def test_smoke_timeouts_and_refusals(web):
    web.slow_s = 0.6
    slow = HttpProbe(timeout=0.2).smoke(f"{web.url}/slow", requests=4, concurrency=4)
    assert (slow.succeeded, slow.failures, slow.p50_ms, slow.p95_ms) == (0, {"timeout": 4},
                                                                        None, None)
    refused = HttpProbe(timeout=1.0).smoke(f"http://127.0.0.1:{closed_port()}/", requests=5)
    assert refused.failures == {"connection refused": 5}
    assert refused.success_percent == 0.0


def test_percentiles_nearest_rank():
    assert percentiles([]) == (None, None)
    assert percentiles([7.0]) == (7.0, 7.0)
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentiles(values) == (50.0, 95.0)
    # Latencies of every answer count, failed answers included; no answer none.
    timeout = (None, None, NoAnswer("no answer within 2 s"))
    result = smoke_result("u", [(200, 10.0, None), (503, 30.0, None), timeout])
    assert (result.succeeded, result.p50_ms, result.p95_ms) == (1, 10.0, 30.0)
    assert result.failures == {"503": 1, "timeout": 1}


# --- DemoProbe ------------------------------------------------------------------------


def fleet_at(seconds: float, seed: int = 7) -> tuple[DemoFleet, FakeClock]:
    clock = FakeClock(T0)
    fleet = DemoFleet(seed=seed, clock=clock)
    clock.advance(seconds)
    return fleet, clock


def test_demo_probe_is_the_fleets_probe():
    fleet, _ = fleet_at(60)
    assert isinstance(fleet.probe, Probe)
    result = fleet.probe.check("http://payment-api.shop.svc:8080/health")
    assert result.status == 503 and result.healthy is False and result.checked_at == fleet.clock()
    assert fleet.probe.check("http://user-svc:8080/health").status == 200


def test_demo_probe_unknown_host():
    fleet, _ = fleet_at(1)
    for url in ("http://nope:8080/health", "http://payment-api.other.svc:8080/health"):
        result = fleet.probe.check(url)
        assert (result.status, result.error) == (None, "host name does not resolve")
    smoke = fleet.probe.smoke("http://nope/")
    assert smoke.failures == {"host name does not resolve": 100}


def test_demo_smoke_follows_the_error_rate():
    fleet, _ = fleet_at(60)
    broken = fleet.probe.smoke("http://payment-api.shop.svc:8080/v1/payments")
    assert broken.sent == 100 and broken.succeeded < 15
    assert set(broken.failures) == {"503"} and broken.failures["503"] == 100 - broken.succeeded
    fine = fleet.probe.smoke("http://catalog-svc:8080/v1/products", requests=50)
    assert (fine.sent, fine.succeeded, fine.failures) == (50, 50, {})
    assert fine.p50_ms < 30 <= broken.p50_ms


def test_demo_smoke_is_deterministic_and_leaves_the_fleet_alone():
    url = "http://payment-api:8080/health"
    a, _ = fleet_at(30)
    b, _ = fleet_at(30)
    first, second = a.probe.smoke(url), b.probe.smoke(url)
    assert first == second
    assert a.probe.smoke(url) == first  # same moment, same answer
    # Probing does not draw from the fleet's rng: a probed fleet and an
    # unprobed one go on identically.
    probed, clock_p = fleet_at(10)
    quiet, clock_q = fleet_at(10)
    probed.probe.smoke(url)
    probed.probe.check(url)
    with quiet.running():  # the same sim time, without probing
        pass
    assert probed.rng.getstate() == quiet.rng.getstate()
    clock_p.advance(20)
    clock_q.advance(20)
    assert probed.poll() == quiet.poll()
