"""Impact counted by a real Prometheus (the Debian package) scraping an
in-process exporter whose counters the test sets to known values.

How exact increase() is here: each counter sits at 0 for a few scrapes, then
jumps by a known amount, and the window covers both. Prometheus extrapolates
increase() to the window's edges; at the start it does not (a counter whose
first sample is 0 is not extrapolated below zero), at the end by less than
1.1 scrape intervals. So true <= counted <= true * (1 + 1.1 S / (W - 2 S)) for
scrape interval S and window W. The failed share has no such error: series
scraped together share timestamps, so every count is scaled alike.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from console.sources.base import SourceError
from console.sources.prometheus.profiles import ConfigError, envoy_profile, resilience4j_profile
from console.sources.prometheus.profiles import runbook_profile
from console.sources.prometheus.http import PromClient, Unreachable
from console.sources.prometheus.impact import Impact, impact, increase_query
from tests.promserver import SCRAPE_INTERVAL_S, Backend, Exporter, free_port, wait_until

pytestmark = pytest.mark.integration

R4J_CALLS = "resilience4j_circuitbreaker_calls_seconds_count"
R4J_REJECTED = "resilience4j_circuitbreaker_not_permitted_calls_total"
FAILED, OK = "circuit_breaker_failures_total", "circuit_breaker_successes_total"


@pytest.fixture(scope="module")
def exporter():
    ex = Exporter()
    ex.set("cbtest_up", 1)
    ex.update([
        (FAILED, {"service": "imp-a"}, 0), (OK, {"service": "imp-a"}, 0),
        (FAILED, {"service": "imp-b"}, 0), (OK, {"service": "imp-b"}, 0),
        (FAILED, {"service": "imp-quiet"}, 0), (OK, {"service": "imp-quiet"}, 0),
        (R4J_CALLS, {"name": "imp-r", "kind": "failed"}, 0),
        (R4J_CALLS, {"name": "imp-r", "kind": "successful"}, 0),
        (R4J_REJECTED, {"name": "imp-r", "kind": "not_permitted"}, 0),
    ])
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def prom(exporter):
    try:
        backend = Backend("prometheus", exporter.target)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)  # never skip: say how to install it
    try:
        yield backend.wait_ready("cbtest_up")
    finally:
        backend.stop()


def value(prom: Backend, promql: str) -> float | None:
    result = prom.query(promql)
    return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def window(exporter, prom):
    """(start, end) around known increments: 30 failed / 70 ok for imp-a,
    12 failed / 0 ok for imp-b, 40 failed / 20 ok / 40 rejected for imp-r."""
    wait_until(lambda: value(prom, f'{FAILED}{{service="imp-a"}}') == 0, what="the zero counters")
    start = datetime.now(timezone.utc)
    time.sleep(3 * SCRAPE_INTERVAL_S)  # a few samples at 0 inside the window
    exporter.update([
        (FAILED, {"service": "imp-a"}, 30), (OK, {"service": "imp-a"}, 70),
        (FAILED, {"service": "imp-b"}, 12),
        (R4J_CALLS, {"name": "imp-r", "kind": "failed"}, 40),
        (R4J_CALLS, {"name": "imp-r", "kind": "successful"}, 20),
        (R4J_REJECTED, {"name": "imp-r", "kind": "not_permitted"}, 40),
    ])
    wait_until(lambda: value(prom, f'{R4J_REJECTED}{{name="imp-r"}}') == 40,
               what="the increments")
    time.sleep(3 * SCRAPE_INTERVAL_S)
    return start, datetime.now(timezone.utc)


def bounds(true: float, start: datetime, end: datetime) -> tuple[float, float]:
    w, s = (end - start).total_seconds(), SCRAPE_INTERVAL_S
    return true, true * (1 + 1.1 * s / (w - 2 * s))


def test_runbook_counters_per_service(prom, window):
    start, end = window
    found = impact(prom.url, "runbook", ["imp-a", "imp-b", "imp-quiet"], start, end)
    assert isinstance(found, Impact) and found.rejected is None  # the runbook has none
    low, high = bounds(30, start, end)
    assert low <= found.per_service["imp-a"]["failures"] <= high
    low, high = bounds(70, start, end)
    assert low <= found.per_service["imp-a"]["successes"] <= high
    assert found.per_service["imp-quiet"] == {"failures": 0.0, "successes": 0.0}
    assert found.failed_share == pytest.approx(42 / 112, rel=1e-9)
    assert found.source == f"{prom.url} (runbook)"

    only_a = impact(prom.url, "runbook", ["imp-a"], start, end)
    assert only_a.failed_share == pytest.approx(0.3, rel=1e-9)
    assert set(only_a.per_service) == {"imp-a"}
    only_b = impact(PromClient(prom.url), runbook_profile(), ["imp-b"], start, end)
    assert only_b.failed_share == 1.0
    quiet = impact(prom.url, "runbook", ["imp-quiet"], start, end)
    assert quiet.failed == 0 and quiet.failed_share is None  # no calls: no share


def test_resilience4j_counts_rejections(prom, window):
    start, end = window
    found = impact(prom.url, "resilience4j", ["imp-r"], start, end)
    assert found.failed_share == pytest.approx(40 / 100, rel=1e-9)
    assert found.not_served_share == pytest.approx(80 / 100, rel=1e-9)
    low, high = bounds(40, start, end)
    assert low <= found.rejected <= high


def test_a_window_before_the_increments_counts_nothing(prom, window):
    start, _ = window
    before = impact(prom.url, "runbook", ["imp-a"], start.replace(year=2024), start)
    assert before.failed == 0 and before.failed_share is None


def test_failures_are_clear_source_errors(prom, window):
    start, end = window
    with pytest.raises(Unreachable, match="connection refused"):
        impact(f"http://127.0.0.1:{free_port()}", "runbook", ["imp-a"], start, end)
    bad = {"state": "circuit_breaker_state", "failures": "sum by (service) (rate(x[1m])) +",
           "successes": "sum by (service) (rate(y[1m]))"}
    with pytest.raises(ConfigError, match="rejected the failures impact query"):
        impact(prom.url, bad, ["imp-a"], start, end)
    no_rate = {"state": "circuit_breaker_state", "failures": "sum by (service) (errors_per_s)"}
    with pytest.raises(SourceError, match="no rate"):
        impact(prom.url, no_rate, ["imp-a"], start, end)
    with pytest.raises(ValueError):
        impact(prom.url, "runbook", ["imp-a"], end, start)


def test_increase_queries_of_the_builtin_profiles():
    assert increase_query(runbook_profile().failures_query, 960, ("service",)) == (
        "sum by (service) (sum by (service, pod, instance) "
        "(increase(circuit_breaker_failures_total[960s])))")
    by = "name, application, pod, instance"
    assert increase_query(resilience4j_profile().successes_query, 60, ("name",)) == (
        f"sum by (name) (sum by ({by}) "
        f'(increase({R4J_CALLS}{{kind="successful"}}[60s])) or sum by ({by}) '
        '(increase(resilience4j_circuitbreaker_calls_total{kind="successful"}[60s])))')
    envoy = increase_query(envoy_profile().rejected_query, 5, ("envoy_cluster_name",))
    # Each overflow counter on its own: one increase() over two names collides.
    assert "__name__" not in envoy
    assert "increase(envoy_cluster_upstream_rq_pending_overflow[5s])" in envoy
    assert "increase(envoy_cluster_upstream_cx_overflow[5s])" in envoy


def test_export_counts_the_impact_of_a_recorded_incident(prom, window, tmp_path, capsys):
    import json

    from console import cli
    from console.incident.journal import EventKind, Journal
    from console.sources.prometheus.source import PrometheusSource
    from console.sources.prometheus.impact import prometheus_details

    start, end = window
    details = prometheus_details(PrometheusSource(prom.url, profile="runbook"))
    assert details == {"prometheus_url": prom.url, "profile": "runbook", "profile_json": None,
                       "prometheus_auth": "{}"}
    with Journal.open_or_resume(tmp_path) as journal:
        journal.open_incident("imp-a", at=start, details=details)
        journal.append(EventKind.RESOLVED, at=end)
    assert cli.export(["--state-dir", str(tmp_path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["impact"]["requests_failed_share"] == pytest.approx(0.3, rel=1e-9)
    assert doc["impact"]["source"] == f"{prom.url} (runbook)"
