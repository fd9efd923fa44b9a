"""A total deadline on every request: a server that trickles its answer a
byte at a time (tests/faultproxy.py's trickle, each byte well within the read
timeout) no longer holds a poll, a diagnosis read or an action as long as
bytes come. In front of a real Prometheus, the Kubernetes API test server
and the flag test server."""

from __future__ import annotations

import json
import logging

import pytest

from console.ui.app import CBConsoleApp
from console.diagnosis.findings import EXEC_TIMEOUT
from console.errors import TimedOut
from console.mitigations.recorder import Stage
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.flags import HttpFlagService
from console.sources.kube import KubernetesCluster
from console.sources.prometheus.source import PrometheusSource, Unreachable
from tests.fakes import ScriptedSource, clock, service
from tests.faultproxy import FaultProxy
from tests.kubeserver import KubeServer
from tests.fxprom import header
from tests.runners import FLAG, NS, TARGET, TOKEN, UNHEALTHY, Progressions, runner
from tests.screen import diagnose, left_pane, log_column, log_text, row, settle, wait_until
from widgets.board import BreakerBoard

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

INTERVAL = 0.3
TIMEOUT = 5.0  # per read: a trickled byte always comes well within it
DEADLINE = 1.5  # a poll's total


def trickling(proxy: FaultProxy, **which) -> None:
    """One byte every 0.05 s: the headers alone take seconds, no read waits
    long. `which`: FaultProxy.set's only= / path=."""
    proxy.trickle_bytes, proxy.trickle_interval = 1, 0.05
    proxy.set("trickle", **which)


@pytest.fixture
def proxy(fx_prometheus):
    with FaultProxy("127.0.0.1", fx_prometheus.port) as p:
        yield p


# --- Prometheus -----------------------------------------------------------------------


async def test_trickling_prometheus_makes_the_board_stale_timed_out(proxy):
    source = PrometheusSource(proxy.url, backfill_minutes=5, timeout=TIMEOUT,
                              deadline=DEADLINE)
    app = CBConsoleApp(source, poll_interval=INTERVAL)
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        await wait_until(pilot, lambda: "OPEN" in row(board, "fx-pay"), "first board")
        trickling(proxy)
        await wait_until(pilot, lambda: proxy.requests(mode="trickle"), "a trickled request")

        # The keys answer while the poll hangs: the cursor moves, help opens.
        first = app.selection.service()
        await pilot.press("down")
        assert app.selection.service() != first
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: not app.screen.query(BreakerBoard), "the help screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.query(BreakerBoard), "back on the board")

        reason = f"Prometheus at {proxy.url} timed out after {DEADLINE:g} s"
        await wait_until(pilot, lambda: f" STALE  {reason}" in header(app),
                         "STALE, timed out")
        # The last good board stays, marked stale.
        assert board.has_class("-stale") and "OPEN" in row(board, "fx-pay")

        proxy.clear()
        await wait_until(pilot, lambda: "STALE" not in header(app)
                         and "last poll failed" not in header(app), "recovery")
        assert app.is_running


def test_a_trickled_poll_is_a_typed_timeout_and_logs_no_traceback(proxy, caplog):
    source = PrometheusSource(proxy.url, backfill_minutes=5, timeout=TIMEOUT,
                              deadline=DEADLINE)
    source.poll()
    trickling(proxy)
    with pytest.raises(TimedOut) as err:
        source.poll()
    assert str(err.value) == f"Prometheus at {proxy.url} timed out after {DEADLINE:g} s"
    assert err.value.seconds == DEADLINE and isinstance(err.value, Unreachable)
    # The answer cut off mid-headers is ours to cut: urllib3 does not log a
    # traceback about its headers (printed on a terminal by `cbconsole export`).
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    proxy.clear()
    assert source.poll().services  # and the next poll works


def test_the_poll_deadline_is_the_interval_at_least_twice_the_timeout():
    from console.config import Config

    assert Config().poll_deadline_s == 10.0  # 2 s polls, 5 s timeout
    assert Config(poll_interval_s=30).poll_deadline_s == 30.0
    assert Config(prometheus={"deadline_s": 3}).poll_deadline_s == 3.0


# --- The Kubernetes API -------------------------------------------------------------------

DEP = "payment-api"
KUBE_DEADLINE = 1.0


@pytest.fixture
def kube():
    with KubeServer(auto_step=False) as server:
        server.add_deployment("api", NS, replicas=2)
        server.add_deployment(DEP, NS, replicas=2,
                              env={"LOG_LEVEL": "info"})
        yield server


@pytest.fixture
def kproxy(kube):
    with FaultProxy("127.0.0.1", kube.port) as proxy:
        yield proxy


@pytest.fixture
def cluster(kube, kproxy, tmp_path):
    """Through the proxy; reads wait up to TIMEOUT for a byte, a request
    KUBE_DEADLINE in all."""
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    config = json.loads(path.read_text())
    config["clusters"][0]["cluster"]["server"] = kproxy.url
    path.write_text(json.dumps(config))
    source = KubernetesCluster(kubeconfig=str(path), timeout=TIMEOUT, deadline=KUBE_DEADLINE)
    yield source
    source.close()


async def test_restart_whose_answer_trickles_is_sent_once_and_read_back(kube, kproxy, cluster):
    c = clock()
    app = CBConsoleApp(
        ScriptedSource(c, [service(DEP, "open", "open")]), cluster=cluster,
        service_map=ServiceMap({DEP: ServiceEntry()}, namespace=NS),
        poll_interval=3600, clock=c, sleep=lambda _: kube.step(),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert app.screen.plan.deployment == DEP
        trickling(kproxy, only=("PATCH",))  # the reads, the read-back too, pass
        await pilot.press("y")
        await wait_until(pilot, lambda: app.mitigations.recorder.events
                         and app.mitigations.recorder.events[-1].stage is Stage.FAILED, "the restart failed")
        await settle(app, pilot)
        text = " ".join(log_text(app).split())
        assert (f"API server at {kproxy.url} timed out after {KUBE_DEADLINE:g} s; the change "
                f"did reach deployment/{DEP}: do not send it again") in text, text
        assert app.mitigations.recorder.events[-1].details["applied"] == "yes"
        assert len(kube.requests_for("PATCH")) == 1  # sent once, never again
        patch_at = max(i for i, r in enumerate(kube.requests_for()) if r.method == "PATCH")
        assert any(r.method == "GET" for r in kube.requests_for()[patch_at + 1:])  # read back
        assert app.is_running and not app.mitigations.in_flight


def test_fallback_patch_that_trickles_is_read_back(kube, kproxy, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan_fallback(TARGET)
    trickling(kproxy, only=("PATCH",))
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok
    assert outcome.message.startswith(
        f"API server at {kproxy.url} timed out after {KUBE_DEADLINE:g} s; the change did "
        "reach deployment/api")
    assert len(kube.requests_for("PATCH")) == len(kproxy.requests(method="PATCH")) == 1


@pytest.mark.parametrize("part", ["/log", "/exec", "all"])
async def test_the_diagnosis_says_which_part_timed_out(kube, kproxy, cluster, part):
    c = clock()
    smap = ServiceMap({DEP: ServiceEntry(dependencies=["postgres:5432"])}, namespace=NS)
    app = CBConsoleApp(ScriptedSource(c, [service(DEP, "open")]), cluster=cluster,
                       service_map=smap, poll_interval=3600, clock=c)
    async with app.run_test(size=(200, 60)) as pilot:
        trickling(kproxy, path=None if part == "all" else part)
        await diagnose(app, pilot)
        logs, findings = log_column(app), left_pane(app)
        why = f"API server at {kproxy.url} timed out after {KUBE_DEADLINE:g} s"
        if part == "/log":
            assert logs.count(f"logs not read: {why}") == 2, logs  # downstream and caller
            assert "timed out" not in findings, findings
        elif part == "/exec":
            total = EXEC_TIMEOUT + KUBE_DEADLINE
            assert f"postgres:5432 not checked from {DEP}-" in findings, findings
            assert f": API server at {kproxy.url} timed out after {total:g} s" in findings
            # The exec left hanging does not take the other reads with it.
            kproxy.clear()
            await pilot.press("g")
            await settle(app, pilot)
            findings = left_pane(app)
            assert "not read: API server" not in findings, findings
            assert f'deployment "{DEP}" successfully rolled out' in findings, findings
        else:
            assert f"deployment not read: {why}" in findings, findings
            assert f"pods not read: {why}" in findings
        assert app.is_running


async def test_g_pressed_while_the_reads_hang_gathers_again_after_them(kube, kproxy, cluster):
    """The press asks for reads made after it (L's new token, a fix just
    deployed): one gather in flight does not swallow it."""
    c = clock()
    app = CBConsoleApp(ScriptedSource(c, [service(DEP, "open")]), cluster=cluster,
                       service_map=ServiceMap(namespace=NS), poll_interval=3600, clock=c)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(app, pilot)
        trickling(kproxy)
        await pilot.press("2", "g")
        assert app.diagnosis.gathering  # the hanging reads are under way
        kproxy.clear()
        await pilot.press("g")
        await settle(app, pilot, rounds=6)
        findings = left_pane(app)
        assert "not read: API server" not in findings, findings
        assert f'deployment "{DEP}" successfully rolled out' in findings, findings


# --- The flag service ---------------------------------------------------------------------

FLAG_DEADLINE = 1.0


@pytest.fixture
def flags(fproxy, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    service = HttpFlagService(fproxy.url, token_env="ADMIN_TOKEN", timeout=TIMEOUT,
                              deadline=FLAG_DEADLINE)
    yield service
    service.close()


def test_flag_post_whose_answer_trickles_is_sent_once_and_read_back(flags, flagserver, fproxy):
    r = runner(flags=flags)
    plan = r.plan_flag(TARGET)
    trickling(fproxy, only=("POST",))
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok
    assert outcome.message == (f"flag service at {fproxy.url} timed out after "
                               f"{FLAG_DEADLINE:g} s (the flag now reads disabled)")
    assert outcome.verified is True
    assert len(flagserver.of("POST")) == len(fproxy.requests(method="POST")) == 1


async def test_a_trickling_flag_read_is_not_read_timed_out(kube, cluster, flags, fproxy):
    c = clock()
    app = CBConsoleApp(ScriptedSource(c, [service(DEP, "open")]), cluster=cluster, flags=flags,
                       service_map=ServiceMap(namespace=NS), poll_interval=3600, clock=c)
    async with app.run_test(size=(200, 60)) as pilot:
        trickling(fproxy)
        await diagnose(app, pilot)
        assert (f"FLAG {FLAG} not read: flag service at {fproxy.url} timed out after "
                f"{FLAG_DEADLINE:g} s") in left_pane(app)
