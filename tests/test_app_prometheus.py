"""The console on a real Prometheus, as the operator sees it: each profile's
states on the board, and Prometheus killed and restarted under a running
console. This module runs its own Prometheus, since it kills it."""

from __future__ import annotations

import pytest

from console.ui.app import CBConsoleApp
from console.sources.prometheus.source import PrometheusSource
from tests.promserver import Backend, Exporter
from tests.screen import rendered, row, wait_until
from widgets.board import BreakerBoard

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

R4J_STATES = ("closed", "open", "half_open", "forced_open", "disabled", "metrics_only")


@pytest.fixture(scope="module")
def fleet():
    """An exporter with one fleet per profile, and a Prometheus scraping it."""
    ex = Exporter()
    changes = []
    for svc, current in (("ui-pay", "open"), ("ui-users", "closed")):
        for pod in ("a", "b", "c"):
            state = current if (svc, pod) != ("ui-users", "c") else "half_open"
            for s in ("closed", "open", "half_open"):
                labels = {"service": svc, "pod": f"{svc}-{pod}", "state": s}
                changes.append(("circuit_breaker_state", labels, 1 if s == state else 0))
    for name, current in (("ui-r4j-orders", "forced_open"), ("ui-r4j-stock", "half_open")):
        for s in R4J_STATES:
            labels = {"name": name, "pod": f"{name}-0", "state": s}
            changes.append(("resilience4j_circuitbreaker_state", labels, 1 if s == current else 0))
    changes.append(("envoy_cluster_circuit_breakers_default_rq_open", {"envoy_cluster_name": "ui-env-cart", "pod": "gw-0"}, 1))
    changes.append(("envoy_cluster_circuit_breakers_default_rq_open", {"cluster_name": "outbound|80||ui-env-tax.shop.svc.cluster.local", "pod": "gw-0"}, 0))
    ex.update(changes)
    backend = Backend("prometheus", ex.target)
    try:
        backend.wait_ready("envoy_cluster_circuit_breakers_default_rq_open", timeout=40)
        yield ex, backend
    finally:
        backend.stop()
        ex.close()


def count_polls(source) -> list[int]:
    """[polls finished]: the source's poll, counted."""
    done = [0]
    poll = source.poll

    def counted():
        try:
            return poll()
        finally:
            done[0] += 1

    source.poll = counted
    return done


@pytest.mark.parametrize(
    "profile, expected",
    [
        ("runbook", {"ui-pay": ("OPEN", "3/3"), "ui-users": ("HALF-OPEN", "1/3")}),
        ("resilience4j", {"ui-r4j-orders": ("FORCED-OPEN", "1/1"), "ui-r4j-stock": ("HALF-OPEN", "1/1")}),
        ("envoy", {"ui-env-cart": ("OPEN", "1/1"), "ui-env-tax": ("CLOSED", "1/1")}),
    ],
)
async def test_each_profile_shows_the_right_states_within_two_polls(fleet, profile, expected):
    _, backend = fleet
    interval = 1.0
    source = PrometheusSource(backend.url, profile=profile, backfill_minutes=5)
    polls = count_polls(source)
    app = CBConsoleApp(source, poll_interval=interval)
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        polls_when_shown = []

        def shown():
            if all(all(word in row(board, svc) for word in words)
                   for svc, words in expected.items()):
                polls_when_shown.append(polls[0])
                return True
            return False

        await wait_until(pilot, shown, f"{profile} states")
        assert polls_when_shown[0] <= 2, f"shown after {polls_when_shown[0]} polls"
        for svc, (word, split) in expected.items():
            line = row(board, svc)
            assert f"{word} " in line and split in line, line
        header = rendered(app.query_one("#status"))
        assert "Prometheus http://127.0.0.1" in header
        assert "cluster: none (cluster features unavailable)" in header


async def test_prometheus_killed_under_a_running_console(fleet):
    _, backend = fleet
    interval = 1.0
    source = PrometheusSource(backend.url, profile="runbook", backfill_minutes=5)
    polls = count_polls(source)
    app = CBConsoleApp(source, poll_interval=interval)
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        status = app.query_one("#status")
        await wait_until(pilot, lambda: "OPEN" in row(board, "ui-pay"), "first board")

        backend.kill()
        killed_at = polls[0]
        polls_when_stale = []

        def stale():
            if "STALE" in rendered(status):
                polls_when_stale.append(polls[0] - killed_at)
                return True
            return False

        await wait_until(pilot, stale, "STALE marker")
        # Stale means the last good poll is older than three intervals; the
        # poll in flight when the server died may have just succeeded.
        assert polls_when_stale[0] <= 5, f"STALE after {polls_when_stale[0]} polls"
        assert "connection refused" in rendered(status)
        assert board.has_class("-stale") and "OPEN" in row(board, "ui-pay")  # last data kept

        # Keys still answer during the outage.
        await pilot.press("slash", "u", "i", "-", "p")
        assert board.services_shown == ["ui-pay"]
        await pilot.press("escape")
        assert len(board.services_shown) == 2

        backend.start()
        await wait_until(
            pilot,
            lambda: "STALE" not in rendered(status) and not board.has_class("-stale"),
            "recovery after the restart",
        )
        assert "OPEN" in row(board, "ui-pay") and app.is_running
