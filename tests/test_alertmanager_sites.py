"""One Alertmanager paged from two clusters (issue 18): each site's page is
matched to its own site's alert, by the cluster label Prometheus adds to
every alert it sends (its external label). Real servers: two Prometheus with
`external_labels: {cluster: eu-west}` / `{cluster: us-east}`, both sending
payment-api's CircuitBreakerOpen to one real Alertmanager, and the console's
source over both sites as cbconsole's config builds the overlay."""

from __future__ import annotations

import time

import pytest

from console.config import load_config
from console.model.fleet import alerts_by_row
from console.sources.alertmanager_setup import with_alertmanager
from console.sources.prometheus.source import PrometheusSource
from console.sources.sites import Member, MultiSiteSource
from tests.alertmanager import SERVICE, Alertmanager, breaker_fleet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SITES = ("eu-west", "us-east")


@pytest.fixture
def two_clusters():
    manager = Alertmanager().wait_ready()
    fleets = [breaker_fleet([manager], cluster=site) for site in SITES]
    try:
        yield manager, {site: next(fleet)[1] for site, fleet in zip(SITES, fleets)}
    finally:
        for fleet in fleets:
            fleet.close()
        manager.stop()


def test_each_sites_page_is_matched_to_its_own_sites_alert(two_clusters, tmp_path):
    manager, backends = two_clusters
    # The on-call silenced eu-west's page only, as the console's own silence does.
    manager.silence({"alertname": "CircuitBreakerOpen", "service": SERVICE,
                     "cluster": "eu-west"}, "alice", "eu-west is being handled")
    path = tmp_path / "config.toml"
    path.write_text(f'[prometheus]\nurl = "{backends["eu-west"].url}"\ncluster_label = "cluster"\n'
                    f'[alertmanager]\nurl = ["{manager.url}"]\n')
    multi = MultiSiteSource([
        Member(site, PrometheusSource(backend.url, backfill_minutes=0, site=site), (site,),
               stamp=site) for site, backend in backends.items()], wait=10)
    source = with_alertmanager(multi, load_config(path), {site: site for site in SITES})
    try:
        deadline = time.monotonic() + 60
        while True:
            alerts = alerts_by_row(source.poll().alerts)
            rows = [alerts.get((site, SERVICE)) for site in SITES]
            if all(a is not None and a.pager is not None for a in rows) and rows[0].pager.silenced:
                break
            assert time.monotonic() < deadline, alerts
            time.sleep(0.5)
        west, east = rows
        assert west.pager.labels["cluster"] == "eu-west" and west.pager.silenced
        assert east.pager.labels["cluster"] == "us-east" and not east.pager.silenced
        assert west.state == east.state == "firing"
    finally:
        source.close()
