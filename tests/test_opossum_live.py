"""The opossum profile, live: a Node.js service (tests/opossum/service.js)
with the real npm packages opossum, opossum-prometheus and prom-client (from
tests/opossum/package-lock.json, installed by `make test`), four breakers
around a downstream this test runs, scraped by a real Prometheus 2.42 and a
real VictoriaMetrics. The board is compared with the service's own view of
its breakers (its /breakers endpoint)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from console.model.fleet import BreakerState as S
from console.model.fleet import Observed
from console.sources.prometheus.profiles import opossum_profile
from console.sources.prometheus.source import PrometheusSource
from console.sources.prometheus.impact import impact
from tests.promserver import Backend, free_port, wait_until
from widgets import text as fmt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICE = Path(__file__).parent / "opossum"
FLAP_S = 4.0  # the flapping downstream fails this long, then serves this long
OPOSSUM = opossum_profile(window="5s", lookback="10m", step="1s")
BOARD = {"open": S.OPEN, "halfOpen": S.HALF_OPEN, "closed": S.CLOSED}


class Downstream:
    """/healthy answers 200, /failing 500, /slow after a second (over the
    breaker's 300 ms timeout), /flapping 500 then 200, FLAP_S each."""

    def __init__(self) -> None:
        start = time.monotonic()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/slow":
                    time.sleep(1.0)
                bad = int((time.monotonic() - start) / FLAP_S) % 2 == 0
                code = {"/failing": 500, "/flapping": 500 if bad else 200}.get(self.path, 200)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def service():
    node = shutil.which("node")
    if node is None or not (SERVICE / "node_modules" / "opossum").is_dir():
        pytest.fail("Node.js or the service's npm packages missing: run make test "
                    "(apt-get install nodejs npm; cd tests/opossum && npm ci)", pytrace=False)
    downstream = Downstream()
    port = free_port()
    proc = subprocess.Popen([node, "service.js", str(port), downstream.url], cwd=SERVICE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"the Node.js service exited: {proc.stdout.read().decode()}")
        try:
            return urllib.request.urlopen(url + "/breakers", timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=30, what="the Node.js service")
        yield f"127.0.0.1:{port}", url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        downstream.close()


@pytest.fixture(scope="module")
def backends(service):
    started = {kind: Backend(kind, service[0]) for kind in ("prometheus", "victoria-metrics")}
    yield started
    for backend in started.values():
        backend.stop()


@pytest.fixture(params=["prometheus", "victoria-metrics"])
def backend(request, backends) -> Backend:
    return backends[request.param].wait_ready('circuit{event="fire"}', timeout=60)


def own_view(url: str) -> dict[str, S]:
    with urllib.request.urlopen(url + "/breakers", timeout=5) as r:
        return {name: BOARD[state] for name, state in json.load(r).items()}


def test_opossum_breakers_on_the_board_as_the_service_sees_them(service, backend):
    source = PrometheusSource(backend.url, profile=OPOSSUM, backfill_minutes=0)
    seen_flapping: list[S] = []
    last: list = []

    def agrees():
        snap = source.poll()
        own = own_view(service[1])
        last[:] = [snap, own]
        flapping = snap.service("flapping")
        if flapping and (not seen_flapping or seen_flapping[-1] != flapping.state):
            seen_flapping.append(flapping.state)
        board = {n: snap.service(n).state for n in ("healthy", "failing", "slow")
                 if snap.service(n)}
        healthy = snap.service("healthy")
        return (board == {n: own[n] for n in board} and len(board) == 3
                and healthy.error_percent == 0.0)

    try:
        wait_until(agrees, timeout=60, interval=0.5, what="the board to match /breakers")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nboard: {last[0] if last else None}\n"
                             f"service: {last[1] if last else None}") from None
    snap, own = last
    assert snap.service("failing").state in (S.OPEN, S.HALF_OPEN)  # probes fail
    assert own["failing"] in (S.OPEN, S.HALF_OPEN)
    assert snap.service("healthy").state == S.CLOSED
    assert fmt.percent(snap.service("healthy").error_percent).plain == "0.0%"
    assert snap.service("healthy").rejected_rate == 0.0  # never rejected: 0, not unknown

    # The flapping breaker: OPEN while its downstream fails, CLOSED again after.
    def flapped():
        snap = source.poll()
        state = snap.service("flapping").state if snap.service("flapping") else None
        if state and (not seen_flapping or seen_flapping[-1] != state):
            seen_flapping.append(state)
        opened = S.OPEN in seen_flapping
        return opened and S.CLOSED in seen_flapping[seen_flapping.index(S.OPEN):]

    wait_until(flapped, timeout=8 * FLAP_S + 20, interval=0.5,
               what=f"flapping OPEN then CLOSED (seen {seen_flapping})")
    source.close()

    # A console started now reads the same flaps back from history (the state
    # query as a range query): OPEN, then CLOSED again, for the flapper only.
    restarted = PrometheusSource(backend.url, profile=OPOSSUM, backfill_minutes=5)
    try:
        history = [t for t in restarted.poll().transitions if t.observed == Observed.BACKFILL]
    finally:
        restarted.close()
    flaps = sorted((t for t in history if t.service == "flapping"), key=lambda t: t.at)
    # The history may start OPEN (a first scrape after the first opening):
    # the states it went through, the first one included.
    states = [flaps[0].from_state, *(t.to_state for t in flaps)] if flaps else []
    assert S.OPEN in states and S.CLOSED in states[states.index(S.OPEN) + 1:], flaps
    assert not [t for t in history if t.service == "healthy"], history


def test_opossum_impact_counts_what_the_callers_saw(service, backend):
    """The postmortem's impact query on opossum's counters: the always-failing
    breaker's callers saw every call fail or be rejected, the healthy one's none."""
    def counted():
        end = datetime.now(timezone.utc)
        found = impact(backend.url, OPOSSUM, ["healthy", "failing"], end - timedelta(seconds=15), end)
        return found if found.per_service["healthy"].get("successes") else None

    found = wait_until(counted, timeout=60, interval=1.0, what="opossum counters to count")
    healthy, failing = found.per_service["healthy"], found.per_service["failing"]
    assert healthy["failures"] == 0 and healthy["rejected"] == 0, healthy
    assert failing.get("successes", 0) == 0, failing
    assert failing["failures"] + failing["rejected"] > 0, failing
