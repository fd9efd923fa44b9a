"""The mitigation engine as the tests drive it: the target service, a runner
whose sleep steps the Kubernetes test server, and what the runner recorded."""

from __future__ import annotations

from datetime import datetime, timezone

from console.mitigations.runner import ActionRunner, Progress
from console.model.probe import HealthResult
from console.mitigations.recorder import MemoryRecorder, Stage
from console.model.servicemap import ServiceTarget
from tests.kubeserver import KubeServer

NS = "shop"
TOKEN = "admin-secret-token-7f3a9c"
FLAG = "payment-api-integration"
T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)
TARGET = ServiceTarget(
    service="payment-api", namespace=NS, caller="api", downstream="payment-api",
    health_url="http://payment-api:8080/health", flag=FLAG, env_prefix="PAYMENT_API",
    fallback_mode="mock", smoke_url="http://payment-api:8080/api/v1/payments",
)


def health(status: int | None, latency_ms: float | None = None,
           error: str | None = None) -> HealthResult:
    return HealthResult(url=TARGET.health_url, checked_at=T0, status=status,
                        latency_ms=latency_ms, error=error)


UNHEALTHY = health(503, 2500.0)
HEALTHY = health(200, 12.0)


class Progressions:
    def __init__(self) -> None:
        self.seen: list[Progress] = []

    def __call__(self, progress: Progress) -> None:
        self.seen.append(progress)


def runner(kube: KubeServer | None = None, **kw) -> ActionRunner:
    """A runner whose sleep steps the test server's controller once."""
    kw.setdefault("cluster", None)
    kw.setdefault("flags", None)
    kw.setdefault("probe", None)
    kw.setdefault("recorder", MemoryRecorder())
    kw.setdefault("context", "test-ctx")
    kw.setdefault("poll_s", 0.01)
    kw.setdefault("verify_timeout_s", 0.2)
    if kube is not None:
        kw.setdefault("sleep", lambda s: kube.step())
    return ActionRunner(**kw)


def stages(r: ActionRunner) -> list[Stage]:
    return [e.stage for e in r.recorder.events]
