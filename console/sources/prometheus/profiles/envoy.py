"""Envoy's circuit breakers, Istio's sidecars included."""

from __future__ import annotations

from console.sources.prometheus.profiles.base import (
    DEFAULT_RATE_WINDOW,
    Profile,
    StateEncoding,
    by_clause,
    summed_rate,
)

#: Every breaker of an Envoy cluster, both priorities: connections, the
#: connection pool, requests, pending requests, retries
#: (cluster_manager/cluster_stats, "Circuit breakers statistics").
ENVOY_OPEN_GAUGES = tuple(
    f"envoy_cluster_circuit_breakers_{priority}_{breaker}_open"
    for priority in ("default", "high")
    for breaker in ("cx", "cx_pool", "rq", "rq_pending", "rq_retry")
)
#: Calls the cluster's breakers turned away: requests over max_pending_requests,
#: connections over max_connections.
ENVOY_OVERFLOW_COUNTERS = (
    "envoy_cluster_upstream_rq_pending_overflow",
    "envoy_cluster_upstream_cx_overflow",
)


def sum_of_rates(counters: tuple[str, ...], by: str, window: str) -> str:
    """The summed rate of several counters, per `by`. Not one rate() over
    {__name__=~"a|b"}: rate() drops the name, and a cluster exporting both
    counters then has two series with one label set ("vector cannot contain
    metrics with the same labelset"). Each counter is summed on its own; the
    sum of all where every one exists, `or` each alone where only some do."""
    terms = [summed_rate(by, c, window) for c in counters]
    if len(terms) == 1:
        return terms[0]
    return " or ".join([f"({' + '.join(terms)})", *terms])


def envoy_profile(window: str = DEFAULT_RATE_WINDOW) -> Profile:
    """Envoy (and Istio's sidecars): a cluster is OPEN while any of its
    breakers, of either priority, is at its limit; no half-open state exists.
    Clusters by `envoy_cluster_name`, or Istio's `cluster_name` (e.g.
    outbound|8000||svc.ns.svc.cluster.local, shown as svc.ns) or, for Istio's
    own request counter, `destination_service`: all are kept in the `by`
    clause and the first non-empty names the service. Rejections: the
    overflow counters, else Istio's requests flagged UO (the breaker's 503s).
    Ejections by outlier detection are shown beside the state, not as OPEN:
    the cluster still serves through its other hosts."""
    svc = ("envoy_cluster_name", "cluster_name", "destination_service")
    inst = ("pod", "instance")
    by = by_clause(*svc, *inst)
    gauges = "|".join(ENVOY_OPEN_GAUGES)
    uo = 'istio_requests_total{reporter="source", response_flags="UO"}'
    rq_xx = "envoy_cluster_upstream_rq_xx"
    return Profile(
        name="envoy",
        service_labels=svc,
        instance_labels=inst,
        # No rate() here: the gauges keep their names, so max() over them is safe.
        state_query=f'max by ({by}) ({{__name__=~"{gauges}"}})',
        state_encoding=StateEncoding.VALUE,
        failures_query=summed_rate(by, f'{rq_xx}{{envoy_response_code_class="5"}}', window),
        successes_query=summed_rate(by, f'{rq_xx}{{envoy_response_code_class="2"}}', window),
        rejected_query=sum_of_rates(ENVOY_OVERFLOW_COUNTERS, by, window),
        mesh_rejected_query=summed_rate(by, uo, window),
        ejections_query=f"max by ({by}) (envoy_cluster_outlier_detection_ejections_active)",
        interval_metric=ENVOY_OPEN_GAUGES[0],
        cluster_names=True,
        notes="Istio drops these stats unless proxyStatsMatcher includes "
        ".*circuit_breakers.*; its UO response flag (upstream overflow) counts "
        "the breakers' rejections where the overflow counters are dropped.",
    )
