"""Reading Prometheus answers into breaker states, history points and alerts.
Pure functions over the decoded JSON `result` lists: tested without a server."""

from __future__ import annotations

import math

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


def _renamed(key_of, names: dict[str, str | None]):
    hidden = ("", "")  # a key no series has: dropped below

    def key(labels: dict[str, str]):
        found = key_of(labels)
        if found is None:
            return None
        name = names.get(found[0], found[0])
        return hidden if name is None else (name, found[1])

    return key, hidden


def read_instances(profile: Profile, answers: dict[str, list[dict]],
                   shown: dict[str, str | None] | None = None
                   ) -> tuple[dict[Key, Reading], int]:
    """Instant answers by role -> {(service, instance): reading}, and how many
    series had no service label. Series meeting on one (service, instance)
    merge: states by union (max), rates by sum. An instance seen only in rate
    series is UNKNOWN. (Runs over every series of a poll, 15,000 at 5,000
    breakers, in the poll's thread while the screen waits for the GIL: hence
    a loop per role and no per-series helpers beyond the profile's.)"""
    key_of, state_name = profile.key, profile.state_name
    hidden = None
    if shown is None:
        shown = service_names(profile, answers)
    if shown is not None:  # the name shown, None = hidden
        key_of, hidden = _renamed(key_of, shown)
    unlabelled = 0
    names: dict[Key, set[str]] = {}
    values: dict[str, dict[Key, list[float | None]]] = {}
    for role, result in answers.items():
        if role == "state":
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
            continue
        by_key = values.setdefault(role, {})
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
    keys = set(names)
    for by_key in values.values():
        keys.update(by_key)
    keys.discard(hidden)
    fields = [(values.get(role, {}), field, merge, meaning)
              for role, field, merge, meaning in _FIELDS]
    out: dict[Key, Reading] = {}
    for key in keys:
        state, reported = profile.derive(names.get(key, ()))
        reading: dict[str, float | int | None] = {}
        for by_key, field, merge, meaning in fields:
            value = _merge(by_key.get(key), merge)
            reading[field] = None if value is None else meaning(value)
        mesh = reading.pop("mesh_rejected")
        if reading["rejected_rate"] is None:  # the same calls: never both
            reading["rejected_rate"] = mesh
        out[key] = (state, reported, reading)
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
    key_of, hidden = profile.key, None
    names = service_names(profile, {"state": result}, show_infrastructure)
    if names is not None:
        key_of, hidden = _renamed(key_of, names)
    for series in result:
        labels = series.get("metric", {})
        key = key_of(labels)
        if key is None or key == hidden:
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

