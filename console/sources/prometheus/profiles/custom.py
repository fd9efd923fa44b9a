"""A profile from the config file: the user's own PromQL per role."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from console.model.fleet import BreakerState
from console.sources.prometheus.profiles.base import ConfigError, Profile, StateEncoding


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
