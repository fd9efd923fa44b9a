"""The demo's two sites (`cbconsole --demo`): payment-api's bad rollout in
eu-west only, each site its own simulated cluster, the same seed the same
story."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.clock import FakeClock
from console.demo import DemoSites
from console.model.fleet import BreakerState as S
from console.model.fleet import SourceStatus
from tests.demofleet import NS

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)


def run(seconds: float, seed: int = 7):
    clock = FakeClock(T0)
    sites = DemoSites(seed=seed, clock=clock)
    snaps = []
    for _ in range(int(seconds)):
        clock.advance(1.0)
        snaps.append(sites.poll())
    return sites, clock, snaps


def test_payment_api_opens_in_eu_west_and_stays_closed_in_us_east():
    _, _, snaps = run(42)
    last = snaps[-1]
    assert last.by_key[("eu-west", "payment-api")].state is S.OPEN
    assert last.by_key[("eu-west", "payment-api")].split == (3, 3)
    # us-east never saw the rollout: closed throughout, inventory-svc never flaps there.
    for snap in snaps:
        assert snap.by_key[("us-east", "payment-api")].state is S.CLOSED
        assert snap.by_key[("us-east", "inventory-svc")].state is S.CLOSED
    assert any(s.by_key[("eu-west", "inventory-svc")].state is S.OPEN for s in snaps)
    # Twelve services in each site, each row and transition stamped with its site.
    assert sorted({s.site for s in last.services}) == ["eu-west", "us-east"]
    assert len(last.services) == 24
    seen = [t for snap in snaps for t in snap.transitions]
    assert seen and {t.site for t in seen} == {"eu-west"}
    assert [(h.name, h.sites, h.status) for h in last.sources] == [
        ("eu-west", ("eu-west",), SourceStatus.OK), ("us-east", ("us-east",), SourceStatus.OK)]


def test_each_site_is_its_own_cluster():
    sites, clock, _ = run(10)
    east, west = sites.clusters["us-east"], sites.clusters["eu-west"]
    assert sites.cluster is west and sites.flags is sites.flag_sources["eu-west"]
    assert (east.label, west.label) == ("demo-us-east", "demo-eu-west")
    assert west.rollout_history(NS, "payment-api")[-1].change_cause.startswith(
        "deploy payment-api v2.8.0")
    assert east.rollout_history(NS, "payment-api")[-1].change_cause.startswith(
        "deploy payment-api v2.7.4")
    # A flag turned off in us-east leaves eu-west's alone.
    sites.flag_sources["us-east"].set_flag("payment-api-integration", False)
    assert sites.flag_sources["eu-west"].get_flag("payment-api-integration").enabled
    assert not sites.flag_sources["us-east"].get_flag("payment-api-integration").enabled


def test_the_same_seed_tells_the_same_story():
    _, _, a = run(30)
    _, _, b = run(30)
    assert a == b
    _, _, c = run(30, seed=8)
    assert c != a
