"""Resilience4j through Micrometer, 0.x to 2.x."""

from __future__ import annotations

from console.sources.prometheus.profiles.base import (
    DEFAULT_RATE_WINDOW,
    Profile,
    by_clause,
    summed_rate,
)


#: Resilience4j 0.x's one state gauge: CircuitBreaker.State's `order`.
R4J_0X_STATE_ORDER = {0: "closed", 1: "open", 2: "half_open", 3: "disabled", 4: "forced_open"}


def resilience4j_profile(window: str = DEFAULT_RATE_WINDOW) -> Profile:
    """Resilience4j through Micrometer: breakers by `name`, told apart by
    Spring Boot's `application` tag where two applications on one pod have a
    breaker of one name. 1.x and 2.x: a state gauge per state, calls in the
    `calls` timer, rejections in `not_permitted_calls_total`. 0.x: one state
    gauge whose value is the state's order, and every kind of call, the
    rejected ones (`kind="not_permitted"`) too, in `calls_total`."""
    svc, inst = ("name",), ("pod", "instance")
    by = by_clause(*svc, "application", *inst)
    timer = "resilience4j_circuitbreaker_calls_seconds_count"
    old = "resilience4j_circuitbreaker_calls_total"  # 0.x

    def calls(metric: str, kind: str) -> str:
        return summed_rate(by, f'{metric}{{kind="{kind}"}}', window)

    gauge = "resilience4j_circuitbreaker_state"
    numbered = " or ".join(
        f'label_replace(max by ({by}) ({gauge}{{state=""}}) == bool {order}, '
        f'"state", "{state}", "", "")'
        for order, state in R4J_0X_STATE_ORDER.items()
    )
    return Profile(
        name="resilience4j",
        service_labels=svc,
        instance_labels=inst,
        instance_qualifier="application",
        state_query=f'max by ({by}, state) ({gauge}{{state!=""}}) or {numbered}',
        # 1.x or 0.x: one application exports one of them, never both.
        failures_query=f"{calls(timer, 'failed')} or {calls(old, 'failed')}",
        successes_query=f"{calls(timer, 'successful')} or {calls(old, 'successful')}",
        rejected_query=(
            summed_rate(by, "resilience4j_circuitbreaker_not_permitted_calls_total", window)
            + f" or {calls(old, 'not_permitted')}"
        ),
        failure_percent_query=f"max by ({by}) (resilience4j_circuitbreaker_failure_rate)",
        slow_call_percent_query=f"max by ({by}) (resilience4j_circuitbreaker_slow_call_rate)",
        interval_metric=gauge,
        notes="metrics_only shows as DISABLED: calls pass unguarded, it never trips.",
    )
