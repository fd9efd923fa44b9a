"""The production lock as the operator meets it (issue 18), under Pilot
against the Kubernetes API test server behind a context named prod-eu-west:
r y sends nothing before the unlock, typing the context's name unlocks it
(journaled, shown in the header, for this session only), r y then PATCHes;
a wrong name unlocks nothing; a context not named or configured production
is not locked."""

from __future__ import annotations

import json

import pytest

from console.config import load_config
from console.incident import postmortem
from console.incident.journal import Journal
from console.incident.tracker import IncidentTracker
from console.mitigations.plan import Mode
from console.mitigations.prodlock import ProductionLocks
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from console.ui.app import CBConsoleApp
from tests.fakes import ScriptedSource, clock, service
from tests.screen import dialog, flat, keep_notifications, settle, wait_until
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

MUTATING = ("PATCH", "POST", "PUT", "DELETE")
# The fixtures kube and health: tests/conftest.py.


@pytest.fixture
def consoles(kube, health, tmp_path):
    made = []

    def make(context: str, *, locks: ProductionLocks | None = None,
             mode: Mode = Mode.LIVE) -> CBConsoleApp:
        c = clock()
        cluster = KubernetesCluster(kubeconfig=str(kube.write_kubeconfig(
            tmp_path / f"kc-{context}", context=context, namespace="shop")), timeout=2)
        made.append(cluster)
        journal = Journal.open_or_resume(tmp_path / f"state-{context}", actor="alice", clock=c)
        smap = ServiceMap({"payment-api": ServiceEntry(health_url=health.url)}, namespace="shop")
        return CBConsoleApp(
            ScriptedSource(c, [service("payment-api", "open", "open")]), cluster=cluster,
            probe=HttpProbe(timeout=1), service_map=smap, mode=mode, poll_interval=3600,
            clock=c, tracker=IncidentTracker(journal), locks=locks)

    yield make
    for cluster in made:
        cluster.close()


def mutating(kube) -> list:
    return [r for r in kube.requests_for() if r.method in MUTATING]


def header(app) -> str:
    return flat(str(app.query_one("#status").content))


def dialog_text(box: ConfirmDialog) -> str:
    return flat(" ".join(str(s.content) for s in box.query("Static")))


async def type_in(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


async def test_r_y_sends_nothing_until_the_contexts_name_is_typed(consoles, kube, health,
                                                                 tmp_path):
    health.status = 200  # the caller (deployment/api) is preselected
    app = consoles("prod-eu-west")
    async with app.run_test(size=(160, 45)) as pilot:
        said = keep_notifications(app)
        await wait_until(pilot, lambda: app.tracker.is_open, "the incident open")
        assert "prod-eu-west locked" in header(app)
        box = await dialog(app, pilot, "r")
        assert "PRODUCTION LOCKED type prod-eu-west below" in dialog_text(box)
        assert box.query_one("#unlock").placeholder == "type prod-eu-west to unlock"
        assert box.query_one("#confirm").disabled
        kube.clear()
        await pilot.press("y")  # the field has the focus: a y typed, nothing confirmed
        await settle(app, pilot)
        assert app.screen is box and mutating(kube) == []
        await pilot.press("tab", "tab")  # to the buttons, and y there: refused
        await pilot.press("y")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert mutating(kube) == []
        assert any("LOCKED: prod-eu-west is a production context" in s and
                   "type prod-eu-west in the confirmation dialog to unlock" in s for s in said)

        box = await dialog(app, pilot, "r")
        await type_in(pilot, "prod-eu-wes")  # not the name: still locked
        await settle(app, pilot)
        assert any("That is not prod-eu-west: still locked" in s for s in said)
        assert box.query_one("#confirm").disabled and "UNLOCKED" not in header(app)
        await type_in(pilot, "prod-eu-west")
        await settle(app, pilot)
        assert "PRODUCTION UNLOCKED" in dialog_text(box) and not box.query_one("#confirm").disabled
        assert "prod-eu-west UNLOCKED for this session" in header(app)
        assert mutating(kube) == []  # unlocking sends nothing either
        await pilot.press("y")
        await wait_until(pilot, lambda: kube.requests_for("PATCH"), "the restart PATCH")
        [patch] = kube.requests_for("PATCH")
        assert patch.path.endswith("/namespaces/shop/deployments/api")
        assert "kubectl.kubernetes.io/restartedAt" in json.dumps(patch.json())
        await wait_until(pilot, lambda: any(
            e.details.get("action") == "restart" and e.details.get("stage") == "succeeded"
            for e in app.tracker.journal.events), "the restart journaled")
        report = postmortem.render_json(list(app.tracker.journal.events), now=app.poller.clock())
        assert any("production context prod-eu-west unlocked by" in e["text"]
                   for e in report["events"]), report["events"]
        [applied] = [r for r in report["timeline"] if r["event"] == "Mitigation applied"]
        assert "restart on shop/deployment/api" in applied["note"]  # the unlock is none
        box = await dialog(app, pilot, "r")  # the unlock holds for the session
        assert "PRODUCTION UNLOCKED" not in dialog_text(box) and not box.query("#unlock")
        await pilot.press("n")
        await settle(app, pilot)
        events = [json.loads(line) for path in sorted((tmp_path / "state-prod-eu-west").rglob("*.jsonl"))
                  for line in path.read_text().splitlines() if line.strip()]
    unlocks = [e for e in events if e["details"].get("action") == "unlock"]
    assert [(e["actor"], e["details"]["context"], e["at"]) for e in unlocks] == [
        ("alice", "prod-eu-west", unlocks[0]["at"])]
    refused = [e for e in events if e["details"].get("action") == "restart"
               and str(e["details"].get("message", "")).startswith("refused: prod-eu-west")]
    assert len(refused) == 1  # the y on the buttons, journaled as a refusal

    # A console started again is locked again: the unlock is never on disk.
    app.tracker.journal.close()
    again = consoles("prod-eu-west")
    async with again.run_test(size=(160, 45)) as pilot:
        await settle(again, pilot)
        assert "prod-eu-west locked" in header(again) and "UNLOCKED" not in header(again)
        box = await dialog(again, pilot, "r")
        assert box.query_one("#confirm").disabled
        await pilot.press("escape")  # from the unlock field: the dialog is cancelled
        await settle(again, pilot)
        assert not isinstance(again.screen, ConfirmDialog)
    assert len(kube.requests_for("PATCH")) == 1


async def test_a_context_configured_production_is_locked_and_another_is_not(
        consoles, kube, health, tmp_path):
    health.status = 200
    (tmp_path / "config.toml").write_text("[contexts.eu-live]\nproduction = true\n")
    config = load_config(tmp_path / "config.toml")
    app = consoles("eu-live", locks=ProductionLocks(config, current_context="eu-live"))
    async with app.run_test(size=(160, 45)) as pilot:
        box = await dialog(app, pilot, "f")  # the fallback's env PATCH: a cluster mitigation
        assert box.query_one("#confirm").disabled and box.query("#unlock")
        await pilot.press("escape")
        await settle(app, pilot)
    plain = consoles("eu-test", locks=ProductionLocks(config, current_context="eu-test"))
    async with plain.run_test(size=(160, 45)) as pilot:
        box = await dialog(plain, pilot, "r")
        assert not box.query("#unlock") and "PRODUCTION" not in dialog_text(box)
        assert "production:" not in header(plain)
        await pilot.press("y")
        await wait_until(pilot, lambda: kube.requests_for("PATCH"), "the restart PATCH")
    assert mutating(kube) and all(r.method == "PATCH" for r in mutating(kube))


async def test_cbconsole_locks_the_context_its_config_calls_production(kube, monkeypatch,
                                                                      tmp_path):
    """Through cbconsole's own start: the config's [contexts.NAME] reaches the lock."""
    from console.cli import main

    monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(
        tmp_path / "kc", context="eu-live", namespace="shop")))
    (tmp_path / "config.toml").write_text("[contexts.eu-live]\nproduction = true\n")
    started = []
    monkeypatch.setattr(CBConsoleApp, "run", lambda self: started.append(self))
    assert main(["--prometheus", "http://127.0.0.1:9", "--config", str(tmp_path / "config.toml"),
                 "--state-dir", str(tmp_path / "state")]) == 0
    [app] = started
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        assert "production: eu-live locked" in header(app)
