"""opossum (Node.js) with opossum-prometheus."""

from __future__ import annotations

from console.model.fleet import BreakerState
from console.sources.prometheus.profiles.base import (
    DEFAULT_RATE_WINDOW,
    Profile,
    by_clause,
    summed_rate,
)

#: opossum's transitions, latest first when two fall in one step: a probe
#: that fails reopens at once (halfOpen then open), one that passes closes
#: (halfOpen then close), and close -> open is direct, open -> close is not.
OPOSSUM_TIE_ORDER = {"open": 0.2, "close": 0.1, "halfOpen": 0.0}


def opossum_profile(window: str = DEFAULT_RATE_WINDOW, lookback: str = "1h",
                    step: str = "5s") -> Profile:
    """opossum with opossum-prometheus: no state gauge, one counter
    `circuit{name, event}` (no _total). The state is the transition counter
    (open, halfOpen, close) that moved last within `lookback`, seen at `step`
    (a series appearing is a move: prom-client creates it at its first
    increment); a breaker that fired and never moved one is CLOSED. Missing
    event counters read 0 once the breaker has fired."""
    svc, inst = ("name",), ("pod", "instance")
    by = by_clause(*svc, *inst)

    def moved_last(event: str) -> str:
        c = f'circuit{{event="{event}"}}'
        moved = f"({c} > {c} offset {step}) or ({c} unless {c} offset {step})"
        return (f"max by ({by}, event) (max_over_time(timestamp({moved})[{lookback}:{step}]))"
                f" + {OPOSSUM_TIE_ORDER[event]}")

    last = " or ".join(f"({moved_last(e)})" for e in OPOSSUM_TIE_ORDER)
    latest = f"({last}) == bool on({by}) group_left() max by ({by}) ({last})"
    fired_only = (f'label_replace(max by ({by}) (circuit{{event="fire"}}) * 0 + 1, '
                  f'"event", "close", "", "") unless on({by}) ({last})')

    def rate(event: str) -> str:
        fired = summed_rate(by, 'circuit{event="fire"}', window) + " * 0"
        return summed_rate(by, f'circuit{{event="{event}"}}', window) + f" or {fired}"

    return Profile(
        name="opossum",
        service_labels=svc,
        instance_labels=inst,
        state_query=f"({latest}) or ({fired_only})",
        state_label="event",
        state_values={"close": BreakerState.CLOSED},
        # opossum counts a timeout as a failure too.
        failures_query=rate("failure"),
        successes_query=rate("success"),
        rejected_query=rate("reject"),
        interval_metric="circuit",
        notes="opossum-prometheus counts halfOpen only where the application "
        "attached its own listener before adding the breaker: without it a "
        "breaker reads OPEN then CLOSED, never HALF-OPEN.",
        half_open_note="opossum-prometheus counts halfOpen only when the application "
        "attached its own halfOpen listener before the metrics were created; "
        "without that series the breaker reads OPEN then CLOSED. Its probes "
        "still happened.",
    )
