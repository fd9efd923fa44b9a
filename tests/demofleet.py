"""The demo fleet as the tests drive it: the bodies kubectl sends, and a
rollout followed on the fleet's clock."""

from __future__ import annotations

from console.clock import FakeClock
from console.demo import DemoFleet
from console.model.fleet import Deployment

NS = "shop"


def set_env(*entries: dict) -> dict:
    """The body `kubectl set env deployment/X A=b` sends (REFERENCE.md)."""
    return {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": e["name"]} for e in entries],
                            "env": list(entries),
                            "name": "app",
                        }
                    ],
                }
            }
        }
    }


FALLBACK_ON = set_env(
    {"name": "PAYMENT_API_FALLBACK_ENABLED", "value": "true"},
    {"name": "PAYMENT_API_FALLBACK_MODE", "value": "mock"},
)


def rollout_status(d: Deployment) -> str:
    """kubectl's rollout-status logic, in its order (REFERENCE.md)."""
    if d.generation > d.observed_generation:
        return "waiting for spec update"
    if d.updated_replicas < d.replicas:
        return "updating"
    if d.status_replicas > d.updated_replicas:
        return "old replicas terminating"
    if d.available_replicas < d.updated_replicas:
        return "becoming available"
    return "done"


def wait_rollout(fleet: DemoFleet, clock: FakeClock, name: str, limit: float = 60.0) -> list[str]:
    """Rollout statuses seen every 0.5 s until done; fails past `limit`."""
    seen = [rollout_status(fleet.cluster.deployment(NS, name))]
    while seen[-1] != "done":
        assert len(seen) * 0.5 < limit, f"rollout of {name} not done: {seen[-5:]}"
        clock.advance(0.5)
        seen.append(rollout_status(fleet.cluster.deployment(NS, name)))
    return seen
