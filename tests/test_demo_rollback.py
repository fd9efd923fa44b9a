"""The demo's simulated cluster answers `kubectl rollout undo` as a real one
would: payment-api's revision 14 (the bad pool settings) rolled back to 13
runs 13's template again under revision 15, and the fault goes with it: the
breaker recovers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from console.clock import FakeClock
from console.demo import DemoFleet
from console.demo.topology import demo_service_map
from console.mitigations.recorder import Stage
from console.model import rollback
from console.model.fleet import BreakerState
from tests.runners import runner, stages

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 9, tzinfo=timezone.utc)


def test_rollback_on_the_demo_undoes_the_bad_revision_and_the_breaker_recovers():
    clock = FakeClock(T0)
    fleet = DemoFleet(seed=7, clock=clock)
    clock.advance(30)
    assert fleet.poll().service("payment-api").state is BreakerState.OPEN
    target = demo_service_map().target("payment-api")
    r = runner(cluster=fleet.cluster, sleep=lambda s: clock.advance(s), poll_s=1.0)
    plan = r.plan("rollback", target)
    assert plan.title == "Roll back deployment/payment-api: revision 14 -> revision 13"
    assert "image app: registry.example.com/shop/payment-api:2.8.0 -> " \
           "registry.example.com/shop/payment-api:2.7.4" in plan.changes
    assert any(line.startswith("env app: ~DB_POOL_MAX_SIZE ~DB_POOL_TIMEOUT_MS")
               for line in plan.changes)
    outcome = r.execute(plan, lambda p: None)
    assert outcome.ok and outcome.verified, outcome.message
    assert stages(r)[-2:] == [Stage.SUCCEEDED, Stage.VERIFIED]
    dep, rss = fleet.cluster.rollout_objects("shop", "payment-api")
    entries = rollback.history(dep, rss)
    assert [(e.revision, e.current) for e in entries][:2] == [(15, True), (14, False)]
    assert entries[0].change_cause == "deploy payment-api v2.7.4: bump TLS library"
    assert dep["metadata"]["annotations"]["kubernetes.io/change-cause"] == entries[0].change_cause
    assert dep["metadata"]["annotations"][rollback.REVISION] == "15"
    # The fault lived in revision 14's pods: the breaker goes HALF_OPEN, then CLOSED.
    seen = set()
    for _ in range(240):
        clock.advance(1)
        state = fleet.poll().service("payment-api").state
        seen.add(state)
        if state is BreakerState.CLOSED:
            break
    assert state is BreakerState.CLOSED, seen
    assert fleet.cluster.health("payment-api")[0] == 200
