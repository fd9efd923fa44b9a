"""The incident tracker's settings (from `[incident]` in the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from console.incident.events import RESPONSE_TIMES_S


class TrackerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert_name: str = "CircuitBreakerOpen"
    severity: str = "P0"  # the runbook's severity for CircuitBreakerOpen
    response_times_s: dict[str, float] = Field(default_factory=lambda: dict(RESPONSE_TIMES_S))
    #: A service counts as recovered once its breaker has stayed CLOSED this long.
    recovered_hold_s: float = 60.0
    #: Also open an incident on a breaker seen OPEN, not only on the alert (a
    #: backend without ALERTS, or an alert with a long `for:`).
    open_on_breaker: bool = True
    #: Transitions this long before the opening go into the timeline.
    lead_up_s: float = 300.0
    #: Rollouts this long before the opening are recorded (runbook: "1 hour ago").
    rollout_lookback_s: float = 3600.0
    #: A backfilled transition this close to a recorded one with the same
    #: states is the same transition: after a restart the history is read
    #: back at range-query steps, not at the live polls' times.
    dedup_tolerance_s: float = 30.0
