"""The production lock's rule (issue 18): which contexts are production
(configured, by a site, or by their name's tokens), that only the exact name
unlocks one, and that each unlock is recorded (who, when, which context)."""

from __future__ import annotations

import pytest

from console.config import load_config
from console.mitigations.prodlock import ProductionLocks, named_like_production
from console.mitigations.recorder import MemoryRecorder
from tests.fakes import clock

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", [
    "prod-eu-west", "PROD", "eu_west_Prd", "gke_shop_europe-west1_production",
    "arn:aws:eks:eu-west-1:123456789012:cluster/prod", "admin@prd.example", "shop.prod.eu"])
def test_named_like_production(name):
    assert named_like_production(name)
    assert ProductionLocks().locked(name)


@pytest.mark.parametrize("name", [
    "preprod", "product-x", "staging-eu", "test-ctx", "prodution", "kind-dev", "nonprod"])
def test_not_named_like_production(name):
    assert not named_like_production(name)
    assert not ProductionLocks().locked(name)


def config(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_configured_production_by_context_and_by_site(tmp_path):
    locks = ProductionLocks(config(tmp_path, """
[contexts.eu-live]
production = true
[contexts.prod-sandbox]
production = false
[sites.us-east]
context = "us-live"
production = true
[sites.ap-south]
production = true
[sites.dev]
context = "dev-1"
"""), current_context="kube-current")
    assert locks.locked("eu-live") and locks.locked("us-live")
    assert locks.locked("kube-current")  # a site without a context: the current one
    assert not locks.is_production("prod-sandbox")  # said so: the name is not the rule
    assert not locks.is_production("dev-1") and not locks.is_production(None)
    assert locks.unlocked() == ()


def test_only_the_exact_name_unlocks_and_the_unlock_is_recorded():
    recorder = MemoryRecorder()
    c = clock()
    locks = ProductionLocks(operator="alice", clock=c, recorder=recorder)
    for wrong in ("prod-eu", "PROD-EU-WEST", " prod-eu-west", "prod-eu-west ", ""):
        assert locks.unlock("prod-eu-west", wrong) is False
        assert locks.locked("prod-eu-west")
    assert recorder.events == []
    assert locks.unlock("prod-eu-west", "prod-eu-west", service="payment-api") is True
    assert not locks.locked("prod-eu-west") and locks.locked("prod-us-east")
    assert locks.unlocked() == ("prod-eu-west",)
    assert locks.unlock("prod-eu-west", "prod-eu-west")  # again: nothing new recorded
    [event] = recorder.events
    assert (event.action, event.stage.value, event.at, event.service) == (
        "unlock", "succeeded", c(), "payment-api")
    assert event.details["context"] == "prod-eu-west" and event.details["operator"] == "alice"
    assert locks.states(["prod-us-east", "test-ctx"]) == (
        ("prod-us-east", False), ("prod-eu-west", True))



def test_the_runner_refuses_a_locked_contexts_plan_before_sending():
    """The last check before any request, whoever built the plan."""
    from console.mitigations.plan import Plan
    from console.mitigations.runner import ActionRunner

    class NoCluster:  # any call would be a request: none may come
        def __getattr__(self, name):
            raise AssertionError(f"a request was made: {name}")

    recorder = MemoryRecorder()
    locks = ProductionLocks()
    runner = ActionRunner(cluster=NoCluster(), flags=None, probe=None, recorder=recorder,
                          context="prod-eu-west", locks=locks)
    plan = Plan(action="restart", service="payment-api", title="Restart deployment/api",
                target="shop/deployment/api", request="PATCH ...", equivalent="kubectl ...",
                namespace="shop", context="prod-eu-west", deployment="api")
    outcome = runner.execute(plan, lambda progress: None)
    assert not outcome.ok and outcome.message.startswith("refused: prod-eu-west is a production")
    assert [e.stage.value for e in recorder.events] == ["confirmed", "failed"]
