"""What a metric profile is: a pydantic `Profile`, one PromQL query per role
(state, failures, successes, rejections, ...), each aggregated `by` the
breaker's service and instance labels, and how its answers become breaker
states. Pure code: no HTTP here, so the derivations are tested without a server.
"""

from __future__ import annotations

from enum import Enum
from functools import cached_property
from typing import Collection

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @cached_property
    def _named(self) -> dict[str, BreakerState]:
        return {}

    def to_state(self, name: str) -> BreakerState:
        # Remembered per name: a poll asks once per instance, for a handful of names.
        state = self._named.get(name)
        if state is None:
            state = self.values_map.get(_norm(name), BreakerState.UNKNOWN)
            if len(self._named) < 256:  # a label full of garbage stays unremembered
                self._named[name] = state
        return state

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


# --- Query pieces the built-in profiles share ------------------------------------


def by_clause(*labels: str) -> str:
    """The labels of a `by (...)` clause."""
    return ", ".join(labels)


def summed_rate(by: str, series: str, window: str) -> str:
    """The per-second rate of a counter's series, summed per `by`."""
    return f"sum by ({by}) (rate({series}[{window}]))"
