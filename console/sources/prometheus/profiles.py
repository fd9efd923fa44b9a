"""Metric profiles: which PromQL reads a fleet's breakers, and how its answer
becomes breaker states.

A profile is data (a pydantic `Profile`): one PromQL query per role (state,
failures, successes, rejections, ...), each aggregated `by` the breaker's
service and instance labels, so a poll costs the same few queries whatever
the fleet's size. Three profiles are built in, for the metric families of
REFERENCE.md; `custom_profile()` builds one from a config dict.

Pure code: no HTTP here, so the derivations are tested without a server.
"""

from __future__ import annotations

from enum import Enum
from functools import cached_property
from typing import Collection

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from console import profilenames
from console.model.fleet import BreakerState
from console.sources.base import SourceError

#: The rate() window of the built-in profiles. Four scrapes at the common 15 s
#: interval: the shortest window rate() handles robustly (two samples at
#: least, even with a missed scrape), and minutes shorter than the runbook's
#: [5m], which would lag an incident's failure rate by minutes.
DEFAULT_RATE_WINDOW = "1m"

#: Where a series carries no instance label at all (a custom query that
#: aggregated instances away): the breaker shows as one instance of this name.
NO_INSTANCE = "-"


class ConfigError(SourceError):
    """The configuration is wrong (a profile, a PromQL query, auth settings):
    retrying the same poll will not help. The message names what to fix."""


class StateEncoding(str, Enum):
    #: One series per state, the state in a label, value 1 for the current one
    #: (runbook, Resilience4j). Several at 1 for one instance is a conflict.
    LABEL = "label"
    #: One series per breaker whose value is the state, through `state_values`
    #: (Envoy: 1 = at its limit, i.e. open; 0 = closed).
    VALUE = "value"


def _norm(word: str) -> str:
    return word.strip().lower().replace("-", "_").replace(" ", "_")


#: State label values, normalised (lower case, "-" as "_"). Resilience4j's
#: METRICS_ONLY breaker never transitions and never rejects a call: like
#: DISABLED, calls pass unguarded, so it shows as DISABLED.
LABEL_STATES: dict[str, BreakerState] = {
    "closed": BreakerState.CLOSED,
    "open": BreakerState.OPEN,
    "half_open": BreakerState.HALF_OPEN,
    "halfopen": BreakerState.HALF_OPEN,
    "forced_open": BreakerState.FORCED_OPEN,
    "disabled": BreakerState.DISABLED,
    "metrics_only": BreakerState.DISABLED,
}

#: VALUE encoding default: Envoy's *_open gauges.
FLAG_STATES: dict[str, BreakerState] = {"0": BreakerState.CLOSED, "1": BreakerState.OPEN}


class Profile(BaseModel):
    """How to read one kind of breaker metrics. Every query must return series
    labelled with a service label and (ideally) an instance label; series that
    end up with the same (service, instance) are merged (max for states, sum
    for rates)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    #: Labels naming the breaker's service, first non-empty wins (Envoy:
    #: `envoy_cluster_name`, or Istio's `cluster_name`).
    service_labels: tuple[str, ...] = Field(min_length=1)
    #: Labels naming the reporting instance, first non-empty wins.
    instance_labels: tuple[str, ...] = ("pod", "instance")
    #: A label that tells apart breakers of one name on one instance (Spring
    #: Boot's `application`): where set, the instance reads `pod/application`.
    instance_qualifier: str | None = None
    #: Service names are Envoy cluster names: Istio's shown short, its own
    #: clusters hidden (console.sources.prometheus.meshnames).
    cluster_names: bool = False
    state_query: str
    state_encoding: StateEncoding = StateEncoding.LABEL
    #: LABEL encoding: the label holding the state's name.
    state_label: str = "state"
    #: Label values (LABEL) or series values (VALUE) to states; keys are
    #: normalised (lower case, "-" as "_"). Unknown ones read as UNKNOWN.
    state_values: dict[str, BreakerState] = Field(default_factory=dict)
    #: Per-second rates (None where the fleet does not export them).
    failures_query: str | None = None
    successes_query: str | None = None
    rejected_query: str | None = None
    #: The same rejections counted by another emitter (Istio's UO response
    #: flag): read only for breakers that rejected_query has no series for.
    mesh_rejected_query: str | None = None
    #: The breaker's own failure rate in percent over its window; negative
    #: (Resilience4j: -1, fewer calls than minimumNumberOfCalls) is no data.
    failure_percent_query: str | None = None
    #: Its share of slow calls, in percent, the same way.
    slow_call_percent_query: str | None = None
    #: Upstream hosts ejected by outlier detection (Envoy).
    ejections_query: str | None = None
    #: The raw metric behind the state query: its sample spacing gives the
    #: scrape interval, the step of the history backfill.
    interval_metric: str | None = None
    #: Counters the fleet also exports, for reference (not queried).
    notes: str = ""
    #: Why a breaker of this profile can read OPEN then CLOSED with no
    #: HALF-OPEN between (shown once in the detail pane when it happens).
    half_open_note: str | None = None
    #: Built from user config: a rejected query is the user's to fix.
    custom: bool = False

    @field_validator("state_values", mode="before")
    @classmethod
    def _normalise_values(cls, values):
        if isinstance(values, dict):
            return {_norm(str(k)): v for k, v in values.items()}
        return values

    @property
    def queries(self) -> dict[str, str]:
        """The queries a poll runs, by role, in order (alerts not included)."""
        found = {
            "state": self.poll_state_query,
            "failures": self.failures_query,
            "successes": self.successes_query,
            "rejected": self.rejected_query,
            "mesh_rejected": self.mesh_rejected_query,
            "failure_percent": self.failure_percent_query,
            "slow_call_percent": self.slow_call_percent_query,
            "ejections": self.ejections_query,
        }
        return {role: q for role, q in found.items() if q}

    @property
    def poll_state_query(self) -> str:
        """The state query a poll runs. With one series per state (LABEL), an
        instance's current state is its one series at 1; the others are only
        needed where none is at 1 (all 0 or NaN: UNKNOWN, still shown). So:
        the series at 1, or every series of an instance that has none. A
        third of the answer at 5,000 breakers, to download and to read; the
        same readings. A custom query runs as written, so that Prometheus'
        error positions match the user's text."""
        if self.state_encoding != StateEncoding.LABEL or self.custom:
            return self.state_query
        # `or ignoring(state)` would say it in one term less, but
        # VictoriaMetrics' `or` matches on every label whatever the modifier.
        current = f"({self.state_query}) > 0.5"
        others = f"({self.state_query}) unless ignoring({self.state_label}) ({current})"
        return f"({current}) or ({others})"

    @cached_property
    def values_map(self) -> dict[str, BreakerState]:
        base = LABEL_STATES if self.state_encoding == StateEncoding.LABEL else FLAG_STATES
        return {**base, **self.state_values}

    def backfill_query(self) -> str:
        """The state query for the history range query. With one series per
        state, only the current ones (value 1) matter: the answer shrinks by
        the number of states."""
        if self.state_encoding == StateEncoding.LABEL:
            return f"({self.state_query}) > 0.5"
        return self.state_query

    # --- Reading answers --------------------------------------------------------

    def key(self, labels: dict[str, str]) -> tuple[str, str] | None:
        """(service, instance) of a series; None without a service label."""
        service = _first(labels, self.service_labels)
        if not service:
            return None
        instance = _first(labels, self.instance_labels) or NO_INSTANCE
        if self.instance_qualifier:
            qualifier = labels.get(self.instance_qualifier)
            if qualifier:
                return service, f"{instance}/{qualifier}"
        return service, instance

    def service_label_of(self, labels: dict[str, str]) -> str | None:
        """Which of the service labels named the series."""
        return next((n for n in self.service_labels if labels.get(n)), None)

    def state_name(self, labels: dict[str, str], value: float | None) -> str | None:
        """The state a series reports as current, or None if it reports none.
        LABEL: the label's value when the series is at 1. VALUE: the value."""
        if value is None:
            return None
        if self.state_encoding == StateEncoding.LABEL:
            return labels.get(self.state_label, "") if value > 0.5 else None
        return f"{value:g}"

    def to_state(self, name: str) -> BreakerState:
        return self.values_map.get(_norm(name), BreakerState.UNKNOWN)

    def derive(self, names: Collection[str]) -> tuple[BreakerState, tuple[BreakerState, ...]]:
        """(state, reported) from the state names an instance reports as current:
        none is UNKNOWN, one is that state, several are a CONFLICT, never
        resolved silently."""
        if len(names) == 1:  # the usual case, once per instance per poll
            for name in names:
                state = self.to_state(name)
                return state, (state,)
        reported = tuple(
            sorted({self.to_state(n) for n in names}, key=lambda s: (s.rank, s.value))
        )
        if not reported:
            return BreakerState.UNKNOWN, ()
        if len(reported) == 1:
            return reported[0], reported
        return BreakerState.CONFLICT, reported


def _first(labels: dict[str, str], names: tuple[str, ...]) -> str | None:
    # A plain loop: called for every series of every answer (25,000 a poll
    # at 5,000 breakers), twice the speed of next() over a generator.
    for name in names:
        value = labels.get(name)
        if value:
            return value
    return None


# --- Built-in profiles -----------------------------------------------------------


def _by(*labels: str) -> str:
    return ", ".join(labels)


def runbook_profile(window: str = DEFAULT_RATE_WINDOW) -> Profile:
    """RUNBOOK-004's metrics: circuit_breaker_state{service, state} (1 = current),
    circuit_breaker_failures_total / _successes_total. Instances by `pod` if
    the series carry one (Kubernetes service discovery), else `instance`."""
    svc, inst = ("service",), ("pod", "instance")
    by = _by(*svc, *inst)
    return Profile(
        name="runbook",
        service_labels=svc,
        instance_labels=inst,
        state_query=f"max by ({by}, state) (circuit_breaker_state)",
        failures_query=f"sum by ({by}) (rate(circuit_breaker_failures_total[{window}]))",
        successes_query=f"sum by ({by}) (rate(circuit_breaker_successes_total[{window}]))",
        interval_metric="circuit_breaker_state",
        notes="circuit_breaker_transitions_total is exported too; the history "
        "comes from the state gauge instead (its labels are not standardised).",
    )


#: Resilience4j 0.x's one state gauge: CircuitBreaker.State's `order`.
R4J_0X_STATE_ORDER = {0: "closed", 1: "open", 2: "half_open", 3: "disabled", 4: "forced_open"}


def resilience4j_profile(window: str = DEFAULT_RATE_WINDOW) -> Profile:
    """Resilience4j through Micrometer: breakers by `name`, told apart by
    Spring Boot's `application` tag where two applications on one pod have a
    breaker of one name. 1.x and 2.x: a state gauge per state, calls in the
    `calls` timer, rejections in `not_permitted_calls_total`. 0.x: one state
    gauge whose value is the state's order, and every kind of call, the
    rejected ones (`kind="not_permitted"`) too, in `calls_total`."""
    svc, inst = ("name",), ("pod", "instance")
    by = _by(*svc, "application", *inst)
    timer = "resilience4j_circuitbreaker_calls_seconds_count"
    old = "resilience4j_circuitbreaker_calls_total"  # 0.x

    def calls(metric: str, kind: str) -> str:
        return f'sum by ({by}) (rate({metric}{{kind="{kind}"}}[{window}]))'

    gauge = "resilience4j_circuitbreaker_state"
    numbered = " or ".join(
        f'label_replace(max by ({by}) ({gauge}{{state=""}}) == bool {order}, '
        f'"state", "{state}", "", "")'
        for order, state in R4J_0X_STATE_ORDER.items()
    )
    return Profile(
        name="resilience4j",
        service_labels=svc,
        instance_labels=inst,
        instance_qualifier="application",
        state_query=f'max by ({by}, state) ({gauge}{{state!=""}}) or {numbered}',
        # 1.x or 0.x: one application exports one of them, never both.
        failures_query=f"{calls(timer, 'failed')} or {calls(old, 'failed')}",
        successes_query=f"{calls(timer, 'successful')} or {calls(old, 'successful')}",
        rejected_query=(
            f"sum by ({by}) "
            f"(rate(resilience4j_circuitbreaker_not_permitted_calls_total[{window}]))"
            f" or {calls(old, 'not_permitted')}"
        ),
        failure_percent_query=f"max by ({by}) (resilience4j_circuitbreaker_failure_rate)",
        slow_call_percent_query=f"max by ({by}) (resilience4j_circuitbreaker_slow_call_rate)",
        interval_metric=gauge,
        notes="metrics_only shows as DISABLED: calls pass unguarded, it never trips.",
    )


#: Every breaker of an Envoy cluster, both priorities: connections, the
#: connection pool, requests, pending requests, retries
#: (cluster_manager/cluster_stats, "Circuit breakers statistics").
ENVOY_OPEN_GAUGES = tuple(
    f"envoy_cluster_circuit_breakers_{priority}_{breaker}_open"
    for priority in ("default", "high")
    for breaker in ("cx", "cx_pool", "rq", "rq_pending", "rq_retry")
)
#: Calls the cluster's breakers turned away: requests over max_pending_requests,
#: connections over max_connections.
ENVOY_OVERFLOW_COUNTERS = (
    "envoy_cluster_upstream_rq_pending_overflow",
    "envoy_cluster_upstream_cx_overflow",
)


def sum_of_rates(counters: tuple[str, ...], by: str, window: str) -> str:
    """The summed rate of several counters, per `by`. Not one rate() over
    {__name__=~"a|b"}: rate() drops the name, and a cluster exporting both
    counters then has two series with one label set ("vector cannot contain
    metrics with the same labelset"). Each counter is summed on its own; the
    sum of all where every one exists, `or` each alone where only some do."""
    terms = [f"sum by ({by}) (rate({c}[{window}]))" for c in counters]
    if len(terms) == 1:
        return terms[0]
    return " or ".join([f"({' + '.join(terms)})", *terms])


def envoy_profile(window: str = DEFAULT_RATE_WINDOW) -> Profile:
    """Envoy (and Istio's sidecars): a cluster is OPEN while any of its
    breakers, of either priority, is at its limit; no half-open state exists.
    Clusters by `envoy_cluster_name`, or Istio's `cluster_name` (e.g.
    outbound|8000||svc.ns.svc.cluster.local, shown as svc.ns) or, for Istio's
    own request counter, `destination_service`: all are kept in the `by`
    clause and the first non-empty names the service. Rejections: the
    overflow counters, else Istio's requests flagged UO (the breaker's 503s).
    Ejections by outlier detection are shown beside the state, not as OPEN:
    the cluster still serves through its other hosts."""
    svc = ("envoy_cluster_name", "cluster_name", "destination_service")
    inst = ("pod", "instance")
    by = _by(*svc, *inst)
    gauges = "|".join(ENVOY_OPEN_GAUGES)
    uo = 'istio_requests_total{reporter="source", response_flags="UO"}'
    rq_xx = "envoy_cluster_upstream_rq_xx"
    return Profile(
        name="envoy",
        service_labels=svc,
        instance_labels=inst,
        # No rate() here: the gauges keep their names, so max() over them is safe.
        state_query=f'max by ({by}) ({{__name__=~"{gauges}"}})',
        state_encoding=StateEncoding.VALUE,
        failures_query=f'sum by ({by}) (rate({rq_xx}{{envoy_response_code_class="5"}}[{window}]))',
        successes_query=(
            f'sum by ({by}) (rate({rq_xx}{{envoy_response_code_class="2"}}[{window}]))'
        ),
        rejected_query=sum_of_rates(ENVOY_OVERFLOW_COUNTERS, by, window),
        mesh_rejected_query=f"sum by ({by}) (rate({uo}[{window}]))",
        ejections_query=f"max by ({by}) (envoy_cluster_outlier_detection_ejections_active)",
        interval_metric=ENVOY_OPEN_GAUGES[0],
        cluster_names=True,
        notes="Istio drops these stats unless proxyStatsMatcher includes "
        ".*circuit_breakers.*; its UO response flag (upstream overflow) counts "
        "the breakers' rejections where the overflow counters are dropped.",
    )


#: opossum's transitions, latest first when two fall in one step: a probe
#: that fails reopens at once (halfOpen then open), one that passes closes
#: (halfOpen then close), and close -> open is direct, open -> close is not.
OPOSSUM_TIE_ORDER = {"open": 0.2, "close": 0.1, "halfOpen": 0.0}


def opossum_profile(window: str = DEFAULT_RATE_WINDOW, lookback: str = "1h",
                    step: str = "5s") -> Profile:
    """opossum with opossum-prometheus: no state gauge, one counter
    `circuit{name, event}` (no _total). The state is the transition counter
    (open, halfOpen, close) that moved last within `lookback`, seen at `step`
    (a series appearing is a move: prom-client creates it at its first
    increment); a breaker that fired and never moved one is CLOSED. Missing
    event counters read 0 once the breaker has fired."""
    svc, inst = ("name",), ("pod", "instance")
    by = _by(*svc, *inst)

    def moved_last(event: str) -> str:
        c = f'circuit{{event="{event}"}}'
        moved = f"({c} > {c} offset {step}) or ({c} unless {c} offset {step})"
        return (f"max by ({by}, event) (max_over_time(timestamp({moved})[{lookback}:{step}]))"
                f" + {OPOSSUM_TIE_ORDER[event]}")

    last = " or ".join(f"({moved_last(e)})" for e in OPOSSUM_TIE_ORDER)
    latest = f"({last}) == bool on({by}) group_left() max by ({by}) ({last})"
    fired_only = (f'label_replace(max by ({by}) (circuit{{event="fire"}}) * 0 + 1, '
                  f'"event", "close", "", "") unless on({by}) ({last})')

    def rate(event: str) -> str:
        fired = f'sum by ({by}) (rate(circuit{{event="fire"}}[{window}])) * 0'
        return f'sum by ({by}) (rate(circuit{{event="{event}"}}[{window}])) or {fired}'

    return Profile(
        name="opossum",
        service_labels=svc,
        instance_labels=inst,
        state_query=f"({latest}) or ({fired_only})",
        state_label="event",
        state_values={"close": BreakerState.CLOSED},
        # opossum counts a timeout as a failure too.
        failures_query=rate("failure"),
        successes_query=rate("success"),
        rejected_query=rate("reject"),
        interval_metric="circuit",
        notes="opossum-prometheus counts halfOpen only where the application "
        "attached its own listener before adding the breaker: without it a "
        "breaker reads OPEN then CLOSED, never HALF-OPEN.",
        half_open_note="opossum-prometheus counts halfOpen only when the application "
        "attached its own halfOpen listener before the metrics were created; "
        "without that series the breaker reads OPEN then CLOSED. Its probes "
        "still happened.",
    )


BUILTIN = dict(zip(profilenames.BUILTIN, (
    runbook_profile, resilience4j_profile, envoy_profile, opossum_profile)))


class CustomProfileConfig(BaseModel):
    """A profile from the config file: full PromQL per role. The queries run
    as written (so Prometheus' error positions match them); each must return
    series labelled by `service_label` and `instance_label`, rates per second."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    state: str = Field(min_length=1)
    failures: str | None = None
    successes: str | None = None
    rejections: str | None = None
    service_label: str | list[str] = "service"
    instance_label: str | list[str] = "instance"
    state_encoding: StateEncoding = StateEncoding.LABEL
    state_label: str = "state"
    state_values: dict[str, BreakerState] = Field(default_factory=dict)
    interval_metric: str | None = None


def custom_profile(config: dict) -> Profile:
    """A Profile from a config dict (keys: state, failures, successes,
    rejections, service_label, instance_label, and optionally state_encoding,
    state_label, state_values, interval_metric, name)."""
    try:
        c = CustomProfileConfig.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"custom metric profile: {problems}") from None

    def labels(value: str | list[str]) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else tuple(value)

    return Profile(
        name=c.name,
        service_labels=labels(c.service_label),
        instance_labels=labels(c.instance_label),
        state_query=c.state,
        state_encoding=c.state_encoding,
        state_label=c.state_label,
        state_values=c.state_values,
        failures_query=c.failures,
        successes_query=c.successes,
        rejected_query=c.rejections,
        interval_metric=c.interval_metric,
        custom=True,
    )


def get_profile(spec: str | dict | Profile) -> Profile:
    """A Profile from a built-in name, a custom config dict, or a Profile."""
    if isinstance(spec, Profile):
        return spec
    if isinstance(spec, dict):
        return custom_profile(spec)
    try:
        return BUILTIN[spec]()
    except KeyError:
        names = ", ".join(sorted(BUILTIN))
        raise ConfigError(f"unknown metric profile {spec!r}: choose {names}, "
                          f"or {profilenames.CUSTOM}") from None
