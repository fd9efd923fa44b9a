"""Metric profiles: which PromQL reads a fleet's breakers, and how its answer
becomes breaker states.

A profile is data (`base.Profile`): one PromQL query per role (state,
failures, successes, rejections, ...), each aggregated `by` the breaker's
service and instance labels, so a poll costs the same few queries whatever
the fleet's size. The built-in ones, for the metric families of REFERENCE.md,
are one module each (runbook, resilience4j, envoy, opossum); `custom` builds
one from a config dict. A new family is a module here and one line in BUILTIN
(and its name in console.profilenames).

Pure code: no HTTP here, so the derivations are tested without a server.
"""

from __future__ import annotations

from console import profilenames
from console.sources.prometheus.profiles.base import (
    DEFAULT_RATE_WINDOW,
    FLAG_STATES,
    LABEL_STATES,
    NO_INSTANCE,
    ConfigError,
    Profile,
    StateEncoding,
)
from console.sources.prometheus.profiles.custom import CustomProfileConfig, custom_profile
from console.sources.prometheus.profiles.envoy import (
    ENVOY_OPEN_GAUGES,
    ENVOY_OVERFLOW_COUNTERS,
    envoy_profile,
    sum_of_rates,
)
from console.sources.prometheus.profiles.opossum import OPOSSUM_TIE_ORDER, opossum_profile
from console.sources.prometheus.profiles.resilience4j import (
    R4J_0X_STATE_ORDER,
    resilience4j_profile,
)
from console.sources.prometheus.profiles.runbook import runbook_profile

__all__ = [
    "BUILTIN", "DEFAULT_RATE_WINDOW", "ENVOY_OPEN_GAUGES", "ENVOY_OVERFLOW_COUNTERS",
    "FLAG_STATES", "LABEL_STATES", "NO_INSTANCE", "OPOSSUM_TIE_ORDER", "R4J_0X_STATE_ORDER",
    "ConfigError", "CustomProfileConfig", "Profile", "StateEncoding", "custom_profile",
    "envoy_profile", "get_profile", "opossum_profile", "resilience4j_profile",
    "runbook_profile", "sum_of_rates",
]

BUILTIN = dict(zip(profilenames.BUILTIN, (
    runbook_profile, resilience4j_profile, envoy_profile, opossum_profile)))


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
