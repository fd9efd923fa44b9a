"""Reading Prometheus answers into breaker states, history points and alerts.
Pure functions over the decoded JSON `result` lists: tested without a server."""

from __future__ import annotations

import math
from collections.abc import Iterable

from console.model.fleet import Alert, BreakerState
from console.sources.prometheus.meshnames import display_names
from console.sources.prometheus.profiles import Profile
from console.sources.prometheus.history import Key, utc

#: One instance as a poll read it: state, the states it reported, and the
#: InstanceStatus number fields.
Reading = tuple[BreakerState, tuple[BreakerState, ...], dict[str, float | int | None]]


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def number(text: object) -> float | None:
    """A sample value as Prometheus sends it ("1", "NaN", "+Inf"); None for
    NaN, infinities and garbage: unknown, never a number on screen."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def percent(value: float | None) -> float | None:
    """A breaker's own percentage; any negative (Resilience4j's -1: fewer calls
    than minimumNumberOfCalls) is kept as -1, "not enough calls"."""
    if value is None:
        return None
    return -1.0 if value < 0 else value


def _value(series: dict) -> float | None:
    pair = series.get("value") or (None, None)
    return number(pair[1])


def _hosts(value: float) -> int:
    return int(round(value))


#: Number fields by role: how series meeting on one instance merge, then what
#: the merged value means.
_FIELDS = (
    ("failures", "failure_rate", sum, float),
    ("successes", "success_rate", sum, float),
    ("rejected", "rejected_rate", sum, float),
    ("mesh_rejected", "mesh_rejected", sum, float),
    ("failure_percent", "breaker_failure_percent", max, percent),
    ("slow_call_percent", "breaker_slow_call_percent", max, percent),
    ("ejections", "ejected_hosts", max, _hosts),
)
_BY_ROLE = {role: (field, merge, meaning) for role, field, merge, meaning in _FIELDS}


def service_names(profile: Profile, answers: dict[str, list[dict]],
                  show_infrastructure: bool = False) -> dict[str, str | None] | None:
    """For a profile reading Envoy clusters: every cluster in the answers ->
    its shown name, None where hidden (Istio's own clusters). None for other
    profiles: names are shown as the series carry them."""
    if not profile.cluster_names:
        return None
    key_of = profile.key
    found = set()
    for result in answers.values():
        for series in result:
            key = key_of(series.get("metric", {}))
            if key is not None:
                found.add(key[0])
    return display_names(found, show_infrastructure)


class RoleReading:
    """One role's answer read by instance, on the thread its query answered
    on (a poll's queries answer side by side: the rates are read while the
    server still evaluates the state query). The state role keeps the
    state names each instance reports as current, the others its values."""

    __slots__ = ("role", "names", "values", "unlabelled", "_merged")

    def __init__(self, role: str) -> None:
        self.role = role
        self.names: dict[Key, set[str]] = {}
        self.values: dict[Key, list[float | None]] = {}
        self.unlabelled = 0  # series without a service label
        self._merged: dict[Key, float | int] | None = None

    def keys(self):
        return self.names.keys() if self.role == "state" else self.values.keys()

    def merged(self) -> dict[Key, float | int]:
        """Each instance's value of the role's field, its series merged and
        the value given its meaning; instances without one are left out."""
        if self._merged is None:
            _, merge, meaning = _BY_ROLE[self.role]
            out: dict[Key, float | int] = {}
            for key, found in self.values.items():
                value = _merge(found, merge)
                if value is not None:
                    out[key] = meaning(value)
            self._merged = out
        return self._merged


def read_role(profile: Profile, role: str, result: list[dict]) -> RoleReading:
    """The role's answer read (and merged, unless Envoy clusters are still to
    be named: that needs every answer). (Runs over every series of a poll,
    15,000 at 5,000 breakers, while the screen may wait for the GIL: hence
    one loop per role and no per-series helpers beyond the profile's.)"""
    key_of, state_name = profile.key, profile.state_name
    reading = RoleReading(role)
    unlabelled = 0
    if role == "state":
        names = reading.names
        for series in result:
            labels = series.get("metric", {})
            key = key_of(labels)
            if key is None:
                unlabelled += 1
                continue
            found = names.get(key)
            if found is None:
                found = names[key] = set()
            name = state_name(labels, _value(series))
            if name is not None:
                found.add(name)
    else:
        by_key = reading.values
        for series in result:
            key = key_of(series.get("metric", {}))
            if key is None:
                unlabelled += 1
                continue
            found_values = by_key.get(key)
            if found_values is None:
                by_key[key] = [_value(series)]
            else:
                found_values.append(_value(series))
    reading.unlabelled = unlabelled
    if role in _BY_ROLE and not profile.cluster_names:
        reading.merged()
    return reading


def _renamed(reading: RoleReading, names: dict[str, str | None]) -> RoleReading:
    """The reading with each Envoy cluster under its shown name (clusters
    that show as one merge; hidden ones are dropped)."""
    out = RoleReading(reading.role)
    out.unlabelled = reading.unlabelled
    state = reading.role == "state"
    into = out.names if state else out.values
    for (cluster, instance), found in (reading.names if state else reading.values).items():
        name = names.get(cluster, cluster)
        if name is None:
            continue
        had = into.get((name, instance))
        if had is None:
            into[(name, instance)] = type(found)(found)
        elif isinstance(had, set):
            had.update(found)
        else:
            had.extend(found)
    return out


def combine(profile: Profile, readings: Iterable[RoleReading],
            show_infrastructure: bool = False
            ) -> tuple[dict[Key, Reading], int, dict[str, str | None] | None]:
    """The roles' readings -> ({(service, instance): reading}, how many series
    had no service label, the Envoy clusters' shown names or None). Series
    meeting on one (service, instance) merge: states by union (max), rates
    by sum. An instance seen only in rate series is UNKNOWN."""
    readings = list(readings)
    shown = None
    if profile.cluster_names:  # the name shown, None = hidden
        shown = display_names({k[0] for r in readings for k in r.keys()}, show_infrastructure)
        readings = [_renamed(r, shown) for r in readings]
    unlabelled = sum(r.unlabelled for r in readings)
    names: dict[Key, set[str]] = {}
    keys: set[Key] = set()
    for r in readings:
        if r.role == "state":
            names = r.names
        keys.update(r.keys())
    # Only the roles answered: the others are None for every instance.
    fields = [(_BY_ROLE[r.role][0], r.merged()) for r in readings
              if r.role in _BY_ROLE and r.values]
    unasked = dict.fromkeys(field for _, field, _, _ in _FIELDS)
    derive = profile.derive
    out: dict[Key, Reading] = {}
    for key in keys:
        state, reported = derive(names.get(key, ()))
        reading: dict[str, float | int | None] = unasked.copy()
        for field, merged in fields:
            value = merged.get(key)
            if value is not None:
                reading[field] = value
        mesh = reading.pop("mesh_rejected")
        if reading["rejected_rate"] is None:  # the same calls: never both
            reading["rejected_rate"] = mesh
        out[key] = (state, reported, reading)
    return out, unlabelled, shown


def read_instances(profile: Profile, answers: dict[str, list[dict]],
                   show_infrastructure: bool = False) -> tuple[dict[Key, Reading], int]:
    """Instant answers by role, read at once: `combine` of each `read_role`."""
    readings = [read_role(profile, role, result) for role, result in answers.items()]
    out, unlabelled, _shown = combine(profile, readings, show_infrastructure)
    return out, unlabelled


def _merge(found: list[float | None] | None, merge) -> float | None:
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    known = [v for v in found if v is not None]
    return merge(known) if known else None


def read_history(profile: Profile, result: list[dict], show_infrastructure: bool = False
                 ) -> dict[Key, dict[float, BreakerState]]:
    """A range answer of the state query -> each instance's state per step."""
    points: dict[Key, dict[float, set[str]]] = {}
    key_of = profile.key
    names = service_names(profile, {"state": result}, show_infrastructure)
    for series in result:
        labels = series.get("metric", {})
        key = key_of(labels)
        if key is not None and names is not None:
            name = names.get(key[0], key[0])
            key = None if name is None else (name, key[1])
        if key is None:
            continue
        steps = points.setdefault(key, {})
        for ts, raw in series.get("values", ()):
            name = profile.state_name(labels, number(raw))
            if name is not None:
                steps.setdefault(float(ts), set()).add(name)
    return {
        key: {ts: profile.derive(found)[0] for ts, found in steps.items()}
        for key, steps in points.items()
    }


def alerts_query(alert_name: str) -> str:
    """One query for the alert's state and its activation time."""
    name = promql_string(alert_name)
    return f"ALERTS{{alertname={name}}} or ALERTS_FOR_STATE{{alertname={name}}}"


def read_alerts(result: list[dict], alert_name: str, service_labels: tuple[str, ...]
                ) -> tuple[Alert, ...]:
    """ALERTS (state) joined with ALERTS_FOR_STATE (activation time, Unix
    seconds) on their labels. The service is the rule's service label where
    the rule keeps one, else None."""
    active_at: dict[tuple, float | None] = {}
    states: dict[tuple, tuple[str, dict]] = {}
    for series in result:
        labels = dict(series.get("metric", {}))
        metric = labels.pop("__name__", "")
        state = labels.pop("alertstate", None)
        ident = tuple(sorted(labels.items()))
        if metric == "ALERTS_FOR_STATE":
            active_at[ident] = _value(series)
        elif state:
            states[ident] = (state, labels)
    alerts = []
    for ident, (state, labels) in states.items():
        service = next((labels[n] for n in (*service_labels, "service") if labels.get(n)), None)
        ts = active_at.get(ident)
        alerts.append(Alert(
            name=labels.get("alertname", alert_name),
            state=state,
            service=service,
            active_at=utc(ts) if ts is not None else None,
        ))
    return tuple(sorted(alerts, key=lambda a: (a.service or "", a.state)))

