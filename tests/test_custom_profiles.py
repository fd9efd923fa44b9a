"""The README's three worked custom profiles, read out of README.md and run as
written against a real Prometheus 2.42 and a real VictoriaMetrics."""

from __future__ import annotations

import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from console.model.fleet import BreakerState as S
from console.sources.prometheus.source import PrometheusSource
from tests.promserver import Backend, Exporter, poll_until

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


def counters_only_transitions(exporter, backend: Backend, svc: str):
    """OPEN, HALF-OPEN, CLOSED: each transition seen before the next is made."""
    source = PrometheusSource(backend.url, profile=example("counters-only"), backfill_minutes=0)
    exporter.inc("cb_transitions_total", 1, service=svc, to="open")
    poll_until(source, lambda s: state(s, svc) == S.OPEN, what=f"{svc} OPEN")
    exporter.inc("cb_transitions_total", 1, service=svc, to="half_open")
    poll_until(source, lambda s: state(s, svc) == S.HALF_OPEN, what=f"{svc} HALF-OPEN")
    exporter.inc("cb_transitions_total", 1, service=svc, to="closed")
    return poll_until(source, lambda s: state(s, svc) == S.CLOSED, what=f"{svc} CLOSED")


@pytest.mark.slow
def test_only_event_counters(exporter, backends):
    """On both backends side by side: the profile's 15 s subquery step makes
    each transition wait for the next step, about 15 s each, on either."""
    ready = {kind: b.wait_ready("cb_state", timeout=60) for kind, b in backends.items()}
    with ThreadPoolExecutor(len(ready)) as pool:
        runs = {kind: pool.submit(counters_only_transitions, exporter, backend, f"c3-{kind}")
                for kind, backend in ready.items()}
        snaps = {kind: run.result() for kind, run in runs.items()}
    for kind, snap in snaps.items():
        # one current state, no CONFLICT
        assert snap.service(f"c3-{kind}").instances[0].reported == (S.CLOSED,), kind
