"""A total deadline on every request: a server that trickles its answer a
byte at a time (tests/faultproxy.py's trickle, each byte well within the read
timeout) no longer holds a poll, a diagnosis read or an action as long as
bytes come. In front of a real Prometheus, the Kubernetes API test server
and the flag test server."""

from __future__ import annotations

import pytest

from console.app import CBConsoleApp
from console.sources.prometheus import PrometheusSource
from tests.faultproxy import FaultProxy
from tests.screen import wait_until
from tests.test_app_prometheus import row
from tests.test_faults_prometheus import header, prom  # noqa: F401 - the fixture
from widgets.board import BreakerBoard

INTERVAL = 0.3
TIMEOUT = 5.0  # per read: a trickled byte always comes well within it
DEADLINE = 1.5  # a poll's total


def trickling(proxy: FaultProxy) -> None:
    """One byte every 0.05 s: the headers alone take seconds, no read waits long."""
    proxy.trickle_bytes, proxy.trickle_interval = 1, 0.05
    proxy.set("trickle")


@pytest.fixture
def proxy(prom):  # noqa: F811 - the module fixture of test_faults_prometheus
    with FaultProxy("127.0.0.1", prom.port) as p:
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
        first = app.selected_service()
        await pilot.press("down")
        assert app.selected_service() != first
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


def test_the_poll_deadline_is_the_interval_at_least_twice_the_timeout():
    from console.config import Config

    assert Config().poll_deadline_s == 10.0  # 2 s polls, 5 s timeout
    assert Config(poll_interval_s=30).poll_deadline_s == 30.0
    assert Config(prometheus={"deadline_s": 3}).poll_deadline_s == 3.0
