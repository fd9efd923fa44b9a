"""Sites on real servers (issue 18): two Prometheus servers with their own
external_labels (cluster: eu-west, cluster: us-east), a third federating both
(the global view, --cluster-label cluster), VictoriaMetrics as a third site,
a tenant-enforcing proxy (401 without X-Scope-OrgID) in front of us-east, a
proxy adding Thanos-style `warnings` to eu-west's real answers, and a fault
proxy that stalls ap-south. Asserted on the snapshots the multi-site source
returns, and on the screen of the console the command line builds."""

from __future__ import annotations

import pytest

from console.arguments import build_parser
from console.cli import _build_app
from console.config import load_config
from console.model.fleet import SourceStatus
from console.site_source import site_source
from console.sites_setup import site_specs
from tests.apiproxy import ApiProxy
from tests.faultproxy import FaultProxy
from tests.promserver import poll_until
from tests.screen import screen_text, wait_until
from tests.sitesworld import start_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TENANT = "team-us"


@pytest.fixture(scope="module")
def world():
    w = start_world()
    eu = ApiProxy(w.servers["eu-west"].url)  # adds warnings when told
    us = ApiProxy(w.servers["us-east"].url, tenant=TENANT)
    ap = FaultProxy("127.0.0.1", w.servers["ap-south"].port)
    w.proxies = {"eu-west": eu, "us-east": us, "ap-south": ap}
    try:
        yield w
    finally:
        eu.close(), us.close(), ap.close()
        w.stop()


def config_text(world, *, tenant: str | None = TENANT, poll: float = 1) -> str:
    p = world.proxies
    tenant_line = f'tenant = "{tenant}"\n' if tenant else ""
    return (
        f"poll_interval_s = {poll}\n"
        "[prometheus]\ntimeout_s = 1\n"
        '[sites.eu-west]\ncontext = "kind-eu"\n'
        f'[sites.eu-west.prometheus]\nurl = "{p["eu-west"].url}"\n'
        'params = { partial_response = "true", dedup = "true" }\n'
        f'[sites.us-east.prometheus]\nurl = "{p["us-east"].url}"\n{tenant_line}'
        f'[sites.ap-south.prometheus]\nurl = "{p["ap-south"].url}"\n'
    )


def sites_source(world, tmp_path, **kw):
    path = tmp_path / "config.toml"
    path.write_text(config_text(world, **kw))
    config = load_config(path, env={})
    return site_source(site_specs(config), config)


def state_of(snap, site: str, service: str) -> str | None:
    row = snap.by_key.get((site, service))
    return row.state.name if row else None


def status(snap, site: str) -> SourceStatus:
    return snap.source_of(site).status


def regional(snap) -> bool:
    return (state_of(snap, "eu-west", "payment-api"), state_of(snap, "us-east", "payment-api"),
            state_of(snap, "ap-south", "payment-api")) == ("OPEN", "CLOSED", "CLOSED")


def test_each_site_from_its_own_server_with_its_tenant_and_params(world, tmp_path):
    source = sites_source(world, tmp_path)
    try:
        snap = poll_until(source, lambda s: regional(s) and all(
            h.status == SourceStatus.OK for h in s.sources), "the regional case, all sites ok")
        assert [(h.name, h.sites) for h in snap.sources] == [
            ("eu-west", ("eu-west",)), ("us-east", ("us-east",)), ("ap-south", ("ap-south",))]
        assert len(snap.by_key[("eu-west", "payment-api")].instances) == 3
        # Every query reached us-east's Prometheus with the tenant's header.
        assert world.proxies["us-east"].tenants_seen() == {TENANT}
        # Thanos' parameters went with every eu-west query.
        queries = [params for path, params, _ in world.proxies["eu-west"].seen
                   if path == "/api/v1/query"]
        assert queries and all(q.get("partial_response") == "true" and q.get("dedup") == "true"
                               for q in queries)
    finally:
        source.close()


def test_without_the_tenant_header_only_that_site_is_stale(world, tmp_path):
    source = sites_source(world, tmp_path, tenant=None)
    try:
        snap = poll_until(source, lambda s: status(s, "us-east") == SourceStatus.STALE
                          and state_of(s, "eu-west", "payment-api") == "OPEN",
                          "us-east refused, eu-west shown")
        assert snap.source_of("us-east").reason == (
            f"Prometheus at {world.proxies['us-east'].url} refused the credentials: HTTP 401 "
            "Unauthorized (check the bearer token, basic auth or tenant: X-Scope-OrgID)")
        assert ("us-east", "payment-api") not in snap.by_key  # never answered: no rows
        assert status(snap, "eu-west") == SourceStatus.OK
    finally:
        source.close()


def test_warnings_in_real_answers_make_the_site_partial(world, tmp_path):
    eu = world.proxies["eu-west"]
    source = sites_source(world, tmp_path)
    try:
        poll_until(source, regional, "the regional case")
        eu.warnings = ["\x1b[2Jpartial response: store eu-west-b unreachable [b]x[/b]"]
        snap = poll_until(source, lambda s: status(s, "eu-west") == SourceStatus.PARTIAL,
                          "eu-west PARTIAL")
        assert snap.source_of("eu-west").warnings == (
            "\\x1b[2Jpartial response: store eu-west-b unreachable [b]x[/b]",)
        assert status(snap, "us-east") == SourceStatus.OK
        assert state_of(snap, "eu-west", "payment-api") == "OPEN"  # its rows, marked partial
        eu.warnings = []
        poll_until(source, lambda s: status(s, "eu-west") == SourceStatus.OK, "eu-west ok again")
    finally:
        eu.warnings = []
        source.close()


def test_a_stalled_site_is_stale_while_the_others_update_every_poll(world, tmp_path):
    ap = world.proxies["ap-south"]
    # A long poll interval: each poll may wait that long for us-east's answer
    # (it comes at once), so every poll has it however loaded the machine.
    source = sites_source(world, tmp_path, poll=10)
    try:
        poll_until(source, regional, "the regional case")
        ap.set("stall")
        snap = poll_until(source, lambda s: status(s, "ap-south") == SourceStatus.STALE,
                          "ap-south STALE")
        assert state_of(snap, "ap-south", "payment-api") == "CLOSED"  # its last rows, kept
        # Every poll while it hangs brings us-east's answer of that poll.
        as_of = [snap.source_of("us-east").as_of]
        for _ in range(3):
            snap = source.poll()
            assert status(snap, "ap-south") == SourceStatus.STALE
            assert status(snap, "us-east") == SourceStatus.OK
            as_of.append(snap.source_of("us-east").as_of)
        assert as_of == sorted(set(as_of)), as_of
        world.set_state("us-east", "users", "open")
        snap = poll_until(source, lambda s: state_of(s, "us-east", "users") == "OPEN",
                          "us-east's change shown while ap-south hangs")
        assert status(snap, "ap-south") == SourceStatus.STALE
        ap.clear()
        poll_until(source, lambda s: status(s, "ap-south") == SourceStatus.OK, "ap-south back")
    finally:
        ap.clear()
        world.set_state("us-east", "users", "closed")
        source.close()


def global_config(world):
    return load_config(no_file=True, env={}, overrides={
        "poll_interval_s": 1,
        "prometheus": {"url": world.servers["global"].url, "cluster_label": "cluster"}})


def test_the_federated_global_view_split_by_cluster_label(world):
    config = global_config(world)
    source = site_source(site_specs(config, contexts=["eu-west", "us-east"]), config)
    try:
        snap = poll_until(source, lambda s: (
            state_of(s, "eu-west", "payment-api"), state_of(s, "us-east", "payment-api")) == (
            "OPEN", "CLOSED") and any(a.site == "eu-west" for a in s.alerts),
            "payment-api OPEN in eu-west only, its alert eu-west's")
        # The same pod names in both clusters: kept apart, never a CONFLICT.
        assert [i.state.name for i in snap.by_key[("eu-west", "payment-api")].instances] == [
            "OPEN"] * 3
        assert [(h.name, h.sites, h.status) for h in snap.sources] == [
            ("global", ("eu-west", "us-east"), SourceStatus.OK)]
        # ALERTS federated with their server's cluster label: each its site's
        # (us-east's may still be there from the stalled-site test's change).
        assert "eu-west" in {a.site for a in snap.alerts} <= {"eu-west", "us-east"}
    finally:
        source.close()


async def test_the_command_line_without_a_config_file_shows_every_sites_rows(world, tmp_path):
    args = build_parser().parse_args([
        "--prometheus", world.servers["global"].url, "--cluster-label", "cluster",
        "--context", "eu-west", "--context", "us-east", "--poll", "1", "--no-config",
        "--state-dir", str(tmp_path)])
    app, _ = _build_app(args)
    assert list(app.mitigations.sites.sites) == ["eu-west", "us-east"]  # each row's site
    async with app.run_test(size=(160, 40)) as pilot:
        # What the board is handed: each site's rows (the board's CLUSTER
        # column is issue 18's board part).
        def regional_rows():
            snap = app.poller.snapshot
            return snap is not None and (state_of(snap, "eu-west", "payment-api"),
                                         state_of(snap, "us-east", "payment-api")) == (
                "OPEN", "CLOSED")

        await wait_until(pilot, regional_rows, "payment-api OPEN in eu-west, CLOSED in us-east",
                         deadline_s=60)
        assert "source: 2 sites: eu-west, us-east" in screen_text(app)


def test_one_source_without_sites_tells_its_partial_answers_too(world):
    from console.sources.prometheus.source import PrometheusSource

    eu = world.proxies["eu-west"]
    source = PrometheusSource(eu.url, timeout=5)
    try:
        snap = poll_until(source, lambda s: state_of(s, "", "payment-api") == "OPEN",
                          "payment-api OPEN, the one implicit site")
        assert snap.sources == () and snap.by_key[("", "payment-api")].site == ""  # as before
        eu.envelope = {"isPartial": True, "infos": ["PromQL info: metric might not be a counter"]}
        snap = source.poll()
        (health,) = snap.sources
        assert (health.status, health.sites, health.warnings) == (SourceStatus.PARTIAL, ("",), (
            "PromQL info: metric might not be a counter",
            "partial response (isPartial): some storage nodes did not answer"))
        eu.envelope = {}
        assert source.poll().sources == ()
    finally:
        eu.envelope = {}
        source.close()


def test_a_global_source_beside_a_site_with_its_own(world, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        "poll_interval_s = 1\n"
        f'[prometheus]\nurl = "{world.servers["global"].url}"\ncluster_label = "cluster"\n'
        "[sites.eu-west]\n"
        f'[sites.us-east.prometheus]\nurl = "{world.proxies["us-east"].url}"\n'
        f'tenant = "{TENANT}"\n')
    config = load_config(path, env={})
    source = site_source(site_specs(config), config)
    try:
        snap = poll_until(source, lambda s: (
            state_of(s, "eu-west", "payment-api"), state_of(s, "us-east", "payment-api")) == (
            "OPEN", "CLOSED") and all(h.status == SourceStatus.OK for h in s.sources),
            "eu-west from the global source, us-east from its own")
        assert [(h.name, h.sites) for h in snap.sources] == [
            ("us-east", ("us-east",)), ("global", ("eu-west",))]
        assert len([k for k in snap.by_key if k[0] == "us-east"]) == 2  # once, from its own
        # The global source's us-east series are us-east's own source's: no notice.
        assert not [n for n in snap.notices if "no such site" in n], snap.notices
    finally:
        source.close()


def test_a_warning_never_shows_a_secret(world, monkeypatch):
    from console.sources.prometheus.auth import PrometheusAuth
    from console.sources.prometheus.source import PrometheusSource

    monkeypatch.setenv("EU_TOKEN", "eu-token-0123456789")
    eu = world.proxies["eu-west"]
    source = PrometheusSource(eu.url, auth=PrometheusAuth(bearer_token_env="EU_TOKEN"))
    try:
        eu.warnings = ["store rejected eu-token-0123456789",
                       "upstream: Authorization: Basic dXNlcjpwYXNzd29yZA== refused"]
        (health,) = poll_until(source, lambda s: s.sources, "a PARTIAL poll").sources
        text = " ".join(health.warnings)
        assert "eu-token-0123456789" not in text and "dXNlcjpwYXNzd29yZA" not in text, text
        assert health.warnings[0].startswith("store rejected ")
    finally:
        eu.warnings = []
        source.close()


HUNG_SITE = """
import threading
from datetime import datetime, timezone
from console.model.fleet import FleetSnapshot
from console.sources.sites import Member, MultiSiteSource

class Hung:
    label = "hung"
    def poll(self):
        threading.Event().wait()  # a server that never answers, no timeout

class Fine:
    label = "fine"
    def poll(self):
        return FleetSnapshot(fetched_at=datetime.now(timezone.utc))

source = MultiSiteSource([Member("eu-west", Hung(), ("eu-west",), stamp="eu-west"),
                          Member("us-east", Fine(), ("us-east",), stamp="us-east")],
                         wait=0.2, first_wait=0.2)
print(source.poll().source_of("eu-west").status.value, flush=True)
"""


def test_a_hung_site_never_keeps_the_console_from_quitting():
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", HUNG_SITE], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert (done.returncode, done.stdout) == (0, "stale\n"), done.stderr
