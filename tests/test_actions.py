"""The mitigation engine (console.mitigations.runner) against the Kubernetes test server,
the flag test server and the demo fleet: what each plan says, that execute
sends exactly what the plan shows (once), watches, verifies and records."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from console.model import kubectl as ops
from console.mitigations.runner import (
    ALREADY_RESTARTED,
    READ_ONLY_REFUSAL,
    ActionRunner,
    Mode,
    Plan,
    Progress,
    swap,
)
from console.clock import FakeClock
from console.demo import DemoFleet
from console.model.fleet import BreakerState as S
from console.model.probe import HealthResult, SmokeResult
from console.mitigations.recorder import Stage
from console.sources.flags import HttpFlagService
from console.sources.kube import KubernetesCluster
from tests.flagserver import PREFIX, FlagServer
from tests.kubeserver import KubeServer, kubectl_runner
from tests.runners import (
    FLAG,
    HEALTHY,
    NS,
    T0,
    TARGET,
    TOKEN,
    UNHEALTHY,
    Progressions,
    health,
    runner,
    stages,
)

pytestmark = pytest.mark.integration

DEP_PATH = "/apis/apps/v1/namespaces/shop/deployments/payment-api"
FALLBACK_LINE = "[INFO] payment-api fallback enabled (mode=mock)\n"


@pytest.fixture
def kube():
    server = KubeServer(auto_step=False)
    server.start()
    server.add_deployment("api", NS, replicas=3, env={"LOG_LEVEL": "info"})
    server.add_deployment("payment-api", NS, replicas=3)
    yield server
    server.stop()


@pytest.fixture
def cluster(kube, tmp_path):
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", context="test-ctx", namespace=NS)
    source = KubernetesCluster(kubeconfig=str(path), timeout=2.0)
    yield source
    source.close()


@pytest.fixture
def flagserver():
    server = FlagServer(token=TOKEN)
    server.put(FLAG, True, updated_at="2026-11-27T03:00:00Z")
    yield server
    server.close()


@pytest.fixture
def flags(flagserver, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    service = HttpFlagService(flagserver.url, token_env="ADMIN_TOKEN", timeout=2.0)
    yield service
    service.close()


class FakeProbe:
    def __init__(self, result: SmokeResult | None = None, health: HealthResult | None = None):
        self.result = result
        self.health = health
        self.calls: list[tuple] = []

    def check(self, url: str) -> HealthResult:
        self.calls.append(("check", url))
        return self.health or HealthResult(url=url, checked_at=T0, status=200, latency_ms=9.0)

    def smoke(self, url: str, requests: int = 100, concurrency: int = 10) -> SmokeResult:
        self.calls.append(("smoke", url, requests, concurrency))
        return self.result


def mutating(kube: KubeServer | None = None, flagserver: FlagServer | None = None) -> list:
    sent = []
    if kube is not None:
        sent += [r for r in kube.requests if r.method not in ("GET",)]
    if flagserver is not None:
        sent += flagserver.of("POST")
    return sent


# --- restart: which deployment ---------------------------------------------------------


def test_unhealthy_downstream_preselects_its_restart(kube, cluster):
    # A fixed clock: the patch's restartedAt is to the second, and a loaded
    # machine can cross a second between the plan and the check.
    r = runner(kube, cluster=cluster, clock=FakeClock(T0))
    plan = r.plan_restart(TARGET, UNHEALTHY)
    assert (plan.action, plan.deployment, plan.namespace) == ("restart", "payment-api", NS)
    assert plan.title == "Restart deployment/payment-api (runbook Option 2)"
    assert plan.target == "shop/deployment/payment-api"
    assert plan.reason == (f"health check {TARGET.health_url} answered 503 in 2.5 s: "
                           "the downstream is failing (Option 2)")
    assert plan.refusal is None and plan.mutating
    assert plan.field_manager == "kubectl-rollout"
    assert plan.patch == ops.restart_patch(r.clock())
    assert plan.request.splitlines()[:3] == [
        f"PATCH {DEP_PATH}?fieldManager=kubectl-rollout",
        "Content-Type: application/strategic-merge-patch+json",
        "",
    ]
    assert json.loads(plan.request.splitlines()[3]) == plan.patch
    assert plan.equivalent == ("kubectl --context test-ctx -n shop rollout restart "
                               "deployment/payment-api")
    # The other choice, and back again.
    other = plan.alternative
    assert other.deployment == "api" and "Option 1" in other.title
    assert other.alternative.deployment == "payment-api" and other.alternative.alternative is None
    assert swap(swap(plan)).deployment == "payment-api"
    assert swap(swap(swap(plan))).deployment == "api"
    assert swap(swap(plan)).alternative.deployment == "api"
    assert mutating(kube) == []  # planning only reads


def test_healthy_downstream_preselects_the_caller(kube, cluster):
    plan = runner(kube, cluster=cluster).plan_restart(TARGET, HEALTHY)
    assert plan.deployment == "api"
    assert plan.title == "Restart deployment/api (runbook Option 1)"
    assert plan.reason.startswith(f"health check {TARGET.health_url} answered 200 in 12 ms: "
                                  "the downstream is healthy")
    assert plan.alternative.deployment == "payment-api"
    assert plan.equivalent.endswith("rollout restart deployment/api")


@pytest.mark.parametrize("seen", [None, health(None)])
def test_unknown_health_preselects_the_downstream_and_says_so(kube, cluster, seen):
    plan = runner(kube, cluster=cluster).plan_restart(TARGET, seen)
    assert plan.deployment == "payment-api"
    assert "unknown" in plan.reason
    assert plan.alternative.deployment == "api"


def test_no_answer_is_unknown_not_failing(kube, cluster):
    # Issue 12: no answer to the console's host is no evidence about the service.
    plan = runner(kube, cluster=cluster).plan_restart(
        TARGET, health(None, error="connection refused"))
    assert plan.deployment == "payment-api"
    assert "is failing" not in plan.reason
    assert plan.reason.startswith("payment-api health unknown from here (connection refused)")
    assert "Nothing shows payment-api failing either (payment-api's pods and rollout not " \
        "read): the downstream is preselected as the smaller restart" in plan.reason


def test_paused_deployment_is_refused_in_kubectls_words(kube, cluster):
    kube.set_paused(NS, "payment-api", True)
    r = runner(kube, cluster=cluster)
    plan = r.plan_restart(TARGET, UNHEALTHY)
    assert plan.refusal == ('deployments.apps "payment-api" can\'t restart paused deployment '
                            "(run rollout resume first)")
    assert plan.alternative.refusal is None  # the caller is not paused
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok and outcome.message.startswith("refused: deployments.apps")
    assert kube.requests_for("PATCH") == []


def test_paused_after_planning_is_refused_before_the_patch(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan_restart(TARGET, UNHEALTHY)
    kube.set_paused(NS, "payment-api", True)
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok and "can't restart paused deployment" in outcome.message
    assert kube.requests_for("PATCH") == []
    assert Stage.SENT not in stages(r)


def test_missing_deployment_is_refused_with_the_api_words(kube, cluster):
    target = TARGET.model_copy(update={"downstream": "nope"})
    plan = runner(kube, cluster=cluster).plan_restart(target, UNHEALTHY)
    assert plan.refusal == 'deployments.apps "nope" not found in namespace "shop"'
    assert plan.alternative.refusal is None


def test_restart_within_the_same_second_is_refused(kube, cluster):
    clock = FakeClock(T0)
    r = runner(kube, cluster=cluster, clock=clock)
    kube.step()
    assert r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions()).ok
    assert r.plan_restart(TARGET, UNHEALTHY).refusal == ALREADY_RESTARTED


def test_no_cluster(flags):
    r = runner(flags=flags, cluster_unavailable="no kubeconfig found (~/.kube/config)")
    plan = r.plan_restart(TARGET, UNHEALTHY)
    assert plan.refusal == "no kubeconfig found (~/.kube/config)"
    assert plan.equivalent.endswith("rollout restart deployment/payment-api")
    assert r.plan_fallback(TARGET).refusal == "no kubeconfig found (~/.kube/config)"
    assert not r.execute(plan, Progressions()).ok


# --- restart: execution ---------------------------------------------------------------------


def test_restart_sends_one_patch_and_watches_the_rollout(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan_restart(TARGET, UNHEALTHY)
    old_pods = {p["metadata"]["name"] for p in kube.pods(NS, "payment-api")}
    progress = Progressions()
    outcome = r.execute(plan, progress)
    assert outcome.ok and outcome.verified is True, outcome
    [patch] = kube.requests_for("PATCH")
    assert patch.path == DEP_PATH
    assert patch.json() == plan.patch
    assert patch.param("fieldManager") == "kubectl-rollout"
    assert patch.content_type == "application/strategic-merge-patch+json"
    fractions = [p.fraction for p in progress.seen if p.fraction is not None]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(set(fractions)) >= 3
    assert progress.seen[-1].message == 'deployment "payment-api" successfully rolled out'
    assert not old_pods & {p["metadata"]["name"] for p in kube.pods(NS, "payment-api")}
    assert "HALF_OPEN" in outcome.message
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.SUCCEEDED,
                         Stage.VERIFIED]
    assert r.recorder.events[-1].details["verified"] == "yes"
    assert {e.target for e in r.recorder.events} == {"shop/deployment/payment-api"}


def test_restart_with_the_controller_running_on_its_own(tmp_path):
    with KubeServer(auto_step=True, tick=0.05) as kube:
        kube.add_deployment("payment-api", NS, replicas=3)
        kube.add_deployment("api", NS, replicas=3)
        path = kube.write_kubeconfig(tmp_path / "kc", namespace=NS)
        source = KubernetesCluster(kubeconfig=str(path), timeout=2.0)
        try:
            r = runner(cluster=source, sleep=time.sleep, poll_s=0.05, rollout_timeout_s=20)
            outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
        finally:
            source.close()
        assert outcome.ok and outcome.verified is True, outcome
        assert len(kube.requests_for("PATCH")) == 1


def test_restart_after_the_downstream_checks_its_health(kube, cluster):
    probe = FakeProbe(health=HEALTHY)
    r = runner(kube, cluster=cluster, probe=probe)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
    assert probe.calls == [("check", TARGET.health_url)]
    assert outcome.details["health"] == f"health check {TARGET.health_url} answered 200 in 12 ms"


def test_restart_patch_is_kubectls(kube, cluster, kubectl_bin, tmp_path):
    theirs_server = KubeServer(auto_step=False)
    theirs_server.start()
    try:
        theirs_server.add_deployment("payment-api", NS, replicas=3)
        kubectl = kubectl_runner(theirs_server, kubectl_bin, tmp_path / "kubectl")
        result = kubectl("rollout", "restart", "deployment/payment-api", "-n", NS)
        assert result.returncode == 0, result.stderr
        [theirs] = theirs_server.requests_for("PATCH")
        stamp = theirs.json()["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

        r = runner(kube, cluster=cluster, clock=FakeClock(at))
        plan = r.plan_restart(TARGET, UNHEALTHY)
        assert r.execute(plan, Progressions()).ok
        [ours] = kube.requests_for("PATCH")
        assert ours.json() == theirs.json()
        assert ours.path == theirs.path
        assert ours.param("fieldManager") == theirs.param("fieldManager")
        assert ours.content_type == theirs.content_type
        # The dialog shows what kubectl sent, byte for byte.
        assert plan.request.splitlines()[-1] == theirs.body.decode()
    finally:
        theirs_server.stop()


def test_progress_deadline_exceeded_fails(kube, cluster):
    def sleep(_: float) -> None:
        kube.step()
        kube.set_progress_deadline_exceeded(NS, "payment-api")

    r = runner(kube, cluster=cluster, sleep=sleep)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
    assert not outcome.ok
    assert outcome.message == 'deployment "payment-api" exceeded its progress deadline'
    assert len(kube.requests_for("PATCH")) == 1
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.FAILED]


def test_rollout_timeout(kube, cluster):
    r = runner(kube, cluster=cluster, sleep=lambda s: None, rollout_timeout_s=0.05)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
    assert not outcome.ok
    assert outcome.message.startswith("rollout still in progress after 0.05 s")
    assert len(kube.requests_for("PATCH")) == 1


def test_rollout_timeout_by_the_clock():
    fleet, clock = demo_fleet(30)
    r = runner(cluster=fleet.cluster, clock=clock, sleep=lambda s: clock.advance(5.0),
               poll_s=0.5, rollout_timeout_s=3)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
    assert outcome.message.startswith("rollout still in progress after 3 s")


def test_patch_refused_fails_without_retry(kube, cluster):
    kube.fail("PATCH", DEP_PATH, 403, message="nope")
    r = runner(kube, cluster=cluster)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
    assert not outcome.ok and outcome.message.startswith("forbidden: nope")
    assert len(kube.requests_for("PATCH")) == 1
    assert stages(r)[-1] is Stage.FAILED


def test_transient_read_errors_while_watching_are_retried(kube, cluster):
    calls = []

    def sleep(_: float) -> None:
        if not calls:
            kube.fail("GET", DEP_PATH, 503, times=2)
        calls.append(1)
        kube.step()

    progress = Progressions()
    r = runner(kube, cluster=cluster, sleep=sleep)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), progress)
    assert outcome.ok and outcome.verified
    retried = [p for p in progress.seen if "retrying" in p.message]
    assert len(retried) == 2 and all(p.fraction is None for p in retried)


def test_reads_failing_for_good_lose_the_rollout(kube, cluster):
    def sleep(_: float) -> None:
        kube.fail("GET", DEP_PATH, 503)

    r = runner(kube, cluster=cluster, sleep=sleep)
    outcome = r.execute(r.plan_restart(TARGET, UNHEALTHY), Progressions())
    assert not outcome.ok and outcome.message.startswith("lost sight of the rollout")
    assert len(kube.requests_for("PATCH")) == 1


def test_a_failing_progress_display_does_not_stop_the_watch(kube, cluster):
    def report(_: Progress) -> None:
        raise RuntimeError("widget gone")

    r = runner(kube, cluster=cluster)
    assert r.execute(r.plan_restart(TARGET, UNHEALTHY), report).ok


# --- fallback ------------------------------------------------------------------------------


def log_fallback_in_new_pods(kube: KubeServer, old: set[str], text: str = FALLBACK_LINE):
    def sleep(_: float) -> None:
        kube.step()
        for pod in kube.pods(NS, "api"):
            name = pod["metadata"]["name"]
            if name not in old:
                kube.set_log(NS, name, "[INFO] Starting api\n" + text)
    return sleep


def api_pods(kube: KubeServer) -> set[str]:
    return {p["metadata"]["name"] for p in kube.pods(NS, "api")}


def test_fallback_on_then_off(kube, cluster):
    r = runner(kube, cluster=cluster)
    r.sleep = log_fallback_in_new_pods(kube, api_pods(kube))
    on = ops.fallback_env("PAYMENT_API", "mock", True)
    plan = r.plan_fallback(TARGET)
    assert plan.title == "Turn fallback ON for payment-api in deployment/api (runbook Option 3)"
    assert plan.patch == ops.set_env_patch(cluster.deployment(NS, "api"), on)
    assert (plan.enable, plan.deployment, plan.field_manager) == (True, "api", "kubectl-set")
    assert "starts a rollout of deployment/api by itself" in plan.reason
    assert plan.equivalent == ("kubectl --context test-ctx -n shop set env deployment/api "
                               "PAYMENT_API_FALLBACK_ENABLED=true PAYMENT_API_FALLBACK_MODE=mock")
    assert plan.request.splitlines()[0] == (
        "PATCH /apis/apps/v1/namespaces/shop/deployments/api?fieldManager=kubectl-set")
    assert kube.requests_for("PATCH") == []

    outcome = r.execute(plan, Progressions())
    assert outcome.ok and outcome.verified is True, outcome
    assert "fallback enabled (mode=mock)" in outcome.message
    [sent] = kube.requests_for("PATCH")
    assert sent.json() == plan.patch and sent.param("fieldManager") == "kubectl-set"
    env = cluster.deployment(NS, "api").containers[0].env
    assert env["PAYMENT_API_FALLBACK_ENABLED"] == "true"

    off = r.plan_fallback(TARGET)
    assert off.enable is False and "OFF" in off.title
    assert off.patch == ops.set_env_patch(cluster.deployment(NS, "api"),
                                          ops.fallback_env("PAYMENT_API", "mock", False))
    assert off.equivalent.endswith("PAYMENT_API_FALLBACK_ENABLED- PAYMENT_API_FALLBACK_MODE-")
    outcome = r.execute(off, Progressions())
    assert outcome.ok and outcome.verified is True, outcome
    assert cluster.deployment(NS, "api").containers[0].env == {"LOG_LEVEL": "info"}
    assert len(kube.requests_for("PATCH")) == 2


def test_fallback_not_in_the_logs_is_not_verified(kube, cluster):
    r = runner(kube, cluster=cluster)
    r.sleep = log_fallback_in_new_pods(kube, api_pods(kube), "[INFO] serving\n")
    outcome = r.execute(r.plan_fallback(TARGET), Progressions())
    assert outcome.ok and outcome.verified is False
    assert "do not log fallback" in outcome.message
    assert "kubectl logs -l app=api --tail=20 | grep fallback" in outcome.message
    assert r.recorder.events[-1].stage is Stage.VERIFIED
    assert r.recorder.events[-1].details["verified"] == "no"


def test_fallback_in_old_pods_only_does_not_count(kube, cluster):
    for name in api_pods(kube):  # the old pods said it; they are gone after the rollout
        kube.set_log(NS, name, FALLBACK_LINE)
    r = runner(kube, cluster=cluster)
    outcome = r.execute(r.plan_fallback(TARGET), Progressions())
    assert outcome.verified is False


def test_fallback_on_a_paused_caller_is_refused(kube, cluster):
    kube.set_paused(NS, "api", True)
    plan = runner(kube, cluster=cluster).plan_fallback(TARGET)
    assert plan.refusal.startswith("deployment/api is paused")


# --- feature flag ----------------------------------------------------------------------------


def test_flag_disable_then_enable(flags, flagserver):
    r = runner(flags=flags)
    plan = r.plan_flag(TARGET)
    url = flagserver.url + PREFIX + FLAG
    assert (plan.action, plan.flag, plan.enable, plan.target) == ("flag", FLAG, False, url)
    assert plan.title == f"Disable feature flag {FLAG} (runbook Option 4)"
    assert plan.request.splitlines()[:5] == [
        f"POST {url}", "Authorization: Bearer ***", "Content-Type: application/json", "",
        '{"enabled":false}',
    ]
    assert plan.equivalent == flags.curl_equivalent(FLAG, False)
    assert "2026-11-27 03:00:00Z" in plan.reason
    assert flagserver.of("POST") == []

    outcome = r.execute(plan, Progressions())
    assert outcome.ok and outcome.verified is True
    [post] = flagserver.of("POST")
    assert post.json() == {"enabled": False}
    assert flagserver.flags[FLAG]["enabled"] is False
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.SUCCEEDED,
                         Stage.VERIFIED]

    again = r.plan_flag(TARGET)
    assert again.enable is True and again.title.startswith("Re-enable")
    assert r.execute(again, Progressions()).verified is True
    assert flagserver.flags[FLAG]["enabled"] is True


def test_flag_wrong_token_401(flagserver, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", "not-the-token-123")
    with HttpFlagService(flagserver.url, token_env="ADMIN_TOKEN") as svc:
        r = runner(flags=svc)
        outcome = r.execute(r.plan_flag(TARGET), Progressions())
    assert not outcome.ok
    assert outcome.message == ("the flag service rejected the token (401) "
                               "(the flag now reads enabled)")
    assert outcome.verified is False
    assert stages(r)[-1] is Stage.FAILED
    assert "not-the-token-123" not in all_text(r)


def test_flag_unknown_404(flags, flagserver):
    r = runner(flags=flags)
    plan = r.plan_flag(TARGET.model_copy(update={"flag": "nope"}))
    assert plan.refusal == 'flag "nope" not found'
    assert not r.execute(plan, Progressions()).ok
    # Gone between plan and execute.
    plan = r.plan_flag(TARGET)
    del flagserver.flags[FLAG]
    outcome = r.execute(plan, Progressions())
    assert (outcome.ok, outcome.message, outcome.verified) == (
        False, f'flag "{FLAG}" not found', None)


def test_flag_500(flags, flagserver):
    r = runner(flags=flags)
    plan = r.plan_flag(TARGET)
    flagserver.fail(500, "database down")
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok
    assert outcome.message.startswith("the flag service answered 500: database down")
    assert len(flagserver.of("POST")) == 1  # not retried
    assert flagserver.flags[FLAG]["enabled"] is True


def test_flag_token_variable_missing(flagserver, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    with HttpFlagService(flagserver.url, token_env="NO_SUCH_TOKEN") as svc:
        r = runner(flags=svc)
        outcome = r.execute(r.plan_flag(TARGET), Progressions())
    assert not outcome.ok
    assert outcome.message.startswith(
        "flag service token: environment variable NO_SUCH_TOKEN is not set")
    assert flagserver.of("POST") == []


def test_flag_read_back_disagreeing_fails(flags, flagserver):
    flagserver.ignore_posts = True
    r = runner(flags=flags)
    outcome = r.execute(r.plan_flag(TARGET), Progressions())
    assert not outcome.ok and outcome.verified is False
    assert outcome.message.startswith(f"flag {FLAG} still enabled after the change")


def test_no_flag_service():
    plan = runner(flags_unavailable="no flag service: give --flags-url").plan_flag(TARGET)
    assert plan.refusal == "no flag service: give --flags-url"


# --- modes -------------------------------------------------------------------------------------


def test_read_only_refuses_every_mutating_plan_and_sends_nothing(kube, cluster, flags,
                                                                 flagserver):
    probe = FakeProbe(SmokeResult(url=TARGET.smoke_url, sent=100, succeeded=100,
                                  p50_ms=10, p95_ms=20))
    r = runner(kube, cluster=cluster, flags=flags, probe=probe, mode=Mode.READ_ONLY)
    plans = [r.plan_restart(TARGET, UNHEALTHY), r.plan_fallback(TARGET), r.plan_flag(TARGET)]
    for plan in plans + [plans[0].alternative]:
        assert plan.refusal == READ_ONLY_REFUSAL, plan.title
        outcome = r.execute(plan, Progressions())
        assert not outcome.ok and outcome.message == f"refused: {READ_ONLY_REFUSAL}"
    smoke = r.plan_smoke(TARGET)
    assert smoke.refusal is None and r.execute(smoke, Progressions()).ok
    assert mutating(kube, flagserver) == []

    # Plans from a live runner: still refused, before any request at all.
    live = runner(kube, cluster=cluster, flags=flags)
    plans = [live.plan_restart(TARGET, UNHEALTHY), live.plan_fallback(TARGET),
             live.plan_flag(TARGET)]
    kube.clear()
    flagserver.requests.clear()
    for plan in plans:
        assert not r.execute(plan, Progressions()).ok
    assert kube.requests == [] and flagserver.requests == []


def test_dry_run_sends_nothing_and_says_so(kube, cluster, flags, flagserver):
    r = runner(kube, cluster=cluster, flags=flags, mode=Mode.DRY_RUN)
    for plan in (r.plan_restart(TARGET, UNHEALTHY), r.plan_fallback(TARGET),
                 r.plan_flag(TARGET)):
        assert plan.refusal is None
        outcome = r.execute(plan, Progressions())
        assert outcome.ok and outcome.verified is None
        assert outcome.message == f"dry run: nothing sent; equivalent: {plan.equivalent}"
    assert mutating(kube, flagserver) == []
    assert Stage.SENT not in stages(r)
    assert [e.details.get("dry_run") for e in r.recorder.events
            if e.stage is Stage.SUCCEEDED] == ["true"] * 3


# --- smoke ---------------------------------------------------------------------------------------


def test_smoke_runs_the_probe_and_reports():
    probe = FakeProbe(SmokeResult(url=TARGET.smoke_url, sent=100, succeeded=97, p50_ms=12.4,
                                  p95_ms=80.0, failures={"503": 2, "timeout": 1}))
    r = runner(probe=probe)
    plan = r.plan_smoke(TARGET, requests=50)
    assert (plan.mutating, plan.refusal, plan.url) == (False, None, TARGET.smoke_url)
    assert "one at a time" in plan.equivalent and "seq 50" in plan.equivalent
    outcome = r.execute(plan, Progressions())
    assert probe.calls == [("smoke", TARGET.smoke_url, 50, 10)]
    assert outcome.ok and outcome.verified is None
    assert outcome.details == {"sent": "100", "succeeded": "97", "success_percent": "97.0",
                               "p50_ms": "12", "p95_ms": "80", "failures": "503: 2, timeout: 1"}
    assert "the runbook expects 100%" in outcome.message
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.SUCCEEDED]


def test_smoke_without_url_or_probe_is_refused():
    target = TARGET.model_copy(update={"smoke_url": None})
    plan = runner(probe=FakeProbe()).plan_smoke(target)
    assert plan.refusal.startswith("no smoke_url for payment-api in the service map: set smoke_url "
                                  "under [services.payment-api]")
    assert runner().plan_smoke(TARGET).refusal is not None


# --- the record ----------------------------------------------------------------------------------


def all_text(r: ActionRunner) -> str:
    return "\n".join(e.model_dump_json() for e in r.recorder.events)


def test_cancel_is_recorded(kube, cluster):
    r = runner(kube, cluster=cluster)
    r.cancel(r.plan_restart(TARGET, UNHEALTHY))
    assert stages(r) == [Stage.ASKED, Stage.CANCELLED]
    assert kube.requests_for("PATCH") == []


def test_no_token_in_any_event_or_plan(kube, cluster, flags, flagserver):
    r = runner(kube, cluster=cluster, flags=flags)
    r.sleep = log_fallback_in_new_pods(kube, api_pods(kube))
    plans = [r.plan_flag(TARGET), r.plan_restart(TARGET, UNHEALTHY), r.plan_fallback(TARGET)]
    for plan in plans:
        r.execute(plan, Progressions())
    flagserver.fail(401, f"bad token {TOKEN}")  # even a server echoing it back
    r.execute(r.plan_flag(TARGET), Progressions())
    assert flagserver.of("POST")[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in all_text(r)
    assert not any(TOKEN in repr(p) for p in plans)
    for event in r.recorder.events:
        assert all(isinstance(v, str) for v in event.details.values())


def test_execute_from_threads_at_once(kube, cluster, flags, flagserver):
    r = runner(kube, cluster=cluster, flags=flags)
    plans = [r.plan_restart(TARGET, UNHEALTHY), r.plan_flag(TARGET)]
    outcomes = {}

    def run(plan: Plan) -> None:
        outcomes[plan.action] = r.execute(plan, Progressions())

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes["restart"].ok and outcomes["flag"].ok


# --- the demo fleet, end to end -----------------------------------------------------------------


def demo_fleet(seconds: float) -> tuple[DemoFleet, FakeClock]:
    clock = FakeClock(T0)
    fleet = DemoFleet(seed=7, clock=clock)
    for _ in range(int(seconds)):
        clock.advance(1.0)
        fleet.poll()
    return fleet, clock


def demo_runner(fleet: DemoFleet, clock: FakeClock, **kw) -> ActionRunner:
    kw.setdefault("poll_s", 0.5)
    return runner(cluster=fleet.cluster, flags=fleet.flags, clock=clock, context="demo-cluster",
                  sleep=lambda s: clock.advance(s), **kw)


def test_demo_restart_keeps_the_bad_revision_and_the_rollback_closes_its_breakers():
    """A restart does not undo revision 14's pool settings: its new pods are
    ready (the restart is verified) yet fail; the rollback to 13 ends it."""
    fleet, clock = demo_fleet(30)
    assert fleet.poll().service("payment-api").state is S.OPEN
    status, latency = fleet.health("payment-api")
    seen = HealthResult(url=TARGET.health_url, checked_at=clock(), status=status,
                        latency_ms=latency)
    r = demo_runner(fleet, clock)
    plan = r.plan_restart(TARGET, seen)
    assert plan.deployment == "payment-api" and plan.refusal is None
    assert "answered 503" in plan.reason
    outcome = r.execute(plan, Progressions())
    assert outcome.ok and outcome.verified is True, outcome
    assert fleet.health("payment-api")[0] == 503
    for _ in range(90):
        clock.advance(1.0)
        assert fleet.poll().service("payment-api").state is not S.CLOSED

    # Diagnosed again: revision 14 is still the LIKELY CAUSE (15 is the restart's).
    from console.diagnosis.gather import gather

    diagnosis = gather(TARGET, cluster=fleet.cluster, probe=fleet.probe, flags=fleet.flags,
                       breaker=fleet.poll().service("payment-api"), now=clock())
    undo = r.plan("rollback", TARGET, diagnosis)
    assert undo.title == "Roll back deployment/payment-api: revision 15 -> revision 13", undo.title
    outcome = r.execute(undo, Progressions())
    assert outcome.ok and outcome.verified is True, outcome
    assert fleet.health("payment-api")[0] == 200
    states = []
    for _ in range(120):
        clock.advance(1.0)
        snap = fleet.poll()
        states += [t.to_state for t in snap.transitions if t.service == "payment-api"]
        if snap.service("payment-api").state is S.CLOSED:
            break
    assert S.HALF_OPEN in states and S.CLOSED in states
    assert states.index(S.HALF_OPEN) < states.index(S.CLOSED)
    assert fleet.poll().service("payment-api").split == (3, 3)


def test_demo_fallback_is_verified_by_the_new_pods_logs():
    fleet, clock = demo_fleet(30)
    r = demo_runner(fleet, clock, verify_timeout_s=10)
    plan = r.plan_fallback(TARGET)
    assert plan.enable is True
    outcome = r.execute(plan, Progressions())
    assert outcome.ok and outcome.verified is True, outcome
    assert "fallback" in outcome.details["check"]


def test_demo_flags_show_the_runbooks_url():
    fleet, clock = demo_fleet(1)
    r = demo_runner(fleet, clock)
    plan = r.plan_flag(TARGET)
    assert plan.target == f"http://feature-flags:8080{PREFIX}{FLAG}"
    assert plan.equivalent.startswith(f"curl -X POST http://feature-flags:8080{PREFIX}{FLAG} ")
    assert "demo flags has no URL" in plan.details["note"]
    outcome = r.execute(plan, Progressions())
    assert outcome.ok and outcome.verified is True
    assert fleet.flags.get_flag(FLAG).enabled is False
    assert clock() - T0 == timedelta(seconds=1)
