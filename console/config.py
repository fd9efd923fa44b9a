"""Configuration: a TOML file (the user's config dir, or --config), then
CBCONSOLE_* environment variables, then command-line flags, each overriding
the one before. Secrets are never values here, only where to read them."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from console.model import DEFAULT_RECOVERY_TIMEOUT_S
from console.paths import config_file
from console.sources.promauth import PrometheusAuth

TOKEN_ENV = "CBCONSOLE_PROMETHEUS_TOKEN"


class ConfigFileError(Exception):
    """The config cannot be used; str() says which file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrometheusConfig(_Strict):
    url: str | None = None
    profile: str = "runbook"
    # A custom profile: PromQL for state, failures, successes, rejections and
    # the label names (see console.sources.profiles.CustomProfileConfig).
    custom_profile: dict | None = None
    auth: PrometheusAuth = Field(default_factory=PrometheusAuth)
    backfill_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    alert_name: str = "CircuitBreakerOpen"
    timeout_s: float = Field(default=5.0, gt=0, le=120)


class ServiceConfig(_Strict):
    recovery_timeout_s: float = Field(default=DEFAULT_RECOVERY_TIMEOUT_S, gt=0)


class Config(_Strict):
    poll_interval_s: float = Field(default=2.0, ge=0.1, le=3600)
    default_recovery_timeout_s: float = Field(default=DEFAULT_RECOVERY_TIMEOUT_S, gt=0)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)

    def recovery_timeouts(self) -> dict[str, float]:
        return {name: s.recovery_timeout_s for name, s in self.services.items()}

    def profile_spec(self) -> str | dict:
        p = self.prometheus
        if p.profile == "custom":
            if not p.custom_profile:
                raise ConfigFileError(
                    "profile 'custom' needs a [prometheus.custom_profile] table in the config file"
                )
            return p.custom_profile
        return p.profile


def _merge(base: dict, override: Mapping) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value is not None:
            out[key] = value
    return out


def _env_layer(env: Mapping[str, str]) -> dict:
    layer: dict = {"prometheus": {}}
    if "CBCONSOLE_PROMETHEUS_URL" in env:
        layer["prometheus"]["url"] = env["CBCONSOLE_PROMETHEUS_URL"]
    if "CBCONSOLE_PROFILE" in env:
        layer["prometheus"]["profile"] = env["CBCONSOLE_PROFILE"]
    if "CBCONSOLE_POLL" in env:
        layer["poll_interval_s"] = env["CBCONSOLE_POLL"]
    return layer


def load_config(
    path: Path | None = None,
    *,
    overrides: Mapping | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """The merged config. A file named with --config must exist; the default
    one may be absent."""
    env = os.environ if env is None else env
    explicit = path is not None or "CBCONSOLE_CONFIG" in env
    if path is None:
        path = Path(env["CBCONSOLE_CONFIG"]) if "CBCONSOLE_CONFIG" in env else config_file()
    data: dict = {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise ConfigFileError(f"config file {path}: not found") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigFileError(f"config file {path}: {error}") from None
    data = _merge(_merge(data, _env_layer(env)), overrides or {})
    auth = data.setdefault("prometheus", {}).setdefault("auth", {})
    if TOKEN_ENV in env and not any(k.startswith(("bearer", "password", "username")) for k in auth):
        auth["bearer_token_env"] = TOKEN_ENV
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigFileError(f"config ({path}): {problems}") from None
