"""Errors are typed: what the console does after a failure depends on the
error's type, never on words in its message."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from console import errors
from console.mitigations.runner import ActionRunner
from console.model.probe import HealthResult
from console.mitigations.recorder import MemoryRecorder
from console.model.servicemap import ServiceTarget
from console.sources.kube import KubernetesCluster
from tests.kubeserver import KubeServer
from tests.promserver import free_port

pytestmark = pytest.mark.integration

NS = "shop"
DEP_PATH = "/apis/apps/v1/namespaces/shop/deployments/payment-api"
T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)
TARGET = ServiceTarget(
    service="payment-api", namespace=NS, caller="api", downstream="payment-api",
    health_url="http://payment-api:8080/health", flag="payment-api-integration",
    env_prefix="PAYMENT_API",
    fallback_mode="mock",
)
UNHEALTHY = HealthResult(url=TARGET.health_url, checked_at=T0, status=503, latency_ms=2500.0)


@pytest.fixture
def kube():
    with KubeServer(auto_step=False) as server:
        server.add_deployment("api", NS, replicas=2)
        server.add_deployment("payment-api", NS, replicas=2)
        yield server


def _cluster(kube, tmp_path, port=None):
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", context="test-ctx", namespace=NS)
    cluster = KubernetesCluster(kubeconfig=str(path), timeout=2.0)
    if port is not None:  # the same cluster, but nobody listening
        cluster.close()
        text = path.read_text().replace(f":{kube.port}", f":{port}")
        path.write_text(text)
        cluster = KubernetesCluster(kubeconfig=str(path), timeout=2.0)
    return cluster


def _runner(kube, cluster) -> ActionRunner:
    return ActionRunner(cluster=cluster, flags=None, probe=None, recorder=MemoryRecorder(),
                        context="test-ctx", poll_s=0.01, verify_timeout_s=0.2,
                        sleep=lambda s: kube.step())


def test_an_answer_that_says_unreachable_is_an_answer(kube, tmp_path):
    """The API server refuses the PATCH (an admission webhook it could not
    call): it answered, so nothing was applied. That its message holds the
    word "unreachable" must not make the console treat the answer as lost."""
    kube.fail("PATCH", DEP_PATH, 500, message='Internal error occurred: failed calling webhook '
              '"policy.example.com": service "policy" unreachable')
    cluster = _cluster(kube, tmp_path)
    try:
        r = _runner(kube, cluster)
        outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), lambda p: None)
    finally:
        cluster.close()
    assert not outcome.ok
    assert outcome.message.startswith("the API server answered 500: Internal error occurred")
    assert "whether the change" not in outcome.message
    assert "does not have the change" not in outcome.message
    assert len(kube.requests_for("PATCH")) == 1


def test_no_answer_is_unreachable_and_an_answer_is_not(kube, tmp_path):
    cluster = _cluster(kube, tmp_path)
    try:
        kube.fail("GET", DEP_PATH, 500, message="unreachable etcd member")
        with pytest.raises(errors.SourceError) as answered:
            cluster.deployment(NS, "payment-api")
        assert not isinstance(answered.value, errors.Unreachable)
        kube.clear_failures()
        kube.fail("GET", DEP_PATH, 401, message="token expired")
        with pytest.raises(errors.Unauthorized):
            cluster.deployment(NS, "payment-api")
        kube.clear_failures()
    finally:
        cluster.close()
    dead = _cluster(kube, tmp_path, port=free_port())
    try:
        with pytest.raises(errors.Unreachable):
            dead.deployment(NS, "payment-api")
    finally:
        dead.close()


