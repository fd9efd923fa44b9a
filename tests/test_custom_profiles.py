"""The README's three worked custom profiles, read out of README.md and run as
written against a real Prometheus 2.42 and a real VictoriaMetrics."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from console.model import BreakerState as S
from console.sources.prometheus import PrometheusSource
from tests.promserver import Backend, Exporter, wait_until

pytestmark = pytest.mark.integration

README = (Path(__file__).parent.parent / "README.md").read_text()


def example(name: str) -> dict:
    blocks = re.findall(r"```toml\n(.*?)```", README, re.S)
    block = next(b for b in blocks if f"# example: {name}\n" in b)
    return tomllib.loads(block)["prometheus"]["custom_profile"]


@pytest.fixture(scope="module")
def exporter():
    ex = Exporter()
    ex.update([
        # state-label: phases in the library's own words and case.
        *[("breaker_status", {"target": "c1-pay", "host": "h1", "phase": p}, p == "Open")
          for p in ("Closed", "Open", "HalfOpen")],
        *[("breaker_status", {"target": "c1-users", "host": "h2", "phase": p}, p == "HalfOpen")
          for p in ("Closed", "Open", "HalfOpen")],
        ("breaker_calls_total", {"target": "c1-pay", "host": "h1", "result": "error"}, 0),
        ("breaker_calls_total", {"target": "c1-pay", "host": "h1", "result": "ok"}, 0),
        # state-number
        ("cb_state", {"service": "c2-pay", "pod": "p0"}, 2),
        ("cb_state", {"service": "c2-users", "pod": "p1"}, 1),
        ("cb_rejected_total", {"service": "c2-users", "pod": "p1"}, 0),
    ])
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def backends(exporter):
    started = {kind: Backend(kind, exporter.target) for kind in ("prometheus", "victoria-metrics")}
    yield started
    for backend in started.values():
        backend.stop()


@pytest.fixture(params=["prometheus", "victoria-metrics"])
def backend(request, backends) -> Backend:
    return backends[request.param].wait_ready("cb_state", timeout=60)


def poll_until(source, check, what: str, timeout: float = 60.0):
    last = []

    def attempt():
        snap = source.poll()
        last[:] = [snap]
        return snap if check(snap) else None

    try:
        return wait_until(attempt, timeout=timeout, interval=0.5, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast snapshot: {last[0] if last else None}") from None


def state(snap, service):
    return snap.service(service).state if snap.service(service) else None


def test_a_state_gauge_keyed_by_other_label_names(exporter, backend):
    exporter.inc("breaker_calls_total", 30, target="c1-pay", host="h1", result="error")
    exporter.inc("breaker_calls_total", 10, target="c1-pay", host="h1", result="ok")
    source = PrometheusSource(backend.url, profile=example("state-label"), backfill_minutes=0)
    snap = poll_until(source, lambda s: s.service("c1-pay") and s.service("c1-pay").failure_rate,
                      what="c1-pay with its failures")
    assert state(snap, "c1-pay") == S.OPEN
    assert state(snap, "c1-users") == S.HALF_OPEN  # "HalfOpen" is half-open
    assert [i.instance for i in snap.service("c1-pay").instances] == ["h1"]
    assert snap.service("c1-pay").error_percent > 50


def test_a_number_coded_state_gauge(exporter, backend):
    exporter.inc("cb_rejected_total", 50, service="c2-users", pod="p1")
    source = PrometheusSource(backend.url, profile=example("state-number"), backfill_minutes=0)
    snap = poll_until(source, lambda s: s.service("c2-users") and s.service("c2-users").rejected_rate,
                      what="c2-users with its rejections")
    assert state(snap, "c2-pay") == S.HALF_OPEN
    assert state(snap, "c2-users") == S.OPEN
    assert snap.service("c2-pay").instances[0].instance == "p0"


@pytest.mark.parametrize("kind", ["prometheus", "victoria-metrics"])
def test_only_event_counters(exporter, backends, kind):
    backend = backends[kind].wait_ready("cb_state", timeout=60)
    svc = f"c3-{kind}"
    exporter.inc("cb_transitions_total", 1, service=svc, to="open")
    source = PrometheusSource(backend.url, profile=example("counters-only"), backfill_minutes=0)
    poll_until(source, lambda s: state(s, svc) == S.OPEN, what=f"{svc} OPEN")
    exporter.inc("cb_transitions_total", 1, service=svc, to="half_open")
    poll_until(source, lambda s: state(s, svc) == S.HALF_OPEN, what=f"{svc} HALF-OPEN")
    exporter.inc("cb_transitions_total", 1, service=svc, to="closed")
    snap = poll_until(source, lambda s: state(s, svc) == S.CLOSED, what=f"{svc} CLOSED")
    assert snap.service(svc).instances[0].reported == (S.CLOSED,)  # one current, no CONFLICT
