"""The mitigation keys as the operator uses them (Pilot), against the
Kubernetes API test server, the flag test server and a health endpoint:
preselection, cancel sends nothing, confirm sends exactly one request,
read-only and dry-run send nothing, errors are shown in plain words."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Button

from console.ui.app import CBConsoleApp
from console.mitigations.plan import Mode
from console.sources.probe import HttpProbe
from tests.fakes import ScriptedSource, clock, service
from tests.flagserver import CONSOLE_TOKEN, FlagServer
from tests.kubeserver import KubeServer
from tests.screen import dialog, keep_notifications, settle, wait_until
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

TOKEN = CONSOLE_TOKEN
MUTATING = ("PATCH", "POST", "PUT", "DELETE")
# The fixtures kube, flags, health and make_app: tests/conftest.py.


def mutating(kube: KubeServer, flags: FlagServer) -> list:
    return [r for r in kube.requests_for() if r.method in MUTATING] + [
        r for r in flags.requests if r.method in MUTATING
    ]


async def test_restart_preselects_downstream_when_unhealthy_and_cancel_sends_nothing(
    make_app, kube, flags, health
):
    health.status = 503
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "r")
        assert box.plan.deployment == "payment-api"
        assert "503" in box.plan.reason
        assert box.focused is box.query_one("#cancel", Button)
        kube.clear()
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert mutating(kube, flags) == []
        stages = [(e.action, e.stage.value) for e in app.mitigations.recorder.events]
        assert stages[-2:] == [("restart", "asked"), ("restart", "cancelled")]


async def test_restart_preselects_caller_when_healthy_and_confirm_sends_one_patch(
    make_app, kube, flags, health
):
    health.status = 200
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "r")
        assert box.plan.deployment == "api"
        assert "kubectl --context test-ctx -n shop rollout restart deployment/api" in box.plan.equivalent
        await pilot.press("y")
        await settle(app, pilot)
        patches = kube.requests_for("PATCH")
        assert len(patches) == 1
        assert patches[0].path.endswith("/namespaces/shop/deployments/api")
        assert patches[0].param("fieldManager") == "kubectl-rollout"
        body = patches[0].json()
        assert "kubectl.kubernetes.io/restartedAt" in body["spec"]["template"]["metadata"][
            "annotations"]
        stages = [e.stage.value for e in app.mitigations.recorder.events if e.action == "restart"]
        assert stages[:4] == ["asked", "confirmed", "sent", "succeeded"]


async def test_switching_restart_target_in_the_dialog(make_app, kube, health):
    health.status = 503
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "r")
        assert box.plan.deployment == "payment-api"
        await pilot.press("t")
        assert box.plan.deployment == "api"
        await pilot.press("t")
        assert box.plan.deployment == "payment-api"
        await pilot.press("escape")
        await settle(app, pilot)
        assert kube.requests_for("PATCH") == []


async def test_enter_on_the_focused_cancel_button_cancels(make_app, kube, flags):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await dialog(app, pilot, "f")
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert mutating(kube, flags) == []


async def test_fallback_sends_kubectl_set_env_patch_once(make_app, kube, flags):
    app = make_app()
    app.mitigations.runner.verify_timeout_s = 0.5  # the test server's new pods never log "fallback"
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "f")
        assert "PAYMENT_API_FALLBACK_ENABLED=true" in box.plan.equivalent
        await pilot.press("y")
        await settle(app, pilot)
        patches = kube.requests_for("PATCH")
        assert len(patches) == 1
        assert patches[0].param("fieldManager") == "kubectl-set"
        env = {e["name"]: e.get("value") for c in
               kube.deployment("shop", "api")["spec"]["template"]["spec"]["containers"]
               for e in c["env"]}
        assert env["PAYMENT_API_FALLBACK_ENABLED"] == "true"
        assert env["PAYMENT_API_FALLBACK_MODE"] == "mock"
        # The runbook's check (new pods log "fallback") failed, and it says so.
        verified = [e for e in app.mitigations.recorder.events if e.stage.value == "verified"]
        assert verified and verified[-1].details.get("verified") == "no"
        assert "fallback" in log_text(app)


async def test_flag_disable_posts_once_with_the_token_and_hides_it(make_app, kube, flags):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "d")
        assert TOKEN not in box.plan.request + box.plan.equivalent
        assert "***" in box.plan.equivalent
        await pilot.press("y")
        await settle(app, pilot)
        posts = flags.of("POST")
        assert len(posts) == 1
        assert posts[0].json() == {"enabled": False}
        assert flags.flags["payment-api-integration"]["enabled"] is False
        assert all(TOKEN not in json.dumps(e.model_dump(mode="json")) for e in app.mitigations.recorder.events)


@pytest.mark.parametrize("key", ["r", "f", "d", "u"])
async def test_read_only_refuses_before_any_request(make_app, kube, flags, key):
    app = make_app(mode=Mode.READ_ONLY)
    async with app.run_test(size=(140, 40)) as pilot:
        # The diagnosis of the selected service reads the cluster by itself.
        await wait_until(pilot, lambda: ("", "payment-api") in app.diagnosis.diagnoses,
                         "the automatic diagnosis")
        await settle(app, pilot)
        kube.clear()
        flags.requests.clear()
        await pilot.press(key)
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert kube.requests_for() == [] and flags.requests == []
        assert "READ-ONLY" in str(app.query_one("#status").render())


@pytest.mark.parametrize("key", ["r", "f", "d"])
async def test_dry_run_shows_the_dialog_and_sends_nothing(make_app, kube, flags, key):
    app = make_app(mode=Mode.DRY_RUN)
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, key)
        assert box.plan.equivalent
        await pilot.press("y")
        await settle(app, pilot)
        assert mutating(kube, flags) == []
        assert any("dry run" in e.details.get("message", "").lower()
                   for e in app.mitigations.recorder.events)


async def test_second_press_while_in_flight_only_says_so(make_app, kube, flags):
    kube.auto_step = False  # the rollout never progresses: the restart stays in flight
    app = make_app()
    shown = keep_notifications(app)
    async with app.run_test(size=(140, 40)) as pilot:
        try:
            await dialog(app, pilot, "r")
            await pilot.press("y")
            await wait_until(pilot, lambda: len(kube.requests_for("PATCH")) == 1,
                             "the restart sent")
            assert ("restart", "", "payment-api") in app.mitigations.in_flight
            await pilot.press("r")
            await wait_until(pilot, lambda: any("already in progress" in m for m in shown),
                             f"the second press answered (said: {shown})")
            # (no settle: it would wait for the restart's watch, which never ends here)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmDialog)
            assert len(kube.requests_for("PATCH")) == 1
        finally:
            app.mitigations.runner.rollout_timeout_s = 0  # let the watch end so the test can
            kube.auto_step = True


def log_text(app) -> str:
    from rich.console import Console

    console = Console(width=400, record=True)
    console.print(app.query_one("#action-entries").content)
    return console.export_text()


@pytest.mark.parametrize(
    "code, words",
    [
        (403, "RBAC: needs verb patch on resource deployments"),
        (401, "unauthorized"),
        (404, "not found"),
        (409, "conflict"),
        (422, "invalid"),
        (500, "answered 500"),
        (503, "answered 503"),
    ],
)
async def test_kubernetes_errors_are_shown_in_plain_words(make_app, kube, code, words):
    kube.fail("PATCH", "/apis/apps/v1/namespaces/shop/deployments/*", code)
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await dialog(app, pilot, "f")
        await pilot.press("y")
        # The failure's row, when it comes (a loaded machine: after the settle).
        await wait_until(pilot, lambda: words in log_text(app), f"{words!r} in the action log")
        await settle(app, pilot)
        assert len(kube.requests_for("PATCH")) == 1  # never retried blindly
        assert app.mitigations.recorder.events[-1].stage.value == "failed"


async def test_missing_deployment_is_refused_in_the_dialog(make_app, kube, health):
    health.status = 503
    with kube._lock:  # as if someone deleted it
        kube._delete("deployments", "shop", "payment-api")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "r")
        assert box.plan.deployment == "payment-api"
        assert "not found" in (box.plan.refusal or "")
        assert box.query_one("#confirm", Button).disabled
        await pilot.press("y")  # refused: y does nothing
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(app, pilot)
        assert kube.requests_for("PATCH") == []


@pytest.mark.parametrize(
    "status, words",
    [(401, "401"), (404, "not found"), (500, "500")],
)
async def test_flag_service_errors_are_shown(make_app, flags, status, words):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await dialog(app, pilot, "d")
        flags.fail(status, "nope", times=5)
        await pilot.press("y")
        await settle(app, pilot)
        assert words in log_text(app)
        assert TOKEN not in log_text(app)


async def test_missing_flag_token_is_shown(make_app, flags, monkeypatch):
    monkeypatch.delenv("FLAGS_TOKEN")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await dialog(app, pilot, "d")
        await pilot.press("y")
        await settle(app, pilot)
        assert "FLAGS_TOKEN is not set" in log_text(app)
        assert flags.of("POST") == []


async def test_no_cluster_says_why(flags, health):
    c = clock()
    app = CBConsoleApp(
        ScriptedSource(c, [service("payment-api", "open")]),
        cluster=None, cluster_unavailable="no kubeconfig found (~/.kube/config)",
        probe=HttpProbe(timeout=1), poll_interval=3600, clock=c,
    )
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "r")
        assert "no kubeconfig found" in (box.plan.refusal or "")
        await pilot.press("n")


async def test_a_cancel_is_logged_against_the_target_shown_when_cancelled(make_app, kube, health):
    """r, t (the caller), escape: the log says the caller was cancelled."""
    from tests.screen import line_with, screen_text

    health.status = 503
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        box = await dialog(app, pilot, "r")
        assert box.plan.deployment == "payment-api"
        await pilot.press("t")
        assert box.plan.deployment == "api"
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        line = line_with(screen_text(app), "CANCELLED")
        assert "shop/deployment/api" in line, line
        assert "payment-api" not in line.split("CANCELLED", 1)[1], line
        cancelled = [e for e in app.mitigations.recorder.events if e.stage.value == "cancelled"]
        assert [e.target for e in cancelled] == ["shop/deployment/api"]
