"""The mitigation requests, compared with what kubectl sends
(shared/REFERENCE.md), and kubectl's rollout-status verdicts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.model import kubectl as ops
from console.clock import FakeClock
from console.demo import DemoFleet
from console.model.fleet import Condition, Container, Deployment

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 27, 0, 29, 37, 512000, tzinfo=timezone.utc)


def deployment(**kw) -> Deployment:
    base = dict(
        namespace="shop", name="api", replicas=3, updated_replicas=3,
        ready_replicas=3, available_replicas=3, status_replicas=3,
        containers=(Container(name="app", env={"A": "1"}),),
    )
    return Deployment(**{**base, **kw})


def test_restart_patch_is_kubectls():
    assert ops.restart_patch(AT) == {
        "spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-11-27T00:29:37Z"}}}}
    }


def test_set_env_patch_is_kubectls():
    assert ops.set_env_patch(deployment(), {"FOO": "bar"}) == {
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}, {"name": "FOO"}],
                "env": [{"name": "FOO", "value": "bar"}],
                "name": "app",
            }],
        }}}
    }


def test_unset_and_unchanged_env():
    d = deployment(containers=(Container(name="app", env={"A": "1", "FOO": "bar"}),))
    patch = ops.set_env_patch(d, {"FOO": None})
    container = patch["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"$patch": "delete", "name": "FOO"}]
    assert container["$setElementOrder/env"] == [{"name": "A"}]
    # kubectl sends no PATCH when nothing changes.
    assert ops.set_env_patch(d, {"FOO": "bar", "A": "1"}) is None
    assert ops.set_env_patch(deployment(), {"FOO": None}) is None


def test_fallback_variables_follow_the_runbook():
    prefix = ops.env_prefix("payment-api")
    assert prefix == "PAYMENT_API"
    assert ops.fallback_env(prefix, "mock", True) == {
        "PAYMENT_API_FALLBACK_ENABLED": "true", "PAYMENT_API_FALLBACK_MODE": "mock"}
    on = deployment(containers=(Container(name="app", env={"PAYMENT_API_FALLBACK_ENABLED": "true"}),))
    assert ops.fallback_enabled(on, prefix) and not ops.fallback_enabled(deployment(), prefix)


def test_kubectl_equivalents_quote_their_words():
    assert ops.restart_command("prod", "shop", "payment-api") == (
        "kubectl --context prod -n shop rollout restart deployment/payment-api")
    assert ops.set_env_command(None, "shop", "api", {"X": "a b", "Y": None}) == (
        "kubectl -n shop set env deployment/api 'X=a b' Y-")


@pytest.mark.parametrize(
    "fields, done, failed, words",
    [
        (dict(generation=2, observed_generation=1), False, False, "spec update"),
        (dict(conditions=(Condition(type="Progressing", status="False",
                                    reason="ProgressDeadlineExceeded"),)), False, True, "deadline"),
        (dict(updated_replicas=1), False, False, "1 out of 3 new replicas"),
        (dict(status_replicas=4), False, False, "1 old replicas are pending termination"),
        (dict(available_replicas=2), False, False, "2 of 3 updated replicas are available"),
        ({}, True, False, "successfully rolled out"),
    ],
)
def test_rollout_status_follows_kubectl(fields, done, failed, words):
    status = ops.rollout_status(deployment(**fields))
    assert (status.done, status.failed) == (done, failed)
    assert words in status.message


def test_a_restart_on_the_demo_fleet_rolls_out_and_completes():
    clock = FakeClock(datetime(2026, 11, 27, 9, tzinfo=timezone.utc))
    fleet = DemoFleet(seed=7, clock=clock)
    clock.advance(10)
    fleet.poll()
    fleet.cluster.patch_deployment("shop", "payment-api", ops.restart_patch(clock()), ops.RESTART_MANAGER)
    seen = []
    for _ in range(60):
        clock.advance(1)
        status = ops.rollout_status(fleet.cluster.deployment("shop", "payment-api"))
        seen.append(status)
        if status.done:
            break
    assert seen[-1].done and not any(s.failed for s in seen)
    assert any(not s.done for s in seen)  # it took time, as a rollout does
    restarted = fleet.cluster.deployment("shop", "payment-api").template_annotations
    assert restarted[ops.RESTARTED_AT] == ops.rfc3339(clock() - timedelta(seconds=len(seen)))
