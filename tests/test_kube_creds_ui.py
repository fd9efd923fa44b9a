"""A restart confirmed after the plugin's first token died sends one PATCH
with a live token; no token reaches the screen, the journal or the export."""

from __future__ import annotations

import pytest

from console.ui.app import CBConsoleApp
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from tests.fakes import ScriptedSource, clock, service
from tests.kubeserver import KubeServer, Plugin, TokenAuthority
from tests.screen import dialog, settle

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("api", "shop", replicas=2)
        server.add_deployment("payment-api", "shop", replicas=2)
        yield server


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
            else:  # the expiry was stated: a new token before anything is sent
                assert not any(r.status == 401 for r in kube.requests_for())
            stages = [e.stage.value for e in app.mitigations.recorder.events if e.action == "restart"]
            assert stages[:4] == ["asked", "confirmed", "sent", "succeeded"]
    finally:
        cluster.close()


async def test_no_token_on_screen_in_the_journal_or_the_export(kube, health, tmp_path):
    """An API server (or a proxy) that echoes the tokens in its error: the first
    token and the one refreshed mid-incident are masked everywhere."""
    from console.incident import export
    from console.incident.tracker import IncidentTracker, TrackerConfig
    from console.incident.journal import Journal
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
            assert "proxy saw token *** after ***" in text, text
    finally:
        cluster.close()
    written = "".join(p.read_text() for p in (tmp_path / "state").rglob("*.jsonl"))
    assert "proxy saw token" in written
    out = tmp_path / "pm.md"
    assert export.main(["--state-dir", str(tmp_path / "state"), "--no-impact",
                        "-o", str(out)], clock=c) == 0
    for where, text in (("journal", written), ("export", out.read_text())):
        assert first not in text and second not in text, where


async def test_the_header_shows_where_credentials_come_from_and_how_they_stand(kube, health,
                                                                                tmp_path):
    from tests.screen import screen_text

    app, cluster = make_app(kube, health, tmp_path, ttl=660)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await dialog(app, pilot, "r")
            await pilot.press("n")
            await settle(app, pilot)
            app.views.refresh()
            await pilot.pause()
            assert 'cluster: test-ctx (exec plugin "execplugin.py", expires in 10 m)' \
                in screen_text(app)
            kube.auth.advance(700)
            kube.auth.fail_plugin = "MFA required"
            await pilot.press("r")
            await settle(app, pilot)
            app.views.refresh()
            await pilot.pause()
            text = screen_text(app)
            assert ('cluster: test-ctx (exec plugin "execplugin.py" failed (exit 1): '
                    "error: login failed: MFA required)") in text, text
    finally:
        cluster.close()


async def test_a_static_token_is_named_as_such(kube, health, tmp_path):
    from tests.screen import screen_text

    path = kube.write_kubeconfig(tmp_path / "kc", namespace="shop")
    import json
    config = json.loads(path.read_text())
    config["users"][0]["user"] = {"token": "static-token-abcdef123456"}
    path.write_text(json.dumps(config))
    cluster = KubernetesCluster(kubeconfig=str(path), timeout=5)
    app = CBConsoleApp(ScriptedSource(clock(), [service("payment-api", "open", "open")]),
                       cluster=cluster, poll_interval=3600, clock=clock())
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(app, pilot)
            assert "cluster: test-ctx (token)" in screen_text(app)
    finally:
        cluster.close()


async def test_after_a_revocation_the_diagnosis_pane_shows_no_401(kube, tmp_path):
    """Tokens without an expiry, revoked after 30 s: the diagnosis gathered
    after the revocation runs the plugin again and reads everything (pods,
    logs, a dependency check by pod exec); nothing in the pane says 401."""
    from tests.screen import screen_text
    from tests.screen import diagnose, flat, settle as settle_all

    for pod in kube.pods("shop"):
        kube.set_log("shop", pod["metadata"]["name"], "ERROR upstream 503\ncircuit open\n")
    kube.set_exec("shop", None, lambda argv: (0, "", "") if argv[0] == "nc" else (127, "", ""))
    authority = kube.require_tokens(ttl=20, expiry=False, revoke_after=30)
    plugin = Plugin(kube, tmp_path)
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", exec_plugin=plugin.spec)
    cluster = KubernetesCluster(kubeconfig=str(cfg), timeout=5, clock=authority.now)
    smap = ServiceMap({"payment-api": ServiceEntry(caller="api", dependencies=["db:5432"])},
                      namespace="shop")
    c = clock()
    app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open", "open")]),
                       cluster=cluster, service_map=smap, poll_interval=3600, clock=c)
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            await diagnose(app, pilot)
            before = flat(screen_text(app))
            kube.auth.advance(31)  # every token so far is revoked; none said when
            await pilot.press("g")
            await settle_all(app, pilot)
            after = flat(screen_text(app))
    finally:
        cluster.close()
    for text in (before, after):
        assert "db:5432 reachable from payment-api" in text, text  # the exec ran
        assert "CALLER LOGS api" in text and "circuit open" in text, text
        for bad in ("401", "nauthorized", "rejected the credentials", "deployment not read",
                    "history not read", "pods not read", "logs not read", "db:5432 not checked"):
            assert bad not in text, (bad, text)
    statuses = [r.status for r in kube.requests_for() if r.path.startswith(("/api/", "/apis/"))]
    assert statuses.count(401) == 1, statuses  # learnt from the server, once
    assert len(plugin.runs()) == 2


async def test_L_when_nothing_needs_a_login_says_so_and_help_lists_it(kube, health, tmp_path):
    from tests.screen import (flat, keep_notifications, line_with, screen_text, toasts_text,
                              wait_until)

    app, cluster = make_app(kube, health, tmp_path, ttl=660)
    try:
        keep_notifications(app)  # on screen until read, however slow the machine
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            await dialog(app, pilot, "r")  # its reads fetch the token
            await pilot.press("n")
            await settle(app, pilot)
            await pilot.press("L")
            said = ('nothing needs a login: cluster test-ctx (exec plugin "execplugin.py", '
                    "expires in 10 m)")
            await wait_until(pilot, lambda: said in flat(toasts_text(app)), "the toast")
            await pilot.press("question_mark")
            await pilot.pause()
            help_text = screen_text(app)
            row = line_with(help_text, "Log in to the cluster again")
            assert "L" in row.split("Log in")[0].replace("█", " ").split(), help_text
    finally:
        cluster.close()
    assert len(Plugin(kube, tmp_path).runs()) == 1  # L ran nothing
