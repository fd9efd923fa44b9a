"""Actions go to the right cluster (issue 18): payment-api has a row in
eu-west and one in us-east, each site a Kubernetes API test server behind
its own context of one kubeconfig. A restart confirmed on the eu-west row
PATCHes the eu-west server only, as the real kubectl does with the
dialog's `--context` equivalent; the diagnosis of the us-east row reads the
us-east server only; the flag of the us-east row goes to us-east's flag
service only, and its journal events say us-east."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from console.mitigations.siterouting import context_colour
from console.ui.app import CBConsoleApp
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from console.incident.journal import Journal
from console.incident.store import EventKind
from console.incident.tracker import IncidentTracker
from console.sources.flags import HttpFlagService
from tests.fakes import ScriptedSource, clock, service
from tests.flagserver import CONSOLE_TOKEN, FlagServer
from tests.screen import dialog, quiesce, settle, wait_until
from tests.twosites import (NS, SITES, Site, SiteRouter, mutations, router, on_row,
                            service_map, two_servers, write_kubeconfig)

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def sites(tmp_path):
    servers = two_servers()
    config = write_kubeconfig(servers, tmp_path / "kubeconfig")
    clusters = {site: KubernetesCluster(kubeconfig=str(config), context=context, timeout=2)
                for site, context in SITES.items()}
    yield servers, clusters, config
    for cluster in clusters.values():
        cluster.close()
    for server in servers.values():
        server.stop()


def two_site_app(clusters, health, rows, default: str) -> CBConsoleApp:
    """`default`: the site whose cluster the app is also handed (the header's,
    the one a console ignoring the row's site would act on)."""
    c = clock()
    smap = service_map(health.url)
    source = ScriptedSource(c, rows)
    return CBConsoleApp(source, cluster=clusters[default], probe=HttpProbe(timeout=1),
                        service_map=smap, poll_interval=3600, clock=c,
                        sites=router(clusters, smap))


async def test_a_restart_confirmed_on_the_eu_west_row_patches_the_eu_west_server_only(
        sites, health, kubectl_bin, tmp_path):
    servers, clusters, config = sites
    health.status = 200  # the runbook's Option 1: restart the caller, deployment/api
    # The row acted on comes last: a board showing one row per service shows it.
    rows = [service("payment-api", "open", site="us-east"),
            service("payment-api", "open", "open", site="eu-west")]
    app = two_site_app(clusters, health, rows, default="us-east")
    async with app.run_test(size=(150, 45)) as pilot:
        await on_row(app, pilot, ("eu-west", "payment-api"), servers.values())
        box = await dialog(app, pilot, "r")
        head = box.query_one("#dialog-head").render()
        assert str(head).startswith(" eu-west · context eu-west-ctx ")
        assert any(context_colour("eu-west-ctx") in str(span.style) for span in head.spans)
        assert box.plan.equivalent == (
            "kubectl --context eu-west-ctx -n shop rollout restart deployment/api")
        await pilot.press("y")
        await wait_until(pilot, lambda: mutations(servers["eu-west"]), "the restart sent")
        await wait_until(pilot, lambda: any(
            e.stage.value == "succeeded" for e in app.mitigations.recorder.events),
            "the restart's outcome")
        await quiesce(app, pilot)
    [patch] = mutations(servers["eu-west"])
    assert patch.method == "PATCH"
    assert patch.path == f"/apis/apps/v1/namespaces/{NS}/deployments/api"
    assert mutations(servers["us-east"]) == []
    events = [e for e in app.mitigations.recorder.events if e.action == "restart"]
    assert {e.site for e in events} == {"eu-west"}

    # The dialog's equivalent, run by the real kubectl on the same
    # kubeconfig, goes to the same server and no other.
    for server in servers.values():
        server.clear()
    argv = shlex.split(box.plan.equivalent)
    env = {"HOME": str(tmp_path / "home"), "KUBECACHEDIR": str(tmp_path / "kubecache"),
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([kubectl_bin, "--kubeconfig", str(config), *argv[1:]], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [theirs] = mutations(servers["eu-west"])
    assert (theirs.method, theirs.path) == (patch.method, patch.path)
    assert theirs.param("fieldManager") == patch.param("fieldManager") == "kubectl-rollout"
    assert mutations(servers["us-east"]) == []


async def test_the_diagnosis_of_the_us_east_row_reads_the_us_east_server(sites, health):
    servers, clusters, _ = sites
    health.status = 200
    rows = [service("payment-api", "open", "open", site="eu-west"),
            service("payment-api", "open", site="us-east")]
    app = two_site_app(clusters, health, rows, default="eu-west")
    async with app.run_test(size=(150, 45)) as pilot:
        await on_row(app, pilot, ("us-east", "payment-api"), servers.values())
        await pilot.press("g")
        await wait_until(pilot, lambda: ("us-east", "payment-api") in app.diagnosis.diagnoses,
                         "the us-east diagnosis")
        await quiesce(app, pilot)
        diagnosis = app.diagnosis.diagnoses[("us-east", "payment-api")]
    assert diagnosis.target.namespace == NS  # the site's namespace, not the service map's
    assert diagnosis.downstream.deployment is not None
    reads = servers["us-east"].requests_for("GET")
    assert any(r.path == f"/apis/apps/v1/namespaces/{NS}/deployments/payment-api" for r in reads)
    assert servers["eu-west"].requests_for() == []


async def test_a_read_only_site_refuses_and_sends_nothing_while_the_other_acts(sites, health):
    servers, clusters, _ = sites
    health.status = 200
    smap = service_map(health.url)
    c = clock()
    app = CBConsoleApp(
        ScriptedSource(c, [service("payment-api", "open", site="us-east")]),
        cluster=clusters["eu-west"], probe=HttpProbe(timeout=1), service_map=smap,
        poll_interval=3600, clock=c,
        sites=router(clusters, smap, **{"us-east": {"read_only": True}}))
    async with app.run_test(size=(150, 45)) as pilot:
        await on_row(app, pilot, ("us-east", "payment-api"), servers.values())
        await pilot.press("r")
        await wait_until(pilot, lambda: any(
            e.details.get("refused") for e in app.mitigations.recorder.events), "the refusal")
        await quiesce(app, pilot)
    [refusal] = [e for e in app.mitigations.recorder.events if e.action == "restart"]
    assert refusal.site == "us-east" and "read-only" in refusal.details["message"]
    assert servers["us-east"].requests_for() == [] and servers["eu-west"].requests_for() == []


@pytest.fixture
def two_flag_services(monkeypatch):
    monkeypatch.setenv("FLAGS_TOKEN", CONSOLE_TOKEN)
    servers = {site: FlagServer(token=CONSOLE_TOKEN) for site in SITES}
    for server in servers.values():
        server.put("payment-api-integration", True)
    services = {site: HttpFlagService(server.url, token_env="FLAGS_TOKEN", timeout=2)
                for site, server in servers.items()}
    yield servers, services
    for site in SITES:
        services[site].close()
        servers[site].close()


async def test_the_flag_of_the_us_east_row_goes_to_us_east_s_flag_service_journaled_so(
        sites, health, two_flag_services, tmp_path):
    _, clusters, _ = sites
    flag_servers, flag_services = two_flag_services
    smap = service_map(health.url)
    c = clock()
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=c)
    tracker = IncidentTracker(journal)
    source = ScriptedSource(c, [service("payment-api", "open", site="eu-west"),
                                service("payment-api", "open", site="us-east")])
    app = CBConsoleApp(
        source, cluster=clusters["eu-west"], flags=flag_services["eu-west"],
        probe=HttpProbe(timeout=1), service_map=smap, poll_interval=3600, clock=c,
        tracker=tracker,
        sites=SiteRouter([Site(name=site, context=cluster.label, namespace=NS, cluster=cluster,
                               flags=flag_services[site]) for site, cluster in clusters.items()],
                         service_map=smap))
    async with app.run_test(size=(150, 45)) as pilot:
        await on_row(app, pilot, ("us-east", "payment-api"))
        box = await dialog(app, pilot, "d")
        assert str(box.query_one("#dialog-head").render()).startswith(
            " us-east · context us-east-ctx ")
        await pilot.press("y")
        await wait_until(pilot, lambda: flag_servers["us-east"].of("POST"), "the flag sent")
        await wait_until(pilot, lambda: any(
            e.stage.value == "succeeded" for e in app.mitigations.recorder.events),
            "the flag's outcome")
        await quiesce(app, pilot)
    assert flag_servers["us-east"].flags["payment-api-integration"]["enabled"] is False
    assert flag_servers["eu-west"].of("POST") == []
    assert flag_servers["eu-west"].flags["payment-api-integration"]["enabled"] is True
    actions = [e for e in journal.events if e.kind == EventKind.ACTION]
    assert actions and {e.site for e in actions} == {"us-east"}
    journal.close()


class TwoSiteSource:
    """payment-api opening in eu-west, then in us-east: a snapshot a poll,
    as a multi-site source stamps them (site on rows and transitions)."""

    label = "two sites"

    def __init__(self, clock) -> None:
        self.clock = clock
        self.polls = 0

    def poll(self):
        from console.model.fleet import BreakerState, FleetSnapshot, Transition

        self.polls += 1
        now = self.clock()
        opened = ["eu-west"] if self.polls == 1 else ["eu-west", "us-east"]
        rows = [service("payment-api", "open" if site in opened else "closed", site=site)
                for site in SITES]
        moves = (Transition(service="payment-api", instance="payment-api-pod-0",
                            from_state=BreakerState.CLOSED, to_state=BreakerState.OPEN,
                            at=now, site=opened[-1]),)
        return FleetSnapshot(fetched_at=now, services=tuple(rows), transitions=moves)


async def test_the_timeline_says_the_incident_spans_both_clusters(tmp_path):
    c = clock()
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice", clock=c)
    source = TwoSiteSource(c)
    app = CBConsoleApp(source, tracker=IncidentTracker(journal), poll_interval=3600, clock=c)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        summary = lambda: str(app.query_one("#timeline-summary").render())  # noqa: E731
        assert "spans" not in summary()  # one cluster so far
        c.advance(5)
        await pilot.press("p")  # poll now
        await wait_until(pilot, lambda: "spans eu-west, us-east" in summary(),
                         "the timeline's summary naming both clusters")
    journal.close()
