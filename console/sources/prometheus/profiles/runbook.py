"""RUNBOOK-004's own metric family."""

from __future__ import annotations

from console.sources.prometheus.profiles.base import (
    DEFAULT_RATE_WINDOW,
    Profile,
    by_clause,
    summed_rate,
)


def runbook_profile(window: str = DEFAULT_RATE_WINDOW) -> Profile:
    """RUNBOOK-004's metrics: circuit_breaker_state{service, state} (1 = current),
    circuit_breaker_failures_total / _successes_total. Instances by `pod` if
    the series carry one (Kubernetes service discovery), else `instance`."""
    svc, inst = ("service",), ("pod", "instance")
    by = by_clause(*svc, *inst)
    return Profile(
        name="runbook",
        service_labels=svc,
        instance_labels=inst,
        state_query=f"max by ({by}, state) (circuit_breaker_state)",
        failures_query=summed_rate(by, "circuit_breaker_failures_total", window),
        successes_query=summed_rate(by, "circuit_breaker_successes_total", window),
        interval_metric="circuit_breaker_state",
        notes="circuit_breaker_transitions_total is exported too; the history "
        "comes from the state gauge instead (its labels are not standardised).",
    )
