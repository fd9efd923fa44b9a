"""A restart confirmed after the plugin's first token died sends one PATCH
with a live token; no token reaches the screen, the journal or the export."""

from __future__ import annotations

import pytest

from console.app import CBConsoleApp
from console.servicemap import ServiceEntry, ServiceMap
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from tests.fakes import ScriptedSource, clock, service
from tests.kubeserver import KubeServer, TokenAuthority
from tests.test_kube_creds import Plugin
from tests.test_mitigation_ui import Health, dialog, settle


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("api", "shop", replicas=2)
        server.add_deployment("payment-api", "shop", replicas=2)
        yield server


@pytest.fixture
def health():
    server = Health()
    yield server
    server.close()


def make_app(kube, health, tmp_path, tracker=None, clock_=None, **auth) -> tuple[CBConsoleApp, KubernetesCluster]:
    authority = kube.require_tokens(**auth)
    plugin = Plugin(kube, tmp_path)
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", exec_plugin=plugin.spec)
    cluster = KubernetesCluster(kubeconfig=str(cfg), timeout=5, clock=authority.now)
    smap = ServiceMap({"payment-api": ServiceEntry(health_url=health.url, smoke_url=health.url)},
                      namespace="shop")
    c = clock_ or clock()
    source = ScriptedSource(c, [service("payment-api", "open", "open")])
    app = CBConsoleApp(source, cluster=cluster, probe=HttpProbe(timeout=1), service_map=smap,
                       poll_interval=3600, clock=c, tracker=tracker)
    return app, cluster


@pytest.mark.parametrize("auth", [{"ttl": 20}, {"ttl": 20, "expiry": False, "revoke_after": 30}],
                         ids=["expired", "revoked"])
async def test_restart_after_the_first_token_died_sends_one_live_patch(kube, health, tmp_path,
                                                                       auth):
    app, cluster = make_app(kube, health, tmp_path, **auth)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            box = await dialog(app, pilot, "r")
            assert box.plan.deployment == "api"
            first = {r.token for r in kube.requests_for() if r.token}
            assert first, "the dialog's reads carried no token"
            kube.auth.advance(60)  # a minute after the first token stopped working
            await pilot.press("y")
            await settle(app, pilot)
            patches = kube.requests_for("PATCH")
            applied = [p for p in patches if p.status == 200]
            assert len(applied) == 1 and applied[0].token_live
            assert applied[0].token not in first
            assert len(patches) == 1
            if "expiry" in auth:  # no expiry stated: the server's 401 is how we learn
                assert any(r.status == 401 for r in kube.requests_for())
            stages = [e.stage.value for e in app.recorder.events if e.action == "restart"]
            assert stages[:4] == ["asked", "confirmed", "sent", "succeeded"]
    finally:
        cluster.close()


async def test_no_token_on_screen_in_the_journal_or_the_export(kube, health, tmp_path):
    """An API server (or a proxy) that echoes the tokens in its error: the first
    token and the one refreshed mid-incident are masked everywhere."""
    from console import export
    from console.incident import IncidentTracker, TrackerConfig
    from console.journal import Journal
    from tests.screen import screen_text

    first, second = TokenAuthority.token_name(1), TokenAuthority.token_name(2)
    kube.fail("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api", 500,
              message=f"proxy saw token {second} after {first}")
    c = clock()
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=c)
    tracker = IncidentTracker(journal, TrackerConfig())
    app, cluster = make_app(kube, health, tmp_path, tracker=tracker, ttl=20, clock_=c)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await dialog(app, pilot, "r")
            kube.auth.advance(60)
            await pilot.press("y")
            await settle(app, pilot)
            assert [p.status for p in kube.requests_for("PATCH")] == [500]
            text = screen_text(app)
            assert "proxy saw token <redacted> after <redacted>" in text, text
    finally:
        cluster.close()
    written = "".join(p.read_text() for p in (tmp_path / "state").rglob("*.jsonl"))
    assert "proxy saw token" in written
    out = tmp_path / "pm.md"
    assert export.main(["--state-dir", str(tmp_path / "state"), "--no-impact",
                        "-o", str(out)], clock=c) == 0
    for where, text in (("journal", written), ("export", out.read_text())):
        assert first not in text and second not in text, where
