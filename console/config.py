"""Configuration: a TOML file (the user's config dir, or --config), then
CBCONSOLE_* environment variables, then command-line flags, each overriding
the one before. Secrets are never values here, only where to read them."""

from __future__ import annotations

import os
import tomllib
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from console.model import DEFAULT_RECOVERY_TIMEOUT_S
from console.paths import config_file
from console.servicemap import DEFAULT_CALLER, DEFAULT_FALLBACK_MODE, ServiceEntry, ServiceMap
from console.sources.promauth import PrometheusAuth

TOKEN_ENV = "CBCONSOLE_PROMETHEUS_TOKEN"
FLAGS_TOKEN_ENV = "CBCONSOLE_FLAGS_TOKEN"


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
    # Istio's own clusters (BlackHoleCluster, xds-grpc, inbound|…) as board rows.
    show_infrastructure: bool = False


class FlagsConfig(_Strict):
    """The feature-flag service (runbook Option 4). The admin token is read
    from `token_env` or `token_file` at the moment of a change."""

    url: str | None = None
    token_env: str | None = FLAGS_TOKEN_ENV
    token_file: Path | None = None
    ca_file: Path | None = None
    insecure_skip_verify: bool = False
    timeout_s: float = Field(default=5.0, gt=0, le=120)


class IncidentConfig(_Strict):
    """The incident journal and the response clock (RUNBOOK-004 Escalation)."""

    severity: str = "P0"
    response_times_s: dict[str, float] = Field(default_factory=lambda: {"P0": 300, "P1": 1800})
    recovered_hold_s: float = Field(default=60.0, ge=0)
    timezone: str = "UTC"  # times on screen and in the export

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Europe/Paris)") from None
        return value
    state_dir: Path | None = None  # default: the user state dir


class EscalationConfig(_Strict):
    """Who to call, one key away (x). Defaults: the runbook's Contacts."""

    on_call: str = "PagerDuty escalation"
    team_leads: list[str] = Field(
        default_factory=lambda: ["@backend-lead (Slack)", "@devops-team (Slack)"]
    )
    channel: str = "#incidents (Slack)"


class ContextConfig(_Strict):
    """Per kube context: a production context can be made read-only for good."""

    read_only: bool = False


class Config(_Strict):
    poll_interval_s: float = Field(default=2.0, ge=0.1, le=3600)
    default_recovery_timeout_s: float = Field(default=DEFAULT_RECOVERY_TIMEOUT_S, gt=0)
    # Service map defaults (console.servicemap): conventions of the runbook.
    namespace: str | None = None  # default: the kube context's namespace
    caller: str = DEFAULT_CALLER
    fallback_mode: str = DEFAULT_FALLBACK_MODE
    read_only: bool = False
    dry_run: bool = False
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    contexts: dict[str, ContextConfig] = Field(default_factory=dict)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    services: dict[str, ServiceEntry] = Field(default_factory=dict)

    def recovery_timeouts(self) -> dict[str, float]:
        return {
            name: s.recovery_timeout_s
            for name, s in self.services.items()
            if s.recovery_timeout_s is not None
        }

    def failure_rate_thresholds(self) -> dict[str, float]:
        return {
            name: s.failure_rate_threshold
            for name, s in self.services.items()
            if s.failure_rate_threshold is not None
        }

    def service_map(self, namespace: str) -> ServiceMap:
        """The map, with `namespace` (the kube context's) where none is set."""
        return ServiceMap(
            self.services,
            namespace=self.namespace or namespace,
            caller=self.caller,
            fallback_mode=self.fallback_mode,
        )

    def is_read_only(self, context: str | None) -> bool:
        """--read-only, or the context marked read-only in the config."""
        per_context = self.contexts.get(context) if context else None
        return self.read_only or bool(per_context and per_context.read_only)

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
        if isinstance(value, Mapping):
            # An unset flag (None) overrides nothing, at any depth.
            out[key] = _merge(out.get(key) if isinstance(out.get(key), dict) else {}, value)
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
    if "CBCONSOLE_FLAGS_URL" in env:
        layer["flags"] = {"url": env["CBCONSOLE_FLAGS_URL"]}
    # These only ever switch safety on: a stray variable cannot switch off
    # a read-only the config file asked for.
    for name in ("READ_ONLY", "DRY_RUN"):
        if env.get(f"CBCONSOLE_{name}", "").strip().lower() in ("1", "true", "yes"):
            layer[name.lower()] = True
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
