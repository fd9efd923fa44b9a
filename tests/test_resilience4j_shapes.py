"""The resilience4j profile on metric text as Micrometer writes it, scraped by
a real Prometheus 2.42 and a real VictoriaMetrics, and the breaker's own
failure rate in the console's detail pane.

Where the shapes come from (tests/emitters/):
- r4j_springboot2_*.txt: Resilience4j 1.7's resilience4j-micrometer
  (TaggedCircuitBreakerMetrics: `state` gauges per state, the `calls` timer,
  `not_permitted_calls`, `failure_rate`, `slow_call_rate`, `buffered_calls`,
  `slow_calls`) in Spring Boot 2.3's Micrometer 1.5 with simpleclient 0.8,
  whose text format puts a comma after the last label; Spring Boot's
  `management.metrics.tags.application` adds `application`. Two applications
  in one pod (two containers, one `pod` label) with a breaker named alike.
- r4j_springboot3.txt: the same through Spring Boot 3.1 (Micrometer 1.11,
  simpleclient 0.16: no trailing comma), labels in Micrometer's sorted order.
- r4j_0x.txt: resilience4j-micrometer 0.x (CircuitBreakerMetrics): one
  `state` gauge whose value is the state's order ("0 - CLOSED, 1 - OPEN,
  2 - HALF_OPEN", its HELP text) and every kind of call in `calls_total`,
  the rejected ones as kind="not_permitted".
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from console.ui.app import CBConsoleApp
from console.model.fleet import BreakerState as S
from console.sources.prometheus.profiles import resilience4j_profile
from console.sources.prometheus.source import PrometheusSource
from tests.promserver import Backend, TextTarget, poll_until

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).parent / "emitters"
#: A short rate() window: Prometheus divides by the whole window while a
#: series is younger than it.
R4J = resilience4j_profile(window="5s")

SB3 = (FIXTURES / "r4j_springboot3.txt").read_text()
SB3_OTHER = SB3.replace(  # the second pod: its breaker sees 10 % failures
    'resilience4j_circuitbreaker_failure_rate{application="checkout",name="payments"} 60.0',
    'resilience4j_circuitbreaker_failure_rate{application="checkout",name="payments"} 10.0')
LEGACY_GROWTH = {
    'resilience4j_circuitbreaker_calls_total{kind="not_permitted",name="legacy",}': 9.0,
    'resilience4j_circuitbreaker_calls_total{kind="failed",name="legacy",}': 1.0,
    'resilience4j_circuitbreaker_calls_total{kind="successful",name="quotes",}': 5.0,
}


@pytest.fixture(scope="module")
def targets():
    assert SB3_OTHER != SB3
    made = {
        "orders": TextTarget((FIXTURES / "r4j_springboot2_orders.txt").read_text()),
        "billing": TextTarget((FIXTURES / "r4j_springboot2_billing.txt").read_text()),
        "checkout-0": TextTarget(SB3),
        "checkout-1": TextTarget(SB3_OTHER),
        "legacy": TextTarget((FIXTURES / "r4j_0x.txt").read_text(), LEGACY_GROWTH),
    }
    yield made
    for target in made.values():
        target.close()


@pytest.fixture(scope="module")
def backends(targets):
    pods = {"orders": "web-0", "billing": "web-0", "checkout-0": "checkout-0",
            "checkout-1": "checkout-1", "legacy": "legacy-0"}
    scrape = [(t.target, {"pod": pods[name]}) for name, t in targets.items()]
    started = {kind: Backend(kind, scrape) for kind in ("prometheus", "victoria-metrics")}
    yield started
    for backend in started.values():
        backend.stop()


@pytest.fixture(params=["prometheus", "victoria-metrics"])
def backend(request, backends) -> Backend:
    return backends[request.param].wait_ready(
        "resilience4j_circuitbreaker_calls_total", timeout=60)


def test_two_applications_with_one_breaker_name_on_one_pod_are_two_breakers(backend):
    source = PrometheusSource(backend.url, profile=R4J, backfill_minutes=0)
    # Both targets' first scrapes may fall between one poll's queries: an
    # instance seen by one query and not yet by the state query is UNKNOWN
    # for that poll. Wait for both states, not for a lucky poll.
    snap = poll_until(source, lambda s: s.service("inventory")
                      and len(s.service("inventory").instances) == 2
                      and S.UNKNOWN not in {i.state for i in s.service("inventory").instances},
                      what="both inventory breakers with their states")
    inventory = {i.instance: i for i in snap.service("inventory").instances}
    assert {k: i.state for k, i in inventory.items()} == {
        "web-0/orders": S.OPEN, "web-0/billing": S.CLOSED}  # not one CONFLICT
    assert inventory["web-0/orders"].breaker_failure_percent == 75.0
    assert inventory["web-0/billing"].breaker_failure_percent == -1.0  # not enough calls
    source.close()


def test_resilience4j_0x_states_and_not_permitted_calls(backend):
    source = PrometheusSource(backend.url, profile=R4J, backfill_minutes=0)

    def ready(snap):
        legacy = snap.service("legacy")
        return legacy and legacy.rejected_rate and abs(legacy.rejected_rate - 9) < 1.8
    snap = poll_until(source, ready, what="legacy's not_permitted calls")
    assert snap.service("legacy").state == S.OPEN  # state gauge at 1: OPEN
    assert snap.service("quotes").state == S.CLOSED  # at 0: CLOSED, not UNKNOWN
    assert snap.service("legacy").failure_rate == pytest.approx(1.0, rel=0.3)
    source.close()


def rendered(widget) -> str:
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def test_the_breakers_own_failure_rate_per_instance_beside_its_threshold(backends):
    backend = backends["prometheus"].wait_ready("resilience4j_circuitbreaker_calls_total")
    source = PrometheusSource(backend.url, profile=R4J, backfill_minutes=0,
                              failure_rate_thresholds={"payments": 50.0})
    app = CBConsoleApp(source, poll_interval=1.0)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("slash", *"payments", "enter")
        detail = app.query_one("#detail-instances")
        deadline = time.monotonic() + 30
        while not ("60.0%" in rendered(detail) and "10.0%" in rendered(detail)):
            assert time.monotonic() < deadline, rendered(detail)
            await pilot.pause(0.2)
        text = rendered(detail)
        assert "OWN FAIL%" in text and "OWN SLOW%" in text
        assert "OWN: the breaker's own rates; opens at 50% failures" in text
        line0 = next(line for line in text.splitlines() if "checkout-0/checkout" in line)
        line1 = next(line for line in text.splitlines() if "checkout-1/checkout" in line)
        assert "60.0%" in line0 and "12.5%" in line0
        assert "10.0%" in line1
