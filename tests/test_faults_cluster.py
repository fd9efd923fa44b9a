"""The fault matrix, mitigation side: the Kubernetes API test server and the
flag test server behind tests/faultproxy.py. Whatever the fault, the
outcome is FAILED in plain words, the mutating request is sent exactly once
(never retried blindly: the proxy and the servers' logs say how many), and
where the answer was lost after the request went out, the operator is told
whether the change landed. Status-code errors are in test_actions.py and
test_mitigation_ui.py; a rollout that never completes is in test_actions.py
(test_progress_deadline_exceeded_fails, test_rollout_timeout) and, as the
operator sees it, here.
"""

from __future__ import annotations

import json

import pytest

from console.ui.app import CBConsoleApp
from console.mitigations.recorder import Stage
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.flags import HttpFlagService
from console.sources.kube import KubernetesCluster
from tests.fakes import ScriptedSource, clock, service
from tests.faultproxy import FaultProxy
from tests.kubeserver import KubeServer
from tests.runners import (
    FLAG,
    NS,
    TARGET,
    TOKEN,
    UNHEALTHY,
    Progressions,
    runner,
    stages,
)
from tests.screen import settle, log_text

pytestmark = [pytest.mark.ui, pytest.mark.integration]

TIMEOUT = 0.5
DEP = "payment-api"


@pytest.fixture
def kube():
    with KubeServer(auto_step=False) as server:
        server.add_deployment("api", NS, replicas=2, env={"LOG_LEVEL": "info"})
        server.add_deployment(DEP, NS, replicas=2)
        yield server


@pytest.fixture
def kproxy(kube):
    with FaultProxy("127.0.0.1", kube.port) as proxy:
        yield proxy


@pytest.fixture
def cluster(kube, kproxy, tmp_path):
    source = proxied_cluster(kube, kproxy, tmp_path, TIMEOUT)
    yield source
    source.close()


@pytest.fixture
def patient_cluster(kube, kproxy, tmp_path):
    """For faults that are not stalls (a reset, a rollout that never ends):
    a short timeout would only fire first on a loaded machine."""
    source = proxied_cluster(kube, kproxy, tmp_path, 30.0)
    yield source
    source.close()


def proxied_cluster(kube, kproxy, tmp_path, timeout: float) -> KubernetesCluster:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    config = json.loads(path.read_text())
    config["clusters"][0]["cluster"]["server"] = kproxy.url  # through the proxy
    path.write_text(json.dumps(config))
    return KubernetesCluster(kubeconfig=str(path), timeout=timeout)


@pytest.fixture
def flags(fproxy, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    service = HttpFlagService(fproxy.url, token_env="ADMIN_TOKEN", timeout=TIMEOUT)
    yield service
    service.close()


# --- Kubernetes --------------------------------------------------------------------------

NOT_APPLIED = f"; deployment/{DEP} does not have the change: nothing was applied"
APPLIED = (f"; the change did reach deployment/{DEP}: do not send it again, "
           f"follow `kubectl rollout status deployment/{DEP}`")


@pytest.mark.parametrize(
    "mode, words, reached",
    [
        # The request went out and was acted on; only the answer was lost.
        ("reset", "connection reset" + APPLIED, 1),
        # Swallowed: never reached the API server, never answered.
        ("stall", f"no answer within {TIMEOUT:g} s" + NOT_APPLIED, 0),
        ("garbage", "it answered something that is not HTTP" + NOT_APPLIED, 0),
    ],
    ids=["reset", "stall", "garbage"],
)
def test_restart_patch_fault_fails_once_and_says_whether_it_landed(
        kube, kproxy, cluster, mode, words, reached):
    r = runner(kube, cluster=cluster)
    plan = r.plan_restart(TARGET, UNHEALTHY)
    kproxy.set(mode, only=("PATCH",))  # the read before it still passes
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok
    assert outcome.message == f"API server at {kproxy.url} unreachable: {words}"
    assert len(kproxy.requests(method="PATCH")) == 1  # attempted once, never retried
    assert len(kube.requests_for("PATCH")) == reached
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.FAILED]
    assert r.recorder.events[-1].details["applied"] == ("yes" if reached else "no")


def test_fallback_patch_reset_says_it_landed(kube, kproxy, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan_fallback(TARGET)
    kproxy.set("reset", only=("PATCH",))
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok
    assert outcome.message == (f"API server at {kproxy.url} unreachable: connection reset; "
                               "the change did reach deployment/api: do not send it again, "
                               "follow `kubectl rollout status deployment/api`")
    assert len(kube.requests_for("PATCH")) == len(kproxy.requests(method="PATCH")) == 1


def test_cluster_refusing_fails_before_anything_is_sent(kube, kproxy, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan_restart(TARGET, UNHEALTHY)
    kproxy.set("refuse")
    outcome = r.execute(plan, Progressions())
    assert outcome.message == (f"nothing sent: API server at {kproxy.url} unreachable: "
                               "connection refused")
    assert kproxy.requests(method="PATCH") == [] and kube.requests_for("PATCH") == []
    assert stages(r)[-1] is Stage.FAILED and Stage.SENT not in stages(r)


@pytest.mark.parametrize("mode, words", [
    ("refuse", "connection refused"),
    ("stall", f"no answer within {TIMEOUT:g} s"),
    ("garbage", "it answered something that is not HTTP"),
], ids=["refuse", "stall", "garbage"])
def test_cluster_faults_while_planning_refuse_the_plan(kube, kproxy, cluster, mode, words):
    kproxy.set(mode)
    plan = runner(kube, cluster=cluster).plan_restart(TARGET, UNHEALTHY)
    assert plan.refusal == f"API server at {kproxy.url} unreachable: {words}"
    assert kube.requests_for("PATCH") == []


# --- Flags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, words, reached, now",
    [
        ("reset", "connection reset", 1, "disabled"),
        ("stall", f"no answer within {TIMEOUT:g}s", 0, "enabled"),
        ("garbage", "it answered something that is not HTTP", 0, "enabled"),
    ],
    ids=["reset", "stall", "garbage"],
)
def test_flag_post_fault_fails_once_and_reads_the_flag_back(
        flags, flagserver, fproxy, mode, words, reached, now):
    r = runner(flags=flags)
    plan = r.plan_flag(TARGET)
    fproxy.set(mode, only=("POST",))  # the read back still passes
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok
    assert outcome.message == (f"flag service at {fproxy.url} unreachable: {words} "
                               f"(the flag now reads {now})")
    assert outcome.verified is (now == "disabled")
    assert len(fproxy.requests(method="POST")) == 1
    assert len(flagserver.of("POST")) == reached
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.FAILED]
    assert TOKEN not in outcome.message


def test_flag_service_refusing(flags, flagserver, fproxy):
    r = runner(flags=flags)
    plan = r.plan_flag(TARGET)
    fproxy.set("refuse")
    outcome = r.execute(plan, Progressions())
    assert outcome.message == f"flag service at {fproxy.url} unreachable: connection refused"
    assert fproxy.requests(method="POST") == [] and flagserver.of("POST") == []
    fproxy.clear()  # and it works again on the next try
    assert r.execute(r.plan_flag(TARGET), Progressions()).ok
    assert len(flagserver.of("POST")) == 1


# --- As the operator sees it -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["reset", "deadline"])
async def test_restart_fault_in_the_console(kube, kproxy, patient_cluster, fault):
    """A reset PATCH, and a rollout that never completes: FAILED in the
    action log with the reason, one PATCH, the console still running."""
    c = clock()

    def sleep(_: float) -> None:  # the runner's wait between rollout checks
        kube.step()
        if fault == "deadline":
            kube.set_progress_deadline_exceeded(NS, DEP)

    app = CBConsoleApp(
        ScriptedSource(c, [service(DEP, "open", "open")]), cluster=patient_cluster,
        service_map=ServiceMap({DEP: ServiceEntry()}, namespace=NS),
        poll_interval=3600, clock=c, sleep=sleep,
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert app.screen.plan.deployment == DEP
        if fault == "reset":
            kproxy.set("reset", only=("PATCH",))
        await pilot.press("y")
        await settle(app, pilot)
        text = " ".join(log_text(app).split())
        if fault == "reset":
            assert "unreachable: connection reset; the change did reach" in text, text
        else:
            assert f'deployment "{DEP}" exceeded its progress deadline' in text, text
        assert app.mitigations.recorder.events[-1].stage is Stage.FAILED
        assert len(kube.requests_for("PATCH")) == 1
        assert app.is_running and not app.mitigations.in_flight
