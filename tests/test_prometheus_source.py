"""PrometheusSource against real servers: a Prometheus 2.42 and a
VictoriaMetrics (the Debian packages), both scraping an exporter run in this
process every second, plus a stub HTTP server for misbehaving answers.

The servers are shared by the whole session (the first sample takes ~5 s).
Each test uses its own service names, so tests do not interfere; they change
the exporter's series, then poll with a deadline until the backend shows it.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from console.model.fleet import BreakerState as S
from console.model.fleet import FleetSnapshot, Observed
from console.sources.base import BreakerSource, SourceError
from console.sources.prometheus.source import ConfigError, PrometheusAuth, PrometheusSource
from tests.promserver import (
    RUNBOOK_STATES,
    Backend,
    Exporter,
    StubPrometheus,
    fleet_handler,
    free_port,
    is_state_query,
    poll_until,
    vector,
    wait_until,
)

pytestmark = pytest.mark.integration

R4J_STATES = ("closed", "open", "half_open", "forced_open", "disabled", "metrics_only")
R4J_CALLS = "resilience4j_circuitbreaker_calls_seconds_count"


# --- Exporter helpers --------------------------------------------------------------


def runbook_state(ex: Exporter, service: str, state: str, pod: str | None = None,
                  keep_old: bool = False) -> None:
    """Set the current state; with keep_old, like the runbook's gauge snippet:
    set the new state to 1 and never clear the old one."""
    extra = {"pod": pod} if pod else {}
    changes = [("circuit_breaker_state", {"service": service, "state": state, **extra}, 1)]
    if not keep_old:
        changes += [
            ("circuit_breaker_state", {"service": service, "state": s, **extra}, 0)
            for s in RUNBOOK_STATES
            if s != state
        ]
    ex.update(changes)


def r4j_state(ex: Exporter, name: str, state: str, pod: str | None = None) -> None:
    extra = {"pod": pod} if pod else {}
    ex.update([
        ("resilience4j_circuitbreaker_state", {"name": name, "state": s, **extra},
         1 if s == state else 0)
        for s in R4J_STATES
    ])


def counters(ex: Exporter, names: list[tuple[str, dict]]) -> None:
    ex.update([(name, labels, 0) for name, labels in names])


# --- Session fixtures: the exporter and the two servers ----------------------------

# Counters the tests increment: present at 0 from the first scrape, so that
# rate() sees the increments.
SEEDED_COUNTERS = [
    ("circuit_breaker_failures_total", {"service": "rb-closed"}),
    ("circuit_breaker_successes_total", {"service": "rb-closed"}),
    ("circuit_breaker_failures_total", {"service": "rb-ghost"}),
    ("circuit_breaker_failures_total", {"service": "cu-pay"}),
    ("circuit_breaker_failures_total", {"service": "vm-closed"}),
    (R4J_CALLS, {"name": "r4j-open", "kind": "failed"}),
    (R4J_CALLS, {"name": "r4j-open", "kind": "successful"}),
    ("resilience4j_circuitbreaker_not_permitted_calls_total",
     {"name": "r4j-open", "kind": "not_permitted"}),
    ("envoy_cluster_upstream_rq_xx",
     {"envoy_cluster_name": "env-rq", "envoy_response_code_class": "5"}),
    ("envoy_cluster_upstream_rq_xx",
     {"envoy_cluster_name": "env-rq", "envoy_response_code_class": "2"}),
    ("envoy_cluster_upstream_rq_pending_overflow", {"envoy_cluster_name": "env-rq"}),
]


@pytest.fixture(scope="session")
def exporter():
    ex = Exporter()
    ex.set("cbtest_up", 1)
    counters(ex, SEEDED_COUNTERS)
    runbook_state(ex, "bf-svc", "closed", pod="bf-pod")  # the backfill test's start
    # VictoriaMetrics shows a new series only after 7-10 s, a changed value
    # after ~2 s: its test's series exist from the start.
    vm_fleet(ex)
    yield ex
    ex.close()


@pytest.fixture(scope="session")
def backends(exporter):
    """Start both servers at once: they warm up while the first tests run."""
    started: dict[str, Backend | str] = {}
    for kind in ("prometheus", "victoria-metrics"):
        try:
            started[kind] = Backend(kind, exporter.target)
        except RuntimeError as exc:
            started[kind] = str(exc)
    yield started
    for backend in started.values():
        if isinstance(backend, Backend):
            backend.stop()


def _backend(backends, kind: str) -> Backend:
    backend = backends[kind]
    if not isinstance(backend, Backend):
        pytest.fail(f"{backend}", pytrace=False)  # never skip: say how to install it
    return backend.wait_ready("cbtest_up")


@pytest.fixture(scope="session")
def prom(backends) -> Backend:
    return _backend(backends, "prometheus")


@pytest.fixture(scope="session")
def vm(backends) -> Backend:
    return _backend(backends, "victoria-metrics")


def states(snap: FleetSnapshot, service: str) -> list[S]:
    s = snap.service(service)
    return [i.state for i in s.instances] if s else []


# --- Each profile on real series ---------------------------------------------------


def test_runbook_profile_states_rates_instances_conflict(exporter, prom):
    runbook_state(exporter, "rb-closed", "closed")
    runbook_state(exporter, "rb-open", "open")
    runbook_state(exporter, "rb-half", "half_open")
    for pod, state in (("p1", "open"), ("p2", "open"), ("p3", "closed")):
        runbook_state(exporter, "rb-multi", state, pod=pod)
    runbook_state(exporter, "rb-conflict", "closed")
    runbook_state(exporter, "rb-conflict", "open", keep_old=True)  # the runbook snippet
    # (A NaN open gauge also silences the runbook's alert: sum() is NaN, NaN > 0 false.)
    exporter.set("circuit_breaker_state", float("nan"), service="rb-nan", state="open")
    exporter.update([  # every state at 0: reports none
        ("circuit_breaker_state", {"service": "rb-zero", "state": s}, 0) for s in RUNBOOK_STATES
    ])
    exporter.inc("circuit_breaker_failures_total", 30, service="rb-closed")
    exporter.inc("circuit_breaker_successes_total", 90, service="rb-closed")
    exporter.inc("circuit_breaker_failures_total", 30, service="rb-ghost")  # no state series

    source = PrometheusSource(prom.url, profile="runbook")
    assert isinstance(source, BreakerSource)
    assert source.label == f"Prometheus {prom.url} (runbook)"

    def ready(snap):
        closed = snap.service("rb-closed")
        return (
            states(snap, "rb-conflict") == [S.CONFLICT]
            and snap.service("rb-multi") and len(snap.service("rb-multi").instances) == 3
            and closed and closed.failure_rate and closed.success_rate
            and snap.service("rb-ghost") and snap.service("rb-ghost").failure_rate
            and snap.service("rb-nan") and snap.service("rb-zero")
        )

    snap = poll_until(source, ready, what="runbook series")
    assert states(snap, "rb-closed") == [S.CLOSED]
    assert states(snap, "rb-open") == [S.OPEN]
    assert states(snap, "rb-half") == [S.HALF_OPEN]
    # No pod label: the scrape's instance label names the instance.
    assert snap.service("rb-open").instances[0].instance == exporter.target

    multi = snap.service("rb-multi")
    assert [i.instance for i in multi.instances] == ["p1", "p2", "p3"]  # pod preferred
    assert multi.state == S.OPEN and multi.split == (2, 3)

    conflict = snap.service("rb-conflict").instances[0]
    assert conflict.state == S.CONFLICT
    assert set(conflict.reported) == {S.OPEN, S.CLOSED}

    closed = snap.service("rb-closed")
    assert closed.failure_rate > 0 and closed.success_rate > closed.failure_rate
    assert 10 < closed.error_percent < 40  # 30 failed for 90 successful
    assert closed.instances[0].rejected_rate is None  # the runbook exports none

    ghost = snap.service("rb-ghost").instances[0]
    assert ghost.state == S.UNKNOWN and ghost.reported == () and ghost.failure_rate > 0
    # A NaN state value is not "current"; nor is a 0.
    assert states(snap, "rb-nan") == [S.UNKNOWN]
    assert states(snap, "rb-zero") == [S.UNKNOWN]
    # The poll's state answer: the series at 1, and all of an instance with none.
    answer = Counter(s["metric"]["service"] for s in prom.query(source.profile.queries["state"]))
    assert answer["rb-closed"] == answer["rb-open"] == answer["rb-nan"] == 1
    assert answer["rb-conflict"] == 2 and answer["rb-multi"] == 3
    assert answer["rb-zero"] == len(RUNBOOK_STATES)

    assert source.queries_per_poll == 4  # state, failures, successes, alert
    assert source.last_poll_queries == 4, list(source._client.recent)  # a steady poll
    assert snap.notices == ()  # Prometheus with the rule loaded: nothing to say


def test_resilience4j_profile(exporter, prom):
    for state in R4J_STATES:
        r4j_state(exporter, f"r4j-{state}", state)
    for pod, state in (("a", "open"), ("b", "closed"), ("c", "open")):
        r4j_state(exporter, "r4j-multi", state, pod=pod)
    exporter.set("resilience4j_circuitbreaker_state", 1, name="r4j-closed", state="open")
    exporter.set("resilience4j_circuitbreaker_failure_rate", -1, name="r4j-closed")
    exporter.set("resilience4j_circuitbreaker_failure_rate", 62.5, name="r4j-open")
    exporter.inc(R4J_CALLS, 40, name="r4j-open", kind="failed")
    exporter.inc(R4J_CALLS, 20, name="r4j-open", kind="successful")
    exporter.inc("resilience4j_circuitbreaker_not_permitted_calls_total", 50,
                 name="r4j-open", kind="not_permitted")

    source = PrometheusSource(prom.url, profile="resilience4j")

    def ready(snap):
        op = snap.service("r4j-open")
        return (
            op and op.failure_rate and op.rejected_rate and op.success_rate
            and states(snap, "r4j-closed") == [S.CONFLICT]
            and snap.service("r4j-multi") and len(snap.service("r4j-multi").instances) == 3
            and snap.service("r4j-metrics_only")
        )

    snap = poll_until(source, ready, what="resilience4j series")
    assert states(snap, "r4j-half_open") == [S.HALF_OPEN]
    assert states(snap, "r4j-forced_open") == [S.FORCED_OPEN]
    assert states(snap, "r4j-disabled") == [S.DISABLED]
    assert states(snap, "r4j-metrics_only") == [S.DISABLED]  # calls pass unguarded
    assert snap.service("r4j-multi").split == (2, 3)
    assert snap.service("r4j-multi").state == S.OPEN

    opened = snap.service("r4j-open").instances[0]
    assert opened.state == S.OPEN
    assert opened.failure_rate > opened.success_rate > 0
    assert opened.rejected_rate > 0
    assert opened.breaker_failure_percent == 62.5

    conflict = snap.service("r4j-closed").instances[0]
    assert set(conflict.reported) == {S.OPEN, S.CLOSED}
    assert conflict.breaker_failure_percent == -1.0  # too few calls: shown so, not a rate
    assert snap.service("r4j-half_open").instances[0].breaker_failure_percent is None

    assert source.queries_per_poll == 7


def test_envoy_profile_native_and_istio_labels(exporter, prom):
    rq, cx = (
        "envoy_cluster_circuit_breakers_default_rq_open",
        "envoy_cluster_circuit_breakers_default_cx_open",
    )
    istio_cluster = "outbound|8000||payments.shop.svc.cluster.local"
    istio = "payments.shop"  # as shown
    exporter.update([
        (rq, {"envoy_cluster_name": "env-rq"}, 1),
        (cx, {"envoy_cluster_name": "env-rq"}, 0),
        (rq, {"envoy_cluster_name": "env-cx"}, 0),
        (cx, {"envoy_cluster_name": "env-cx"}, 1),
        (rq, {"envoy_cluster_name": "env-closed"}, 0),
        (cx, {"envoy_cluster_name": "env-closed"}, 0),
        # Istio relabels the cluster to cluster_name, per pod.
        (rq, {"cluster_name": istio_cluster, "pod": "web-1"}, 1),
        (rq, {"cluster_name": istio_cluster, "pod": "web-2"}, 0),
        (rq, {"cluster_name": istio_cluster, "pod": "web-3"}, 1),
        ("envoy_cluster_outlier_detection_ejections_active", {"envoy_cluster_name": "env-rq"}, 2),
    ])
    exporter.inc("envoy_cluster_upstream_rq_xx", 60, envoy_cluster_name="env-rq",
                 envoy_response_code_class="5")
    exporter.inc("envoy_cluster_upstream_rq_xx", 30, envoy_cluster_name="env-rq",
                 envoy_response_code_class="2")
    exporter.inc("envoy_cluster_upstream_rq_pending_overflow", 25, envoy_cluster_name="env-rq")

    source = PrometheusSource(prom.url, profile="envoy")

    def ready(snap):
        env = snap.service("env-rq")
        return (
            env and env.failure_rate and env.rejected_rate
            and snap.service(istio) and len(snap.service(istio).instances) == 3
            and snap.service("env-cx")
        )

    snap = poll_until(source, ready, what="envoy series")
    assert states(snap, "env-rq") == [S.OPEN]
    assert states(snap, "env-cx") == [S.OPEN]
    assert states(snap, "env-closed") == [S.CLOSED]
    mesh = snap.service(istio)
    assert mesh.state == S.OPEN and mesh.split == (2, 3)
    assert [i.instance for i in mesh.instances] == ["web-1", "web-2", "web-3"]
    env = snap.service("env-rq").instances[0]
    assert env.ejected_hosts == 2
    assert env.failure_rate > env.success_rate > 0 and env.rejected_rate > 0
    assert not any(S.HALF_OPEN in states(snap, s.service) for s in snap.services)
    assert source.queries_per_poll == 7


def test_custom_profile_and_a_bad_query(exporter, prom):
    runbook_state(exporter, "cu-pay", "open")
    exporter.inc("circuit_breaker_failures_total", 10, service="cu-pay")
    config = {
        "state": 'max by (service, instance, state) (circuit_breaker_state{service=~"cu-.*"})',
        "failures": "sum by (service, instance) (rate(circuit_breaker_failures_total[1m]))",
        "service_label": "service",
        "instance_label": "instance",
        "interval_metric": "circuit_breaker_state",
    }
    source = PrometheusSource(prom.url, profile=config)
    snap = poll_until(
        source,
        # Both the new state series and the rate must have been scraped.
        lambda s: s.service("cu-pay") and s.service("cu-pay").failure_rate
        and states(s, "cu-pay") == [S.OPEN],
        what="the custom profile's series",
    )
    assert states(snap, "cu-pay") == [S.OPEN]
    # The failures query is not filtered: the other services show by their
    # rates only, state unknown.
    assert all(s.state == S.UNKNOWN for s in snap.services if s.service != "cu-pay")
    assert source.queries_per_poll == 3

    bad = PrometheusSource(prom.url, profile={**config, "failures": "sum(rate(x[1m]"})
    with pytest.raises(ConfigError) as err:
        bad.poll()
    message = str(err.value)
    assert "sum(rate(x[1m]" in message  # names the query
    assert "parse error" in message  # Prometheus' own words
    assert "custom profile's failures" in message


# --- History: backfill, then live -----------------------------------------------------


@pytest.mark.slow
def test_backfill_then_live_without_gaps_or_duplicates(exporter, prom, vm):
    # bf-svc has been closed since the session started.
    changes = []
    for state in ("open", "half_open", "closed"):
        runbook_state(exporter, "bf-svc", state, pod="bf-pod")
        changes.append((state, time.time()))
        time.sleep(2.2)  # more than two scrape intervals
    wait_until(
        lambda: prom.query('circuit_breaker_state{service="bf-svc",state="closed"} == 1'),
        what="the last change in Prometheus",
    )

    source = PrometheusSource(prom.url, profile="runbook")
    first = source.poll()
    assert source.scrape_interval_s == pytest.approx(1.0, abs=0.05)
    got = [t for t in first.transitions if t.service == "bf-svc"]
    expected = [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert [(t.from_state.value, t.to_state.value) for t in got] == expected
    assert all(t.observed == Observed.BACKFILL and t.instance == "bf-pod" for t in got)
    for t, (_, when) in zip(got, changes):
        # Seen at the first evaluation step after the first scrape after the change.
        assert when - 0.1 <= t.at.timestamp() <= when + 2.0 + 0.1, (t, when)
    bf = first.service("bf-svc")
    assert bf.state == S.CLOSED
    assert bf.since == got[-1].at and bf.last_transition == got[-1]

    # VictoriaMetrics scrapes the same exporter: the same history.
    wait_until(
        lambda: vm.query('circuit_breaker_state{service="bf-svc",state="closed"} == 1'),
        what="the last change in VictoriaMetrics",
    )
    from_vm = [t for t in PrometheusSource(vm.url).poll().transitions if t.service == "bf-svc"]
    assert [(t.from_state.value, t.to_state.value) for t in from_vm] == expected
    for t, (_, when) in zip(from_vm, changes):
        assert when - 0.1 <= t.at.timestamp() <= when + 2.0 + 0.1, (t, when)

    # Live: one more change, seen once, as LIVE, continuing the history.
    runbook_state(exporter, "bf-svc", "open", pod="bf-pod")
    opened = time.time()
    snap = poll_until(source, lambda s: states(s, "bf-svc") == [S.OPEN], what="live open")
    live = [t for t in source.seen_transitions if t.service == "bf-svc"]
    assert len(live) == 1, live
    assert (live[0].from_state, live[0].to_state) == (S.CLOSED, S.OPEN)
    assert live[0].observed == Observed.LIVE
    assert opened <= live[0].at.timestamp() <= time.time()
    assert snap.service("bf-svc").since == live[0].at
    assert snap.service("bf-svc").last_transition == live[0]
    again = source.poll()
    assert [t for t in again.transitions if t.service == "bf-svc"] == []
    runbook_state(exporter, "bf-svc", "closed", pod="bf-pod")


# --- Alerts -----------------------------------------------------------------------------


@pytest.mark.slow
def test_runbook_alert_fires_with_its_activation_time(exporter, prom):
    # The runbook's rule sums every service: start from nothing open.
    exporter.set_where("circuit_breaker_state", 0, state="open")
    source = PrometheusSource(prom.url, profile="runbook")
    by_service = PrometheusSource(prom.url, profile="runbook",
                                  alert_name="CircuitBreakerOpenByService")
    poll_until(source, lambda s: not s.alerts, what="no alert active")

    runbook_state(exporter, "al-svc", "open")
    opened = time.time()
    pending = poll_until(source, lambda s: s.alerts, what="the alert")
    snap = poll_until(source, lambda s: s.alerts and s.alerts[0].state == "firing",
                      what="the alert firing")
    fired = time.time()
    (alert,) = snap.alerts
    assert alert.name == "CircuitBreakerOpen"
    assert alert.service is None  # sum() drops the service label
    [for_state] = prom.query('ALERTS_FOR_STATE{alertname="CircuitBreakerOpen"}')
    assert alert.active_at.timestamp() == float(for_state["value"][1])
    # Active once scraped and evaluated (a scrape and an evaluation interval
    # each), to the second; firing `for:` 2 s later.
    assert opened - 1 <= alert.active_at.timestamp() <= opened + 3
    assert fired >= alert.active_at.timestamp() + 2
    assert pending.alerts[0].active_at == alert.active_at
    assert snap.notices == ()

    kept = poll_until(by_service, lambda s: s.alerts, what="the per-service alert")
    assert [(a.name, a.service) for a in kept.alerts] == [("CircuitBreakerOpenByService", "al-svc")]
    runbook_state(exporter, "al-svc", "closed")

    # A misnamed alert: no ALERTS and no such rule, so the state is unknown.
    misnamed = PrometheusSource(prom.url, alert_name="CircuitBreakerIsOpen").poll()
    assert misnamed.alerts == ()
    assert any("no alerting rule CircuitBreakerIsOpen" in n for n in misnamed.notices)


# --- VictoriaMetrics --------------------------------------------------------------------


def vm_fleet(ex: Exporter) -> None:
    runbook_state(ex, "vm-open", "open")
    ex.update([("circuit_breaker_state", {"service": "vm-zero", "state": s}, 0)
               for s in RUNBOOK_STATES])
    runbook_state(ex, "vm-closed", "closed")
    for pod, state in (("v1", "half_open"), ("v2", "closed")):
        runbook_state(ex, "vm-multi", state, pod=pod)


def test_victoriametrics_states_and_no_alerts_notice(exporter, vm):
    vm_fleet(exporter)
    exporter.inc("circuit_breaker_failures_total", 30, service="vm-closed")
    source = PrometheusSource(vm.url, profile="runbook")

    def ready(snap):
        return (
            states(snap, "vm-open") == [S.OPEN]
            and snap.service("vm-multi") and len(snap.service("vm-multi").instances) == 2
            and snap.service("vm-closed") and snap.service("vm-closed").failure_rate
            and snap.service("vm-zero")
        )

    snap = poll_until(source, ready, timeout=25, what="VictoriaMetrics series")
    assert states(snap, "vm-closed") == [S.CLOSED]
    assert states(snap, "vm-zero") == [S.UNKNOWN]
    # The poll's filtered state query means the same in MetricsQL.
    answer = Counter(s["metric"]["service"] for s in vm.query(source.profile.queries["state"]))
    assert answer["vm-closed"] == answer["vm-open"] == 1 and answer["vm-multi"] == 2
    assert answer["vm-zero"] == len(RUNBOOK_STATES)
    assert snap.service("vm-multi").state == S.HALF_OPEN
    assert snap.service("vm-multi").split == (1, 2)
    assert source.flavour == "victoriametrics"
    assert source.scrape_interval_s == pytest.approx(1.0, abs=0.05)
    assert snap.alerts == ()
    assert any("no ALERTS series" in n and "alert state unknown" in n for n in snap.notices)
    # Started with -search.latencyOffset=0s: nothing hidden, nothing to say.
    assert not any("latencyOffset" in n for n in snap.notices)
    # The notice stays while it is true: every snapshot carries it.
    assert any("no ALERTS series" in n for n in source.poll().notices)


# --- A misbehaving Prometheus ---------------------------------------------------------


def test_connection_refused_is_an_operator_readable_error():
    port = free_port()  # nothing listens there
    source = PrometheusSource(f"http://127.0.0.1:{port}", profile="runbook")
    with pytest.raises(SourceError) as err:
        source.poll()
    assert str(err.value) == (
        f"Prometheus at http://127.0.0.1:{port} unreachable: connection refused"
    )


@pytest.mark.parametrize("n", [3, 300])
def test_queries_per_poll_do_not_grow_with_the_fleet(n):
    stub = StubPrometheus(fleet_handler(n))
    try:
        source = PrometheusSource(stub.url, profile="runbook")
        source.poll()  # first poll: build info, interval, backfill
        [(_, history)] = [r for r in stub.requests if r[0] == "/api/v1/query_range"]
        assert history["step"] == "15.000"  # the interval found in the data
        assert float(history["end"]) - float(history["start"]) == pytest.approx(3600)
        stub.requests.clear()
        snap = source.poll()
        assert len(snap.services) == n
        assert len(stub.requests) == source.queries_per_poll == 4
        assert source.last_poll_requests == source.last_poll_queries == 4
        assert [p for p, _ in stub.requests] == ["/api/v1/query"] * 4
        assert source.scrape_interval_s == 15.0
    finally:
        stub.stop()


def test_the_token_never_shows(monkeypatch, tmp_path):
    token = "s3cr3t-t0ken-value"
    monkeypatch.setenv("CB_PROM_TOKEN", token)
    seen = []

    def echo(path, params, headers):
        seen.append(headers.get("Authorization"))
        # A badly behaved proxy echoing the request headers in its error page.
        return 500, f"<html>upstream failed for {headers}</html>"

    stub = StubPrometheus(echo)
    try:
        auth = PrometheusAuth(bearer_token_env="CB_PROM_TOKEN")
        source = PrometheusSource(f"http://ops:pw@127.0.0.1:{stub.port}", auth=auth)
        with pytest.raises(SourceError) as err:
            source.poll()
        assert seen and seen[-1] == f"Bearer {token}"  # it is sent...
        message = str(err.value)
        assert "HTTP 500" in message
        # Nothing chained either: a logged traceback shows this error alone.
        assert err.value.__cause__ is None and err.value.__context__ is None
        for text in (message, repr(source), source.label, repr(auth)):
            assert token not in text  # ...and never shown
            assert "pw" not in text.replace("password", "")
        assert "CB_PROM_TOKEN" in repr(source)
    finally:
        stub.stop()
    # Unreachable with a token set: still nothing.
    source = PrometheusSource(f"http://127.0.0.1:{free_port()}", auth=auth)
    with pytest.raises(SourceError) as err:
        source.poll()
    assert token not in str(err.value) and token not in repr(source)

    # A missing token is a config error naming the variable, not the value.
    monkeypatch.delenv("CB_PROM_TOKEN")
    with pytest.raises(ConfigError, match="CB_PROM_TOKEN is not set"):
        PrometheusSource("http://127.0.0.1:9", auth=auth)


def test_basic_auth_from_a_file_and_a_ca_bundle(tmp_path):
    (tmp_path / "pw").write_text("hunter2\n")
    seen = []

    def handler(path, params, headers):
        seen.append(headers.get("Authorization"))
        return fleet_handler(1)(path, params, headers)

    stub = StubPrometheus(handler)
    try:
        auth = PrometheusAuth(username="ops", password_file=tmp_path / "pw")
        source = PrometheusSource(stub.url, auth=auth)
        source.poll()
        assert set(seen) == {"Basic b3BzOmh1bnRlcjI="}  # ops:hunter2
        assert "hunter2" not in repr(source)
    finally:
        stub.stop()
    assert PrometheusAuth().verify is True  # verification on by default
    assert PrometheusAuth(ca_file=tmp_path / "ca.pem").verify == str(tmp_path / "ca.pem")
    assert PrometheusAuth(insecure_skip_verify=True).verify is False


def stub_answering(status: int, body):
    def handler(path, params, headers):
        if path == "/api/v1/status/buildinfo":
            return 200, {"status": "success", "data": {"version": "2.42.0"}}
        return status, body

    return StubPrometheus(handler)


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (503, "service unavailable: the TSDB is still loading",
         "answered HTTP 503 Service Unavailable: service unavailable: the TSDB is still loading"),
        (200, '{"status": "success", "data": {"result": [', "answered malformed JSON"),
        (200, {"status": "error", "errorType": "execution",
               "error": "query timed out in expression evaluation"},
         "query timed out in expression evaluation"),
        (503, {"status": "error", "errorType": "unavailable", "error": "TSDB not ready"},
         "HTTP 503 Service Unavailable: unavailable: TSDB not ready"),
        (401, "Unauthorized", "refused the credentials: HTTP 401"),
        (404, "404 page not found", "is this the Prometheus API base URL?"),
    ],
    ids=["503", "malformed-json", "status-error", "503-json", "401", "404"],
)
def test_bad_answers_are_source_errors(status, body, expected):
    stub = stub_answering(status, body)
    try:
        source = PrometheusSource(stub.url)
        with pytest.raises(SourceError) as err:
            source.poll()
        assert expected in str(err.value)
        assert str(err.value).startswith(f"Prometheus at {stub.url}")
        assert not isinstance(err.value, ConfigError)
        asked = [path for path, _ in stub.requests if path != "/api/v1/status/buildinfo"]
        assert len(asked) == 1, asked  # no retry storm on 5xx: the poll stops at the answer
    finally:
        stub.stop()


def test_a_slow_prometheus_times_out():
    def slow(path, params, headers):
        time.sleep(1.5)
        return fleet_handler(1)(path, params, headers)

    stub = StubPrometheus(slow)
    try:
        source = PrometheusSource(stub.url, timeout=0.5)
        with pytest.raises(SourceError, match=r"did not answer within 0.5 s"):
            source.poll()
    finally:
        stub.stop()


def test_nan_and_inf_values_are_unknown():
    def handler(path, params, headers):
        q = params.get("query", "")
        if is_state_query(q):
            return 200, vector([
                ({"service": "nan-svc", "instance": "i", "state": "open"}, "NaN"),
                ({"service": "nan-svc", "instance": "i", "state": "closed"}, "0"),
                ({"service": "inf-svc", "instance": "i", "state": "closed"}, "1"),
            ])
        if "failures" in q:
            return 200, vector([({"service": "nan-svc", "instance": "i"}, "NaN"),
                                ({"service": "inf-svc", "instance": "i"}, "+Inf")])
        if "successes" in q:
            return 200, vector([({"service": "nan-svc", "instance": "i"}, "-Inf"),
                                ({"service": "inf-svc", "instance": "i"}, "2.5")])
        return fleet_handler(0)(path, params, headers)

    stub = StubPrometheus(handler)
    try:
        snap = PrometheusSource(stub.url).poll()
    finally:
        stub.stop()
    nan = snap.service("nan-svc").instances[0]
    assert nan.state == S.UNKNOWN and nan.failure_rate is None and nan.success_rate is None
    inf = snap.service("inf-svc").instances[0]
    assert inf.state == S.CLOSED and inf.failure_rate is None and inf.success_rate == 2.5
    assert snap.service("inf-svc").error_percent is None


def test_recovers_on_the_next_poll_after_prometheus_comes_back():
    stub = StubPrometheus(fleet_handler(2))
    try:
        source = PrometheusSource(stub.url)
        assert len(source.poll().services) == 2  # a kept-alive connection now exists
        stub.stop()
        with pytest.raises(SourceError, match="unreachable"):
            source.poll()
        stub.start()
        assert len(source.poll().services) == 2
        stub.handler = lambda *a: (502, "<html><body>Bad Gateway</body></html>")
        with pytest.raises(SourceError, match="HTTP 502 Bad Gateway: Bad Gateway"):
            source.poll()
        stub.handler = fleet_handler(3)
        assert len(source.poll().services) == 3
    finally:
        stub.stop()


def test_url_credentials_are_stripped_and_ignored():
    stub = StubPrometheus(fleet_handler(1))
    try:
        source = PrometheusSource(f"http://admin:hunter2@127.0.0.1:{stub.port}/", profile="envoy")
        assert source.label == f"Prometheus {stub.url} (envoy)"
        assert "hunter2" not in repr(source)
        notices = source.poll().notices
        assert any("credentials in the Prometheus URL are ignored" in n for n in notices)
        assert not any("hunter2" in n for n in notices)
    finally:
        stub.stop()
    with pytest.raises(ConfigError):
        PrometheusSource("ftp://127.0.0.1:9090")


def history_stub(range_status: int = 200):
    """A stub whose history shows s0/i0 going closed -> open 30 s ago."""
    now = time.time()
    fleet = fleet_handler(1, instances=1)
    fail_next_state = []

    def handler(path, params, headers):
        if path == "/api/v1/query_range":
            if range_status != 200:
                return range_status, {"status": "error", "errorType": "execution",
                                      "error": "query processing would load too many samples"}
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"service": "s0", "instance": "i0", "state": "closed"},
                 "values": [[now - 60 + k, "1"] for k in range(30)]},
                {"metric": {"service": "s0", "instance": "i0", "state": "open"},
                 "values": [[now - 30 + k, "1"] for k in range(30)]},
            ]}}
        q = params.get("query", "")
        if is_state_query(q):
            if fail_next_state:
                fail_next_state.pop()
                return 503, "overloaded"
            return 200, vector([({"service": "s0", "instance": "i0", "state": "open"}, "1")])
        return fleet(path, params, headers)

    return handler, fail_next_state


def test_backfill_survives_a_failed_first_poll():
    handler, fail_next_state = history_stub()
    fail_next_state.append(True)
    stub = StubPrometheus(handler)
    try:
        source = PrometheusSource(stub.url)
        with pytest.raises(SourceError, match="HTTP 503"):
            source.poll()
        snap = source.poll()  # the backfill read by the failed poll is not lost
        assert [(t.from_state, t.to_state, t.observed) for t in snap.transitions] == [
            (S.CLOSED, S.OPEN, Observed.BACKFILL)
        ]
        assert snap.service("s0").since == snap.transitions[0].at
        assert source.poll().transitions == ()
    finally:
        stub.stop()


def test_a_refused_backfill_leaves_live_history_and_a_notice():
    handler, _ = history_stub(range_status=422)
    stub = StubPrometheus(handler)
    try:
        source = PrometheusSource(stub.url)
        snap = source.poll()
        assert snap.transitions == () and snap.service("s0").state == S.OPEN
        assert snap.service("s0").since is None  # unknown: no history
        assert any("history backfill failed" in n and "too many samples" in n
                   for n in snap.notices)
    finally:
        stub.stop()


@pytest.mark.parametrize("flags, hidden", [("", "30s"), ('-search.latencyOffset="1m"', "1m")])
def test_victoriametrics_latency_offset_notice(flags, hidden):
    fleet = fleet_handler(1)

    def handler(path, params, headers):
        if path == "/api/v1/status/buildinfo":
            return 200, {"status": "success", "data": {}}  # as VictoriaMetrics answers
        if path == "/flags":
            return 200, f'-httpListenAddr=":8428"\n{flags}\n'
        return fleet(path, params, headers)

    stub = StubPrometheus(handler)
    try:
        source = PrometheusSource(stub.url)
        notices = source.poll().notices
        assert source.flavour == "victoriametrics"
        assert any(f"hides the newest {hidden} of samples" in n for n in notices), notices
        assert any("no ALERTS series" in n for n in notices)
    finally:
        stub.stop()
