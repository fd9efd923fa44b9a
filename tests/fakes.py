"""Test doubles for the breaker source: scripted snapshots, scripted failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from console.clock import FakeClock
from console.model.fleet import BreakerState, FleetSnapshot, InstanceStatus, ServiceStatus

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)


def service(
    name: str,
    *states: BreakerState | str,
    since: datetime = T0,
    fail: float | None = 1.0,
    ok: float | None = 9.0,
    **kw,
) -> ServiceStatus:
    states = states or (BreakerState.CLOSED,)
    instances = tuple(
        InstanceStatus(
            instance=f"{name}-pod-{i}",
            state=BreakerState(s),
            since=since,
            reported=(BreakerState(s),),
            failure_rate=fail,
            success_rate=ok,
        )
        for i, s in enumerate(states)
    )
    return ServiceStatus(service=name, instances=instances, **kw)


class ScriptedSource:
    """Returns whatever `services` holds now; raises `error` when set."""

    label = "scripted"

    def __init__(self, clock: FakeClock, services: list[ServiceStatus]) -> None:
        self.clock = clock
        self.services = services
        self.error: Exception | None = None
        self.alerts: tuple = ()
        self.notices: tuple[str, ...] = ()
        self.polls = 0

    def poll(self) -> FleetSnapshot:
        self.polls += 1
        if self.error is not None:
            raise self.error
        return FleetSnapshot(
            fetched_at=self.clock(),
            services=tuple(self.services),
            alerts=self.alerts,
            notices=self.notices,
        )


def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(minutes=5))
