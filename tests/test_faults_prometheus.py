"""The fault matrix, Prometheus side: the console under network and backend
faults keeps running, says why in the header, keeps the last good board
(marked stale), answers keys, and recovers by itself when the fault clears.

Faults on the wire go through tests/faultproxy.py in front of one real
Prometheus (shared by this module); faulty answers come from StubPrometheus.
Prometheus killed and restarted under a running console (connection refused
mid-session, then recovery) is test_app_prometheus.py's
test_prometheus_killed_under_a_running_console, not repeated here.
"""

from __future__ import annotations

from collections import Counter

import threading
import time

import pytest

from console.ui.app import CBConsoleApp
from console.model.fleet import BreakerState as S
from console.sources.base import SourceError
from console.sources.prometheus.source import PrometheusSource
from tests.faultproxy import FaultProxy
from tests.fxprom import INTERVAL, TIMEOUT, header
from tests.promserver import (
    RUNBOOK_STATES,
    Backend,
    Exporter,
    StubPrometheus,
    fleet_handler,
    is_state_query,
    vector,
)
from tests.screen import rendered, row, wait_until
from widgets.board import BreakerBoard

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]



@pytest.fixture(scope="module")
def prom(fx_prometheus):
    return fx_prometheus


@pytest.fixture
def proxy(prom):
    with FaultProxy("127.0.0.1", prom.port) as p:
        yield p


class OnePollAtATime:
    """Wraps a source's poll: counts polls in flight at once, and good ones."""

    def __init__(self, source: PrometheusSource) -> None:
        self.most = self.good = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._poll = source.poll
        source.poll = self  # the app calls source.poll()

    def __call__(self):
        with self._lock:
            self._in_flight += 1
            self.most = max(self.most, self._in_flight)
        try:
            snapshot = self._poll()
            self.good += 1
            return snapshot
        finally:
            with self._lock:
                self._in_flight -= 1


def console(url: str, deadline: float | None = None) -> tuple[CBConsoleApp, PrometheusSource]:
    source = PrometheusSource(url, profile="runbook", backfill_minutes=5, timeout=TIMEOUT,
                              deadline=deadline)
    return CBConsoleApp(source, poll_interval=INTERVAL), source


async def keys_answer(pilot, board: BreakerBoard) -> None:
    await pilot.press("slash", "f", "x", "-", "p")
    assert board.services_shown == ["fx-pay"]
    await pilot.press("escape")
    assert len(board.services_shown) == 2


async def recovered(app, pilot, board: BreakerBoard) -> None:
    await wait_until(
        pilot,
        lambda: "STALE" not in header(app) and "last poll failed" not in header(app)
        and not board.has_class("-stale") and "OPEN" in row(board, "fx-pay"),
        "recovery once the fault cleared",
    )
    assert app.is_running


# --- On the wire, through the proxy ------------------------------------------------------


async def test_prometheus_down_at_start_then_up(proxy):
    proxy.set("refuse")  # nothing listens: as a Prometheus not started yet
    app, _ = console(proxy.url)
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        await wait_until(pilot, lambda: "STALE" in header(app), "STALE without data")
        text = header(app)
        assert "last poll: none yet" in text
        assert (f" STALE  no data: Prometheus at {proxy.url} unreachable: connection refused"
                in text), text
        assert board.row_count == 0 and board.has_class("-stale")
        await pilot.press("slash", "x")  # keys answer with nothing to show
        await pilot.press("escape")

        proxy.clear()  # Prometheus is up
        await recovered(app, pilot, board)
        # The board grows to two rows at its next layout: wait for it, not the clock.
        await wait_until(pilot, lambda: "3/3" in row(board, "fx-pay")
                         and "CLOSED" in row(board, "fx-users"), "both rows")
        assert "last poll: none yet" not in header(app)


FAULTS = {
    "reset": "unreachable: connection reset mid-answer",
    "stall": f"did not answer within {TIMEOUT:g} s (timeout)",
    "garbage": "answered something that is not HTTP",
}


@pytest.mark.parametrize("mode", list(FAULTS))
async def test_fault_mid_session_then_recovery(proxy, mode):
    app, source = console(proxy.url)
    polls = OnePollAtATime(source)
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        status = app.query_one("#status")
        await wait_until(pilot, lambda: "OPEN" in row(board, "fx-pay"), "first board")

        proxy.set(mode)
        reason = f"Prometheus at {proxy.url} {FAULTS[mode]}"
        await wait_until(pilot, lambda: f" STALE  {reason}" in header(app),
                         f"STALE with the {mode} reason")
        assert "last poll: " in header(app) and "none yet" not in header(app)
        # The last good board stays, marked stale; keys still answer.
        assert board.has_class("-stale") and status.has_class("-stale")
        assert "OPEN" in row(board, "fx-pay") and "3/3" in row(board, "fx-pay")
        assert "STALE" in rendered(status)
        await keys_answer(pilot, board)
        assert proxy.requests(mode=mode), "the fault never met a request"

        proxy.clear()
        await recovered(app, pilot, board)
    assert polls.most == 1  # polls never overlap, even when one outlasts the interval


async def test_slow_trickle_is_stale_meanwhile_and_delivers(proxy):
    """Answers a few bytes at a time: each poll takes seconds (longer than
    three intervals, within the poll's deadline). The header says so while it
    lasts, the data that does arrive is shown, and nothing runs twice at once.
    (Past the deadline: test_deadlines.py.)"""
    proxy.trickle_bytes, proxy.trickle_interval = 4, 0.01  # a poll: ~3 s
    app, source = console(proxy.url, deadline=120)
    polls = OnePollAtATime(source)
    async with app.run_test(size=(140, 40)) as pilot:
        board = app.query_one(BreakerBoard)
        await wait_until(pilot, lambda: "OPEN" in row(board, "fx-pay"), "first board")

        proxy.set("trickle")
        await wait_until(pilot, lambda: " STALE  no answer from the source for " in header(app),
                         "STALE while a poll trickles in")
        before = polls.good  # a trickled poll is in flight now
        assert board.has_class("-stale") and "OPEN" in row(board, "fx-pay")
        await keys_answer(pilot, board)
        # Slow is not broken: the trickled answer arrives and is used.
        await wait_until(pilot, lambda: polls.good > before, "a trickled poll completing")
        assert proxy.requests(mode="trickle")
        assert "last poll failed" not in header(app)  # nothing failed, it was slow

        proxy.clear()
        await recovered(app, pilot, board)
    assert polls.most == 1


def test_each_wire_fault_is_one_plain_source_error(proxy):
    """The same faults, source level, and the recovery after each."""
    source = PrometheusSource(proxy.url, backfill_minutes=5, timeout=TIMEOUT)
    assert source.poll().service("fx-pay").state == S.OPEN
    for mode, words in [("refuse", "unreachable: connection refused"), *FAULTS.items()]:
        proxy.set(mode)
        before = len(proxy.requests())
        with pytest.raises(SourceError) as err:
            source.poll()
        assert str(err.value) == f"Prometheus at {proxy.url} {words}", mode
        assert err.value.__context__ is None and err.value.__cause__ is None
        # No retry storm: the poll's queries (asked side by side) once each,
        # and at most the one quick retry of a refused connection (counted,
        # not timed: a loaded machine is slow).
        sent = proxy.requests()[before:]
        assert len(sent) <= source.queries_per_poll + 1, (mode, sent)
        assert max(Counter(sent).values(), default=0) <= 2, (mode, sent)
        proxy.clear()
        assert source.poll().service("fx-pay").state == S.OPEN, f"after {mode}"


# --- Answers that are wrong (StubPrometheus) ------------------------------------------------


async def test_bad_answers_keep_the_board_and_say_why():
    good = fleet_handler(2)
    answer: dict = {"bad": None}

    def handler(path, params, headers):
        if answer["bad"] is not None and path == "/api/v1/query":
            return answer["bad"]
        return good(path, params, headers)

    stub = StubPrometheus(handler)
    at = f"Prometheus at {stub.url}"
    cases = [
        ((503, "the TSDB is still loading"),
         f"{at} answered HTTP 503 Service Unavailable: the TSDB is still loading"),
        ((200, '{"status": "success", "data": {"result": ['),
         f"{at} answered malformed JSON: '{{\"status\": \"success\", \"data\": {{\"result\": ['"),
        ((200, {"status": "error", "errorType": "execution",
                "error": "query timed out in expression evaluation"}),
         (f"{at} answered an error to the state query: "
          "execution: query timed out in expression evaluation")),
    ]
    try:
        app = CBConsoleApp(PrometheusSource(stub.url, timeout=TIMEOUT), poll_interval=INTERVAL)
        async with app.run_test(size=(140, 40)) as pilot:
            board = app.query_one(BreakerBoard)
            await wait_until(pilot, lambda: board.row_count == 2, "first board")
            shown = list(board.services_shown)
            for bad, reason in cases:
                answer["bad"] = bad
                await wait_until(pilot, lambda r=reason: r in header(app), reason)
                assert board.services_shown == shown  # the last good board stays
                answer["bad"] = None
                await wait_until(pilot, lambda: "last poll failed" not in header(app)
                                 and "STALE" not in header(app), f"recovery after {bad}")
            # Held long enough, an error makes the board STALE, with the reason.
            answer["bad"] = cases[0][0]
            await wait_until(pilot, lambda: f" STALE  {cases[0][1]}" in header(app),
                             "STALE after repeated 503s")
            assert board.has_class("-stale") and board.services_shown == shown
            assert app.is_running
    finally:
        stub.stop()


async def test_nan_and_infinite_values_show_as_unknown():
    def handler(path, params, headers):
        q = params.get("query", "")
        pod = {"service": "odd-svc", "instance": "i"}
        if is_state_query(q):
            return 200, vector([({**pod, "state": "open"}, "NaN"),
                                ({**pod, "state": "closed"}, "+Inf"),
                                ({**pod, "state": "half_open"}, "-Inf")])
        if "failures" in q:
            return 200, vector([(pod, "+Inf")])
        if "successes" in q:
            return 200, vector([(pod, "NaN")])
        return fleet_handler(1)(path, params, headers)

    stub = StubPrometheus(handler)
    try:
        app = CBConsoleApp(PrometheusSource(stub.url, timeout=TIMEOUT), poll_interval=INTERVAL)
        async with app.run_test(size=(140, 40)) as pilot:
            board = app.query_one(BreakerBoard)
            await wait_until(pilot, lambda: "odd-svc" in row(board, "odd-svc"), "odd-svc")
            line = row(board, "odd-svc")
            assert "UNKNOWN" in line and "—" in line, line
            assert not any(w in line.lower() for w in ("nan", "inf")), line
            assert "last poll failed" not in header(app) and app.is_running
    finally:
        stub.stop()


def test_fifty_thousand_series_in_one_answer():
    """5,556 services x 3 instances x 3 states: 50,004 series in the state
    answer (and 16,668 in each rate answer). Not a timed test: a generous bound."""
    stub = StubPrometheus(fleet_handler(5556, 3))
    try:
        source = PrometheusSource(stub.url, timeout=30)
        started = time.monotonic()
        snap = source.poll()
        took = time.monotonic() - started
    finally:
        stub.stop()
    assert len(snap.services) == 5556
    assert all(len(s.instances) == 3 and s.state == S.CLOSED for s in snap.services)
    assert snap.service("s5555").instances[2].failure_rate == 0.5
    assert took < 30, f"{took:.1f}s"


def test_a_polls_queries_are_asked_side_by_side_under_its_one_deadline(proxy):
    """The state query held by the server: the rate queries were asked beside
    it, not after it, and the poll's one deadline (here shorter than a
    request's own timeout) ends them all with one plain error."""
    deadline = TIMEOUT / 2
    source = PrometheusSource(proxy.url, backfill_minutes=5, timeout=TIMEOUT, deadline=deadline)
    assert source.poll().service("fx-pay").state == S.OPEN  # the backfill done
    proxy.set("stall", path="circuit_breaker_state")
    before = len(proxy.seen)
    with pytest.raises(SourceError) as err:
        source.poll()
    assert str(err.value) == f"Prometheus at {proxy.url} timed out after {deadline:g} s"
    assert err.value.__context__ is None and err.value.__cause__ is None
    sent = proxy.seen[before:]
    assert [m for m, line in sent if "circuit_breaker_state" in line] == ["stall"], sent
    for metric in ("circuit_breaker_failures_total", "circuit_breaker_successes_total"):
        assert [m for m, line in sent if metric in line] == ["pass"], (metric, sent)
    proxy.clear()
    assert source.poll().service("fx-pay").state == S.OPEN
