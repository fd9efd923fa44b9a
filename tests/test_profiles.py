"""Metric profiles, value parsing, state derivation and the transition history,
without a server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from console.model.fleet import BreakerState as S
from console.model.fleet import Observed
from console.sources.prometheus.profiles import (
    NO_INSTANCE,
    ConfigError,
    Profile,
    StateEncoding,
    custom_profile,
    envoy_profile,
    get_profile,
    resilience4j_profile,
    runbook_profile,
)
from console.sources.prometheus.source import PrometheusSource
from console.sources.prometheus.history import StateTracker, scrape_interval
from console.sources.prometheus.http import PrometheusAuth, split_url
from console.sources.prometheus.read import (
    alerts_query,
    number,
    percent,
    promql_string,
    read_alerts,
    read_history,
    read_instances,
)

pytestmark = pytest.mark.unit

T0 = 1_800_000_000.0


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset, timezone.utc)


# --- Values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [("1", 1.0), ("0.25", 0.25), ("-1", -1.0), ("NaN", None), ("+Inf", None),
     ("-Inf", None), ("", None), (None, None), ("garbage", None)],
)
def test_number_makes_nan_and_inf_unknown(text, value):
    assert number(text) == value


def test_percent_minus_one_is_not_enough_calls():
    assert percent(-1.0) == -1.0  # shown as "not enough calls", never as a number
    assert percent(-3.0) == -1.0
    assert percent(None) is None
    assert percent(0.0) == 0.0
    assert percent(62.5) == 62.5


# --- Keys and states ----------------------------------------------------------------


def test_runbook_instance_prefers_pod_then_instance():
    p = runbook_profile()
    labels = {"service": "pay", "pod": "pay-1", "instance": "10.0.0.1:8080"}
    assert p.key(labels) == ("pay", "pay-1")
    assert p.key({"service": "pay", "instance": "10.0.0.1:8080"}) == ("pay", "10.0.0.1:8080")
    assert p.key({"service": "pay"}) == ("pay", NO_INSTANCE)
    assert p.key({"instance": "x"}) is None  # no service: not attributable


def test_envoy_service_from_either_cluster_label():
    p = envoy_profile()
    assert p.key({"envoy_cluster_name": "payments"})[0] == "payments"
    istio = "outbound|8000||payments.shop.svc.cluster.local"
    assert p.key({"cluster_name": istio, "pod": "web-1"}) == (istio, "web-1")
    assert p.service_label_of({"cluster_name": istio}) == "cluster_name"


def test_label_encoding_derivation():
    p = runbook_profile()
    assert p.state_name({"state": "open"}, 1.0) == "open"
    assert p.state_name({"state": "open"}, 0.0) is None
    assert p.state_name({"state": "open"}, None) is None  # NaN is not current
    assert p.derive([]) == (S.UNKNOWN, ())
    assert p.derive(["half_open"]) == (S.HALF_OPEN, (S.HALF_OPEN,))
    assert p.derive(["HALF-OPEN"]) == (S.HALF_OPEN, (S.HALF_OPEN,))
    state, reported = p.derive(["closed", "open"])
    assert state == S.CONFLICT and reported == (S.OPEN, S.CLOSED)  # worst first
    assert p.derive(["sideways"]) == (S.UNKNOWN, (S.UNKNOWN,))


def test_resilience4j_states():
    p = resilience4j_profile()
    for name, state in [("closed", S.CLOSED), ("open", S.OPEN), ("half_open", S.HALF_OPEN),
                        ("forced_open", S.FORCED_OPEN), ("disabled", S.DISABLED),
                        ("metrics_only", S.DISABLED)]:
        assert p.derive([name])[0] == state


def test_value_encoding_for_envoy():
    p = envoy_profile()
    assert p.state_encoding == StateEncoding.VALUE
    assert p.derive([p.state_name({}, 1.0)])[0] == S.OPEN
    assert p.derive([p.state_name({}, 0.0)])[0] == S.CLOSED
    assert p.derive([p.state_name({}, 0.5)])[0] == S.UNKNOWN
    assert p.state_name({}, None) is None
    assert p.backfill_query() == p.state_query  # the value is the state
    assert runbook_profile().backfill_query().endswith(") > 0.5")  # current ones only


# --- Queries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile, roles",
    [
        (runbook_profile(), ["state", "failures", "successes"]),
        (resilience4j_profile(),
         ["state", "failures", "successes", "rejected", "failure_percent",
          "slow_call_percent"]),
        (envoy_profile(),
         ["state", "failures", "successes", "rejected", "mesh_rejected", "ejections"]),
    ],
    ids=lambda v: v.name if isinstance(v, Profile) else "",
)
def test_builtin_profiles_aggregate_by_service_and_instance(profile, roles):
    assert list(profile.queries) == roles
    for query in profile.queries.values():
        by = query.split("by (", 1)[1].split(")", 1)[0]
        assert set(profile.service_labels) <= {b.strip() for b in by.split(",")}
        assert "pod" in by and "instance" in by


def test_rate_window_is_a_parameter():
    assert "[2m]" in runbook_profile(window="2m").failures_query


def test_custom_profile_from_a_dict():
    p = custom_profile({
        "state": "max by (svc, host, st) (my_breaker)",
        "failures": "sum by (svc, host) (rate(my_failures_total[1m]))",
        "successes": "sum by (svc, host) (rate(my_ok_total[1m]))",
        "rejections": "sum by (svc, host) (rate(my_rejected_total[1m]))",
        "service_label": "svc",
        "instance_label": ["host", "instance"],
        "state_label": "st",
        "state_values": {"TRIPPED": "open"},
    })
    assert p.custom and p.name == "custom"
    assert list(p.queries) == ["state", "failures", "successes", "rejected"]
    assert p.key({"svc": "a", "instance": "i"}) == ("a", "i")
    assert p.state_name({"st": "TRIPPED"}, 1.0) == "TRIPPED"
    assert p.derive(["tripped"])[0] == S.OPEN
    assert p.derive(["closed"])[0] == S.CLOSED  # the usual names still work


def test_custom_value_encoding():
    p = custom_profile({
        "state": "max by (service, instance) (breaker_state_code)",
        "state_encoding": "value",
        "state_values": {"0": "closed", "1": "open", "2": "half_open"},
    })
    assert p.derive([p.state_name({}, 2.0)])[0] == S.HALF_OPEN


@pytest.mark.parametrize(
    "config, words",
    [
        ({}, "state: Field required"),
        ({"state": "x", "failrues": "y"}, "failrues: Extra inputs are not permitted"),
        ({"state": "x", "state_values": {"7": "sideways"}}, "state_values.7"),
    ],
)
def test_custom_profile_errors_are_config_errors(config, words):
    with pytest.raises(ConfigError, match="custom metric profile") as err:
        custom_profile(config)
    assert words in str(err.value)


def test_get_profile():
    assert get_profile("envoy").name == "envoy"
    assert get_profile({"state": "x"}).custom
    p = runbook_profile()
    assert get_profile(p) is p
    with pytest.raises(ConfigError, match="choose envoy, opossum, resilience4j, runbook"):
        get_profile("hystrix")


def test_promql_string_escapes():
    assert promql_string('Circuit"Breaker\\Open') == '"Circuit\\"Breaker\\\\Open"'


# --- History --------------------------------------------------------------------------


def test_scrape_interval_is_the_median_spacing():
    series = [
        {"values": [[T0, "1"], [T0 + 15.01, "1"], [T0 + 29.99, "1"], [T0 + 60, "1"]]},
        {"values": [[T0 + 1, "0"], [T0 + 16, "0"]]},
    ]
    # A missed scrape (a 30 s gap) does not move the median.
    assert scrape_interval(series) == pytest.approx(15.0, abs=0.01)
    assert scrape_interval([{"values": [[T0, "1"]]}]) is None


def test_backfill_then_live_continue_without_gaps_or_duplicates():
    tracker = StateTracker()
    key = ("pay", "pod-1")
    found = tracker.backfill({key: {
        T0: S.CLOSED, T0 + 15: S.CLOSED, T0 + 30: S.OPEN,
        T0 + 45: S.UNKNOWN,  # a gap, not a state
        T0 + 60: S.OPEN, T0 + 75: S.HALF_OPEN,
    }})
    assert [(t.from_state, t.to_state, t.at) for t in found] == [
        (S.CLOSED, S.OPEN, at(30)), (S.OPEN, S.HALF_OPEN, at(75)),
    ]
    assert all(t.observed == Observed.BACKFILL for t in found)
    assert tracker.since_of(key, S.HALF_OPEN) == at(75)
    assert tracker.last_transition["pay"] == found[-1]

    # The first live poll compares against the backfill's last state.
    assert tracker.observe({key: S.HALF_OPEN}, at(80)) == []
    assert tracker.observe({key: S.UNKNOWN}, at(85)) == []
    [live] = tracker.observe({key: S.CONFLICT}, at(90))
    assert (live.from_state, live.to_state) == (S.HALF_OPEN, S.CONFLICT)
    assert live.observed == Observed.LIVE
    assert tracker.since_of(key, S.CONFLICT) == at(90)
    assert tracker.observe({key: S.CONFLICT}, at(95)) == []


def test_an_instance_in_one_state_all_window_has_no_since():
    tracker = StateTracker()
    key = ("pay", "pod-2")
    assert tracker.backfill({key: {T0: S.OPEN, T0 + 15: S.OPEN}}) == []
    assert tracker.since_of(key, S.OPEN) is None
    assert tracker.observe({("pay", "pod-3"): S.CLOSED}, at(20)) == []  # a new pod
    assert tracker.since_of(("pay", "pod-3"), S.CLOSED) is None


# --- Auth and URL ---------------------------------------------------------------------


def test_split_url_strips_userinfo():
    assert split_url("https://u:p@prom.example:9090/prometheus/") == (
        "https://prom.example:9090/prometheus", True)
    assert split_url("http://127.0.0.1:9090") == ("http://127.0.0.1:9090", False)
    with pytest.raises(ConfigError) as err:
        split_url("prom:9090")
    assert "http(s)://" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"bearer_token_env": "A", "bearer_token_file": "/f"}, "not both"),
        ({"bearer_token_env": "A", "username": "u", "password_env": "P"}, "not both"),
        ({"username": "u"}, "needs both"),
        ({"password_env": "P"}, "needs both"),
        ({"ca_file": "/ca.pem", "insecure_skip_verify": True}, "not both"),
        ({"client_key_file": "/k"}, "needs client_cert_file"),
    ],
)
def test_auth_settings_must_be_consistent(kwargs, words):
    with pytest.raises(ValueError, match=words):
        PrometheusAuth(**kwargs)


def test_auth_reads_secrets_from_files_and_env(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("abc123\n")
    assert PrometheusAuth(bearer_token_file=tmp_path / "token").token() == "abc123"
    monkeypatch.setenv("PW", "hunter2")
    auth = PrometheusAuth(username="ops", password_env="PW")
    assert auth.password() == "hunter2"
    assert "hunter2" not in repr(auth) and "hunter2" not in auth.describe()
    missing = PrometheusAuth(bearer_token_file=tmp_path / "nope")
    with pytest.raises(ConfigError, match="cannot read .*nope: No such file"):
        missing.token()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        PrometheusAuth(bearer_token_file=tmp_path / "empty").token()
    cert = PrometheusAuth(client_cert_file="/c.pem", client_key_file="/k.pem").cert
    assert cert == ("/c.pem", "/k.pem")


def test_source_construction_needs_no_server():
    source = PrometheusSource("http://127.0.0.1:9", profile="resilience4j")
    assert source.label == "Prometheus http://127.0.0.1:9 (resilience4j)"
    assert source.queries_per_poll == 7  # six roles and the alert
    assert PrometheusSource("http://127.0.0.1:9", profile="runbook").queries_per_poll == 4
    assert PrometheusSource("http://127.0.0.1:9", profile="envoy").queries_per_poll == 7


# --- Reading answers ------------------------------------------------------------------


def test_read_instances_merges_and_marks_rate_only_instances_unknown():
    p = resilience4j_profile()
    answers = {
        "state": [
            {"metric": {"name": "db", "pod": "a", "state": "open"}, "value": [T0, "1"]},
            {"metric": {"name": "db", "pod": "a", "state": "closed"}, "value": [T0, "0"]},
            {"metric": {"state": "open"}, "value": [T0, "1"]},  # no name label
        ],
        "failures": [
            {"metric": {"name": "db", "pod": "a"}, "value": [T0, "1.5"]},
            {"metric": {"name": "db", "pod": "a"}, "value": [T0, "0.5"]},  # merged: summed
            {"metric": {"name": "cache", "pod": "b"}, "value": [T0, "NaN"]},
        ],
        "failure_percent": [{"metric": {"name": "db", "pod": "a"}, "value": [T0, "-1"]}],
    }
    readings, unlabelled = read_instances(p, answers)
    assert unlabelled == 1
    state, reported, fields = readings[("db", "a")]
    assert (state, reported) == (S.OPEN, (S.OPEN,))
    assert fields["failure_rate"] == 2.0 and fields["breaker_failure_percent"] == -1.0
    state, reported, fields = readings[("cache", "b")]  # only a (NaN) rate: unknown
    assert (state, reported, fields["failure_rate"]) == (S.UNKNOWN, (), None)


def test_read_history_per_step():
    p = runbook_profile()
    result = [
        {"metric": {"service": "pay", "pod": "a", "state": "closed"},
         "values": [[T0, "1"], [T0 + 15, "1"]]},
        {"metric": {"service": "pay", "pod": "a", "state": "open"},
         "values": [[T0 + 15, "1"], [T0 + 30, "1"]]},
    ]
    assert read_history(p, result) == {
        ("pay", "a"): {T0: S.CLOSED, T0 + 15: S.CONFLICT, T0 + 30: S.OPEN}
    }


def test_read_alerts_joins_the_activation_time():
    result = [
        {"metric": {"__name__": "ALERTS", "alertname": "CircuitBreakerOpen",
                    "alertstate": "firing", "severity": "critical"}, "value": [T0, "1"]},
        {"metric": {"__name__": "ALERTS_FOR_STATE", "alertname": "CircuitBreakerOpen",
                    "severity": "critical"}, "value": [T0, str(T0 - 300)]},
        {"metric": {"__name__": "ALERTS", "alertname": "CircuitBreakerOpen",
                    "alertstate": "pending", "service": "pay"}, "value": [T0, "1"]},
    ]
    firing, pending = read_alerts(result, "CircuitBreakerOpen", ("service",))
    assert (firing.state, firing.service, firing.active_at) == ("firing", None, at(-300))
    assert (pending.state, pending.service, pending.active_at) == ("pending", "pay", None)
    assert alerts_query('A"B') == 'ALERTS{alertname="A\\"B"} or ALERTS_FOR_STATE{alertname="A\\"B"}'


# --- Envoy cluster names --------------------------------------------------------------


def test_istio_cluster_names_are_shown_short_and_its_own_hidden():
    from console.sources.prometheus.meshnames import display_names

    names = display_names([
        "outbound|8080||payments.shop.svc.cluster.local",
        "outbound|8080||orders.shop.svc.cluster.local",
        "outbound|8443||orders.shop.svc.cluster.local",
        "outbound|8080|v2|reviews.shop.svc.cluster.local",
        "outbound|443||api.stripe.com",
        "payments.shop.svc.cluster.local",  # istio_requests_total's destination_service
        "payments",  # a standalone Envoy's own cluster name
        "BlackHoleCluster", "PassthroughCluster", "InboundPassthroughClusterIpv6",
        "xds-grpc", "prometheus_stats", "agent", "inbound|8080||",
    ])
    assert names == {
        "outbound|8080||payments.shop.svc.cluster.local": "payments.shop",
        "outbound|8080||orders.shop.svc.cluster.local": "orders.shop:8080",
        "outbound|8443||orders.shop.svc.cluster.local": "orders.shop:8443",
        "outbound|8080|v2|reviews.shop.svc.cluster.local": "reviews.shop (v2)",
        "outbound|443||api.stripe.com": "api.stripe.com",
        "payments.shop.svc.cluster.local": "payments.shop",
        "payments": "payments",
        "BlackHoleCluster": None, "PassthroughCluster": None,
        "InboundPassthroughClusterIpv6": None, "xds-grpc": None, "prometheus_stats": None,
        "agent": None, "inbound|8080||": None,
    }
    assert display_names(["xds-grpc"], show_infrastructure=True) == {"xds-grpc": "xds-grpc"}


def test_envoy_sums_each_overflow_counter_on_its_own():
    q = envoy_profile().rejected_query
    assert "__name__" not in q  # rate() over several names collides
    assert "rate(envoy_cluster_upstream_rq_pending_overflow[1m])" in q
    assert "rate(envoy_cluster_upstream_cx_overflow[1m])" in q
    for priority in ("default", "high"):
        for breaker in ("cx", "cx_pool", "rq", "rq_pending", "rq_retry"):
            assert f"circuit_breakers_{priority}_{breaker}_open" in envoy_profile().state_query
