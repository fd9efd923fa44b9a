"""Issue 12, "the diagnosis says only what it checked": what the diagnosis
pane, the NEXT line, the restart dialog and the smoke dialog say when a
source could not be read, when the health check got no answer from here,
when a rollout is the likely cause; dates on old rollouts; the demo's smoke
test through the caller, with a command a shell runs as shown."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.diagnosis.decide import next_step
from console.ui.keys import MITIGATION_KEYS as KEYS  # the keys the pane names
from console.diagnosis.findings import RevisionView, WorkloadView
from console.model.kubectl import RolloutStatus
from console.model.fleet import BreakerState as S
from console.model.fleet import Pod, Revision
from console.model.probe import HealthResult
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.flags import HttpFlagService
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from screenshots.scenes import SCENES, build
from tests.demofleet import FALLBACK_ON, wait_rollout
from tests.fakes import ScriptedSource, clock, service
from tests.kubeserver import KubeServer
from tests.screen import diagnose, flat, left_pane, log_column, screen_text, settle
from widgets import text as fmt
from widgets.confirm import ConfirmDialog

#: The keys the console binds to the mitigations (the next step names them).

pytestmark = [pytest.mark.ui, pytest.mark.integration]

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
NO_KUBECONFIG = "no kubeconfig found (KUBECONFIG unset, ~/.kube/config missing)"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_kubeconfig(tmp_path) -> tuple[str, str]:
    """A kubeconfig whose API server address is a closed loopback port, and that address."""
    with KubeServer() as server:
        path = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
    config = json.loads(path.read_text())
    url = config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{closed_port()}"
    path.write_text(json.dumps(config))
    return str(path), url


# --- 1. a source that could not be read says so -------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("where", ["no-kubeconfig", "refused"])
async def test_unread_sources_say_not_read_never_no_matching_line(where, tmp_path):
    c = clock()
    cluster, why = None, NO_KUBECONFIG
    if where == "refused":
        kubeconfig, url = refused_kubeconfig(tmp_path)
        cluster = KubernetesCluster(kubeconfig=kubeconfig, timeout=2)
        why = f"API server at {url} unreachable: connection refused"
    flags = HttpFlagService(f"http://127.0.0.1:{closed_port()}", token_env="NO_SUCH_TOKEN_ENV",
                            timeout=1)
    smap = ServiceMap({"payment-api": ServiceEntry(
        health_url=f"http://127.0.0.1:{closed_port()}/health",
        dependencies=["postgres:5432"])}, namespace="shop")
    app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open")]), cluster=cluster,
                       cluster_unavailable="" if cluster else NO_KUBECONFIG, flags=flags,
                       probe=HttpProbe(timeout=1), service_map=smap, poll_interval=3600, clock=c)
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            await diagnose(app, pilot)
            logs, findings = log_column(app), left_pane(app)
            assert "no matching line" not in logs
            assert logs.count(f"logs not read: {why}") == 2, logs  # downstream and caller
            assert f"pods not read: {why}" in findings
            assert f"rollout history not read: {why}" in findings
            assert f"deployment not read: {why}" in findings
            assert f"postgres:5432 not checked: {why}" in findings
            assert "FLAG payment-api-integration not read: flag service at http://127.0.0.1:" \
                in findings
            assert f"FALLBACK not read: {why}" in findings
    finally:
        if cluster is not None:
            cluster.close()
        flags.close()


@pytest.mark.slow
async def test_no_pod_to_read_logs_from_is_not_no_matching_line(tmp_path):
    with KubeServer() as kube:
        kube.add_deployment("payment-api", "shop", replicas=0)
        kube.add_deployment("api", "shop", replicas=1)
        c = clock()
        cluster = KubernetesCluster(
            kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace="shop")), timeout=2)
        app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open")]), cluster=cluster,
                           service_map=ServiceMap(namespace="shop"), poll_interval=3600, clock=c)
        try:
            async with app.run_test(size=(200, 60)) as pilot:
                await diagnose(app, pilot)
                logs = log_column(app)
                assert "logs not read: no payment-api pod to read from" in logs
                assert logs.count("no matching line") == 1  # the caller's were read
        finally:
            cluster.close()


# --- 2. no answer from here is "health unknown from here" --------------------------

TARGET = ServiceMap(namespace="shop").target("payment-api")
OPENED = T0 - timedelta(minutes=10)


def health(status=None, error=None) -> HealthResult:
    return HealthResult(url=TARGET.health_url, checked_at=T0, status=status, error=error)


def view(role="downstream", name="payment-api", revisions=(), ready=True) -> WorkloadView:
    pod = Pod(namespace="shop", name=f"{name}-1", ready=ready, created_at=T0 - timedelta(days=1))
    return WorkloadView(role=role, name=name, pods=(pod,), revisions=revisions,
                        rollout=RolloutStatus(True, False, "successfully rolled out", 1.0))


def decide(h, downstream=None):
    return next_step(TARGET, state=S.OPEN, open_for=timedelta(minutes=10), health=h,
                     downstream=downstream or view(), caller=view("caller", "api"),
                     fallback_on=False, flag=None, opened_at=OPENED)


@pytest.mark.parametrize("error", ["host name does not resolve", "connection refused",
                                   "no answer within 2 s"])
def test_no_answer_from_here_is_health_unknown_not_failing(error):
    assert health(error=error).healthy is None
    step = decide(health(error=error))
    assert (step.option, step.mitigation) == (None, None)
    assert "is failing" not in step.text(KEYS) and "restart" not in step.text(KEYS)
    assert f"payment-api health unknown from here ({error})" in step.text(KEYS)
    assert "health_url" in step.text(KEYS) and "[services.payment-api]" in step.text(KEYS)


def test_an_http_answer_is_still_evidence():
    assert health(503).healthy is False
    step = decide(health(503))
    assert (step.option, step.mitigation) == (2, "restart") and "health 503" in step.text(KEYS)
    # Other evidence still counts when health is unknown from here.
    step = decide(health(error="connection refused"), view(ready=False))
    assert step.option == 2 and "no pod ready" in step.text(KEYS)


@pytest.mark.slow
@pytest.mark.parametrize("url", ["default", "refused"])
async def test_default_health_url_outside_the_cluster(url, tmp_path):
    with KubeServer() as kube:
        kube.add_deployment("payment-api", "shop", replicas=2)
        kube.add_deployment("api", "shop", replicas=2)
        entries = {} if url == "default" else {"payment-api": ServiceEntry(
            health_url=f"http://127.0.0.1:{closed_port()}/health")}
        c = clock()
        cluster = KubernetesCluster(
            kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace="shop")), timeout=2)
        app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open")]), cluster=cluster,
                           probe=HttpProbe(timeout=1),
                           service_map=ServiceMap(entries, namespace="shop"),
                           poll_interval=3600, clock=c)
        try:
            async with app.run_test(size=(200, 60)) as pilot:
                await diagnose(app, pilot)
                findings = left_pane(app)
                assert "payment-api health unknown from here" in findings
                assert "is failing" not in findings and "FAILING" not in findings
                assert "restart the downstream" not in findings
                assert "set health_url" in findings

                await pilot.press("r")
                await settle(app, pilot)
                box = app.screen
                assert isinstance(box, ConfirmDialog)
                assert "is failing" not in box.plan.reason
                assert "health unknown from here" in box.plan.reason
                assert "Nothing shows payment-api failing either:" in box.plan.reason
                assert "health unknown from here" in flat(screen_text(app))
                await pilot.press("escape")
                await settle(app, pilot)
        finally:
            cluster.close()


# --- 3. a likely-cause rollout: roll it back first ---------------------------------


def revisions(*entries) -> tuple[RevisionView, ...]:
    newest = max(n for n, _, _ in entries)
    return tuple(RevisionView(Revision(revision=n, replicaset=f"payment-api-{n}",
                                          created_at=OPENED - ago), n == newest, likely)
                 for n, ago, likely in entries)


def test_likely_cause_rollout_is_rolled_back_first():
    down = view(revisions=revisions((12, timedelta(days=9), False),
                                    (13, timedelta(days=2), False),
                                    (14, timedelta(minutes=4), True)))
    step = decide(health(503), down)
    command = "kubectl rollout undo deployment/payment-api -n shop --to-revision=13"
    assert command in step.text(KEYS)
    assert step.text(KEYS).index("roll back") < step.text(KEYS).index("restart")
    assert step.text(KEYS).startswith("roll back deployment/payment-api")
    assert step.mitigation == "rollback"  # u: the rollback mitigation does it


def test_a_rollout_already_rolled_back_is_not_rolled_back_again():
    # kubectl rollout undo gives the old ReplicaSet a new number: 13 is now 15.
    down = view(revisions=revisions((12, timedelta(days=9), False),
                                    (14, timedelta(minutes=4), True),
                                    (15, timedelta(days=2), False)))
    step = decide(health(503), down)
    assert "rollout undo" not in step.text(KEYS)
    assert step.option == 2


@pytest.mark.slow
async def test_demo_next_line_names_the_rollback_first():
    app, run_before = build(SCENES["diagnosis"])
    async with app.run_test(size=(160, 50)) as pilot:
        await run_before(pilot)
        findings = left_pane(app)
        start = findings.index("NEXT ", findings.index("gathered"))
        nxt = findings[start:findings.index("HEALTH", start)]
        # With the console's context, as the dialogs' commands have it.
        assert ("kubectl --context demo-cluster rollout undo deployment/payment-api -n shop "
                "--to-revision=13" in nxt), nxt
        assert nxt.index("roll back") < nxt.index("restart")


@pytest.mark.slow
async def test_restart_dialog_names_the_rollback_first():
    app, run_before = build(SCENES["restart-dialog"])
    async with app.run_test(size=(160, 50)) as pilot:
        await run_before(pilot)
        box = app.screen
        assert isinstance(box, ConfirmDialog)
        assert box.plan.deployment == "payment-api" and "503" in box.plan.reason
        assert ("A restart does not undo a deploy (its new pods run the same template): "
                "roll back first: u (`kubectl --context demo-cluster rollout undo "
                "deployment/payment-api -n shop --to-revision=13`).") in box.plan.reason
        assert "first: u (`kubectl" in flat(screen_text(app))  # wrapped after "roll back"


# --- 4. dates on rollouts not made today ------------------------------------------


@pytest.mark.slow
async def test_rollout_history_shows_the_date_unless_today():
    app, run_before = build(SCENES["diagnosis"])
    async with app.run_test(size=(160, 50)) as pilot:
        await run_before(pilot)
        findings = left_pane(app)
        assert "13 2026-11-25 09:00:00 (2d00h ago)" in findings
        assert "14* 08:56:00 (4m42s ago)" in findings


def test_date_follows_the_operator_zone():
    now = datetime(2026, 11, 27, 9, 0, 42, tzinfo=timezone.utc)
    at = datetime(2026, 11, 27, 8, 56, tzinfo=timezone.utc)
    try:
        assert fmt.clock_or_date(at, now) == "08:56:00"
        fmt.set_zone("Pacific/Gambier")  # UTC-9: 23:56 the day before, now 00:00:42
        assert fmt.clock_or_date(at, now) == "2026-11-26 23:56:00"
    finally:
        fmt.set_zone("UTC")


# --- 5. the smoke test: the runbook's endpoint through the caller ------------------


def test_demo_smoke_url_is_the_runbooks_endpoint_through_the_caller():
    smap = demo_service_map()
    assert smap.target("payment-api").smoke_url == "http://api.shop.svc:8080/api/v1/payments"
    assert smap.target("inventory-svc").smoke_url == "http://checkout.shop.svc:8080/api/v1/stock"


def fleet_at(seconds: float) -> tuple[DemoFleet, FakeClock]:
    c = FakeClock(T0)
    fleet = DemoFleet(clock=c)
    c.advance(seconds)
    fleet.poll()
    return fleet, c


def test_demo_smoke_through_the_caller_follows_its_breaker():
    url = demo_service_map().target("payment-api").smoke_url
    fleet, _ = fleet_at(2)  # before the fault: payment-api healthy, breaker closed
    assert fleet.probe.smoke(url).succeeded >= 98
    fleet, c = fleet_at(42)  # the breaker is open on every api pod: 503s
    assert fleet.poll().service("payment-api").state is S.OPEN
    broken = fleet.probe.smoke(url)
    assert broken.succeeded == 0 and broken.failures == {"503": 100}
    rng = fleet.rng.getstate()
    assert fleet.probe.smoke(url) == broken and fleet.rng.getstate() == rng  # only looks
    fleet.cluster.patch_deployment("shop", "api", FALLBACK_ON, "kubectl-set")
    wait_rollout(fleet, c, "api")  # new api pods, fallback on
    assert fleet.probe.smoke(url).succeeded == 100


@pytest.mark.slow
async def test_smoke_dialog_command_runs_in_a_shell_as_shown():
    app, run_before = build(SCENES["smoke-dialog"])
    async with app.run_test(size=(160, 50)) as pilot:
        await run_before(pilot)
        box = app.screen
        assert isinstance(box, ConfirmDialog)
        shown = box.query_one("#dialog-request").content.plain
        assert "GET http://api.shop.svc:8080/api/v1/payments, 100 times" in shown
        command = shown.split("Same as\n", 1)[1].strip()
        assert "\\" not in command
        assert subprocess.run(["bash", "-n", "-c", command]).returncode == 0
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.wordchars += ":$"  # URLs and $(...) as the shell reads them
        words = list(lexer)
        loop = ["do", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                "http://api.shop.svc:8080/api/v1/payments", ";", "echo", ";", "done"]
        assert words[:3] == ["for", "i", "in"] and "seq" in words and "100" in words
        assert words[words.index("do"):] == loop, words
