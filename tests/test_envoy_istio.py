"""The envoy profile on metric text as Envoy and Istio's sidecars write it,
scraped by a real Prometheus 2.42 and a real VictoriaMetrics.

Where the shapes come from:
- tests/emitters/envoy_standalone.txt: Envoy's admin `/stats/prometheus`
  (source/server/admin/prometheus_stats.cc: `envoy_` prefix, one `# TYPE`
  line per family, families sorted by name, `{}` on untagged stats, tags
  from the default tag extractors, e.g. `envoy_response_code_class` before
  `envoy_cluster_name`), with every cluster stat of
  docs/root/configuration/upstream/cluster_manager/cluster_stats.rst that the
  profile reads: the ten circuit_breakers.{default,high}.*_open gauges and
  remaining_* gauges, upstream_rq_pending_overflow and upstream_cx_overflow
  (both, on every cluster, as Envoy always exports them), outlier detection.
- tests/emitters/envoy_stats_matcher.txt: an Envoy whose
  `stats_config.stats_matcher` keeps only some stats: one overflow counter.
- tests/emitters/istio_sidecar.txt: an Istio sidecar through pilot-agent's
  merged `:15020/stats/prometheus` with `proxyStatsMatcher` including
  `.*circuit_breakers.*` and `.*outlier_detection.*` (istio.io, "Envoy
  Statistics"): cluster tag `cluster_name`, Istio's own clusters beside the
  application's, and `istio_requests_total` with the labels of istio.io's
  "Istio Standard Metrics" (the UO response flag: upstream overflow).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from console.model.fleet import BreakerState as S
from console.sources.prometheus.profiles import envoy_profile
from console.sources.prometheus.source import PrometheusSource
from console.sources.prometheus.impact import impact
from tests.promserver import Backend, TextTarget, poll_until

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "emitters"

# Per-second growth of counters, by the series as the fixture writes it.
ENVOY_GROWTH = {
    'envoy_cluster_upstream_rq_pending_overflow{envoy_cluster_name="payments"}': 10.0,
    'envoy_cluster_upstream_cx_overflow{envoy_cluster_name="payments"}': 4.0,
    'envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="payments"}': 6.0,
    'envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="payments"}': 2.0,
    'envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="ledger"}': 5.0,
}
MATCHER_GROWTH = {
    'envoy_cluster_upstream_rq_pending_overflow{envoy_cluster_name="audit"}': 3.0,
}


def _uo(text: str) -> str:
    return next(line.rsplit(" ", 1)[0] for line in text.splitlines()
                if 'response_flags="UO"' in line)


@pytest.fixture(scope="module")
def targets():
    istio_text = (FIXTURES / "istio_sidecar.txt").read_text()
    made = {
        "envoy": TextTarget((FIXTURES / "envoy_standalone.txt").read_text(), ENVOY_GROWTH),
        "matcher": TextTarget((FIXTURES / "envoy_stats_matcher.txt").read_text(),
                              MATCHER_GROWTH),
        "istio": TextTarget(istio_text, {_uo(istio_text): 8.0}),
    }
    yield made
    for target in made.values():
        target.close()


@pytest.fixture(scope="module")
def backends(targets):
    started = {kind: Backend(kind, [t.target for t in targets.values()])
               for kind in ("prometheus", "victoria-metrics")}
    yield started
    for backend in started.values():
        backend.stop()


@pytest.fixture(params=["prometheus", "victoria-metrics"])
def backend(request, backends) -> Backend:
    return backends[request.param].wait_ready("envoy_server_live", timeout=60)


#: Prometheus' rate() divides by the whole window, also while a series is
#: younger than it: a short window reaches the true rate within seconds.
ENVOY = envoy_profile(window="5s")


def _rejected_ready(snap, service: str, rate: float) -> bool:
    s = snap.service(service)
    return bool(s and s.rejected_rate and abs(s.rejected_rate - rate) < 0.2 * rate)


ENVOY_SERVICES = {"payments", "inventory", "ledger", "search", "audit"}


@pytest.mark.slow
def test_envoy_every_breaker_of_either_priority_reads_open(backend):
    """Every Envoy cluster exports both overflow counters: the poll must not
    fail with "vector cannot contain metrics with the same labelset"."""
    source = PrometheusSource(backend.url, profile=ENVOY, backfill_minutes=0)
    snap = poll_until(
        source,
        lambda s: all(s.service(n) for n in ("payments", "inventory", "ledger", "search", "audit"))
        and _rejected_ready(s, "payments", 14) and _rejected_ready(s, "audit", 3),
        what="the Envoy clusters with their rejection rates",
    )
    state = {s.service: s.state for s in snap.services if s.service in ENVOY_SERVICES}
    assert state == {
        "payments": S.OPEN,  # default priority rq_open
        "inventory": S.OPEN,  # high priority rq_retry_open
        "search": S.OPEN,  # default cx_pool_open
        "ledger": S.CLOSED,
        "audit": S.OPEN,  # the stats_matcher Envoy: default rq_pending_open
    }
    payments = snap.service("payments")
    # Both counters counted: 10 pending overflows + 4 connection overflows a second.
    # (Waited for above, to 20 %: one counter alone would read 10 or 4.)
    assert payments.rejected_rate == pytest.approx(14.0, rel=0.2)
    assert payments.failure_rate == pytest.approx(6.0, rel=0.3)
    # ERR%: failed or rejected over all calls attempted (6 + 14 of 6 + 2 + 14).
    assert payments.error_percent == pytest.approx(90.9, abs=5)
    # Only the pending overflow exported there: counted alone, not dropped.
    assert snap.service("audit").rejected_rate == pytest.approx(3.0, rel=0.2)
    assert snap.service("ledger").instances[0].ejected_hosts == 1
    source.close()


def test_envoy_impact_counts_both_overflow_counters(backend):
    source = PrometheusSource(backend.url, profile=ENVOY, backfill_minutes=0)
    poll_until(source, lambda s: _rejected_ready(s, "payments", 14), what="payments' rejections")
    source.close()
    end = datetime.now(timezone.utc)
    counted = impact(backend.url, "envoy", ["payments", "audit"], end - timedelta(seconds=20), end)
    payments = counted.per_service["payments"]["rejected"]
    failed = counted.per_service["payments"]["failures"]
    audit = counted.per_service["audit"]["rejected"]
    assert payments > 0 and failed > 0 and audit > 0  # audit: its one counter, not dropped
    # Against payments' own 6 failures a second, scraped with them (the same
    # timestamps, so increase() extrapolates both alike): 10 pending + 4
    # connection overflows give 14/6; one counter alone 10/6 or 4/6, both
    # counted twice 28/6. The bounds sit halfway between.
    assert (10 / 6 + 14 / 6) / 2 < payments / failed < (14 / 6 + 28 / 6) / 2
    assert counted.rejected == pytest.approx(payments + audit)


ISTIO_SERVICES = {"payments.shop", "ledger.shop", "orders.shop:8080", "orders.shop:8443",
                  "api.stripe.com"}


def test_istio_sidecar_names_services_and_hides_its_own_clusters(backend):
    source = PrometheusSource(backend.url, profile=ENVOY, backfill_minutes=0)
    snap = poll_until(
        source,
        lambda s: ISTIO_SERVICES <= {x.service for x in s.services}
        and _rejected_ready(s, "payments.shop", 8),
        what="the sidecar's clusters and payments.shop's UO rejections",
    )
    names = {s.service for s in snap.services}
    assert names - ISTIO_SERVICES == ENVOY_SERVICES  # the Envoy fixtures' clusters
    istio = {s.service: s.state for s in snap.services if s.service in ISTIO_SERVICES}
    assert istio == {
        "payments.shop": S.OPEN, "orders.shop:8443": S.OPEN, "orders.shop:8080": S.CLOSED,
        "ledger.shop": S.CLOSED, "api.stripe.com": S.CLOSED,
    }
    payments = snap.service("payments.shop")
    # No overflow counters from this sidecar: Istio's UO-flagged requests are the rejections.
    assert payments.rejected_rate == pytest.approx(8.0, rel=0.2)
    assert snap.service("ledger.shop").instances[0].ejected_hosts == 1
    assert any("7 Istio infrastructure clusters hidden" in n and "show_infrastructure" in n
               for n in snap.notices), snap.notices
    source.close()

    shown = PrometheusSource(backend.url, profile=ENVOY, backfill_minutes=0,
                             show_infrastructure=True)
    snap = poll_until(shown, lambda s: s.service("BlackHoleCluster"), what="infrastructure rows")
    for name in ("PassthroughCluster", "InboundPassthroughClusterIpv4", "xds-grpc",
                 "prometheus_stats", "agent", "inbound|8080||"):
        assert snap.service(name) is not None, name
    assert not any("infrastructure clusters hidden" in n for n in snap.notices)
    shown.close()
