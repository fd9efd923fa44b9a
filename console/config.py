"""Configuration: a TOML file (the user's config dir, or --config), then
CBCONSOLE_* environment variables, then command-line flags, each overriding
the one before. Secrets are never values here, only where to read them."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from console.model.fleet import DEFAULT_RECOVERY_TIMEOUT_S
from console import profilenames
from console.paths import config_file
from console.model.servicemap import (
    DEFAULT_CALLER, DEFAULT_FALLBACK_MODE, DEFAULT_GIT_SINCE_MINUTES, ServiceEntry, ServiceMap,
)
from console.sources.prometheus.auth import PrometheusAuth
from console.alertmanager_config import AlertmanagerConfig
from console.sites_config import SiteConfig
from console.urls import check_url
from console.config_lines import line_of

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
    # the label names (see console.sources.prometheus.profiles.CustomProfileConfig).
    custom_profile: dict | None = None
    auth: PrometheusAuth = Field(default_factory=PrometheusAuth)
    backfill_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    alert_name: str = "CircuitBreakerOpen"
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    # A poll's total time, all its requests together: a server trickling its
    # answer fails the poll after it. Default: the poll interval, at least
    # twice timeout_s (Config.poll_deadline_s).
    deadline_s: float | None = Field(default=None, gt=0, le=3600)
    # Istio's own clusters (BlackHoleCluster, xds-grpc, inbound|…) as board rows.
    show_infrastructure: bool = False
    #: A global source (Thanos, Mimir, federation): the external label whose
    #: values are the sites ([sites.NAME] label_value, default NAME).
    cluster_label: str | None = None
    #: The polls in a process of their own (console.sources.pollproc), one
    #: for every site: the event loop never shares the GIL with a poll, at
    #: the memory of a second Python (+70 MiB at 5,000 breakers). Off: a
    #: worker thread per site (make bench-load, make bench-sites).
    poll_process: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value)


class FlagsConfig(_Strict):
    """The feature-flag service (runbook Option 4). The admin token is read
    from `token_env` or `token_file` at the moment of a change."""

    url: str | None = None
    token_env: str | None = FLAGS_TOKEN_ENV
    token_file: Path | None = None
    ca_file: Path | None = None
    insecure_skip_verify: bool = False
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    # A request's total time (a trickled answer); default twice timeout_s.
    deadline_s: float | None = Field(default=None, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value)


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


class DiagnosisConfig(_Strict):
    """[diagnosis]: the recent commits' window (runbook Diagnosis 3)."""

    git_since_minutes: int = Field(default=DEFAULT_GIT_SINCE_MINUTES, gt=0, le=7 * 24 * 60)


class ContextConfig(_Strict):
    """Per kube context: a production context can be made read-only for good."""

    read_only: bool = False
    #: Locked until the operator types its name (console.mitigations.prodlock);
    #: None: by its name (a `prod`, `production` or `prd` token), false: never.
    production: bool | None = None


class Config(_Strict):
    poll_interval_s: float = Field(default=2.0, ge=0.1, le=3600)
    log_level: str = "INFO"  # cbconsole.log's, in the state dir
    default_recovery_timeout_s: float = Field(default=DEFAULT_RECOVERY_TIMEOUT_S, gt=0)
    # Service map defaults (console.model.servicemap): conventions of the runbook.
    namespace: str | None = None  # default: the kube context's namespace
    caller: str = DEFAULT_CALLER
    fallback_mode: str = DEFAULT_FALLBACK_MODE
    read_only: bool = False
    dry_run: bool = False
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)  # issue 19
    contexts: dict[str, ContextConfig] = Field(default_factory=dict)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    diagnosis: DiagnosisConfig = Field(default_factory=DiagnosisConfig)  # issue 17
    services: dict[str, ServiceEntry] = Field(default_factory=dict)
    sites: dict[str, SiteConfig] = Field(default_factory=dict)  # issue 18

    @property
    def poll_deadline_s(self) -> float:
        p = self.prometheus
        return p.deadline_s or max(self.poll_interval_s, 2 * p.timeout_s)

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
            git_since_minutes=self.diagnosis.git_since_minutes,
        )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        from console.logfile import check_level

        return check_level(value)

    def is_read_only(self, context: str | None) -> bool:
        """--read-only, or the context marked read-only in the config."""
        per_context = self.contexts.get(context) if context else None
        return self.read_only or bool(per_context and per_context.read_only)

    def profile_spec(self) -> str | dict:
        p = self.prometheus
        if p.profile == profilenames.CUSTOM:
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


# Each environment variable and the config key it sets.
ENV_KEYS = {
    "CBCONSOLE_PROMETHEUS_URL": "prometheus.url",
    "CBCONSOLE_PROFILE": "prometheus.profile",
    "CBCONSOLE_POLL": "poll_interval_s",
    "CBCONSOLE_FLAGS_URL": "flags.url",
}


def _env_layer(env: Mapping[str, str]) -> dict:
    layer: dict = {}
    for name, key in ENV_KEYS.items():
        if name in env:
            _set(layer, key.split("."), env[name])
    # These only ever switch safety on: a stray variable cannot switch off
    # a read-only the config file asked for.
    for name in ("READ_ONLY", "DRY_RUN"):
        if env.get(f"CBCONSOLE_{name}", "").strip().lower() in ("1", "true", "yes"):
            layer[name.lower()] = True
    return layer


def _set(tree: dict, path: list[str], value) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _get(tree: Mapping, path: tuple):
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def load_config(
    path: Path | None = None,
    *,
    overrides: Mapping | None = None,
    env: Mapping[str, str] | None = None,
    flag_names: Mapping[str, str] | None = None,
    no_file: bool = False,
) -> Config:
    """The merged config. A file named with --config must exist; the default
    one may be absent; `no_file` (--no-config) reads none. `flag_names` maps a
    key ("incident.timezone") to the flag that set it ("--tz"), so a bad value
    is blamed on where it came from: the flag, the variable or the file."""
    env = os.environ if env is None else env
    explicit = path is not None or "CBCONSOLE_CONFIG" in env
    if path is None:
        path = Path(env["CBCONSOLE_CONFIG"]) if "CBCONSOLE_CONFIG" in env else config_file()
    data: dict = {}
    text = ""
    try:
        if not no_file:
            text = path.read_bytes().decode("utf-8", errors="replace")
            data = tomllib.loads(text)
    except FileNotFoundError:
        if explicit:
            raise ConfigFileError(f"config file {path}: not found{NO_CONFIG_HINT}") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigFileError(f"config file {path}: {error}{NO_CONFIG_HINT}") from None
    env_layer = _env_layer(env)
    data = _merge(_merge(data, env_layer), overrides or {})
    auth = data.setdefault("prometheus", {}).setdefault("auth", {})
    if TOKEN_ENV in env and not any(k.startswith(("bearer", "password", "username")) for k in auth):
        auth["bearer_token_env"] = TOKEN_ENV
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        sources = _Sources(path, text, env_layer, overrides or {}, flag_names or {})
        problems = [sources.describe(e) for e in error.errors()]
        if any(p.startswith("config file") for p in problems):
            problems[-1] += NO_CONFIG_HINT
        raise ConfigFileError("\n  ".join(problems)) from None


NO_CONFIG_HINT = " (or start without a config file: --no-config)"


class _Sources:
    """Says where a bad value came from: a flag, a variable, or the file
    (with its line)."""

    def __init__(self, path, text, env_layer, overrides, flag_names) -> None:
        self.path, self.text = path, text
        self.env_layer, self.overrides, self.flag_names = env_layer, overrides, flag_names

    def describe(self, error: dict) -> str:
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) or "config"
        if error["type"] == "extra_forbidden":
            return self._in_file(loc, f"unknown key {key}{_did_you_mean(loc)}")
        what = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
        for depth in range(len(loc), 0, -1):
            dotted = ".".join(loc[:depth])
            if _is_value(_get(self.overrides, loc[:depth])):
                return f"{self.flag_names.get(dotted, dotted)}: {what}"
            if _is_value(_get(self.env_layer, loc[:depth])):
                name = next((n for n, k in ENV_KEYS.items() if k == dotted), dotted)
                return f"{name}: {what}"
        return self._in_file(loc, f"{key}: {what}")

    def _in_file(self, loc: tuple[str, ...], why: str) -> str:
        if not self.text:
            return why
        line = line_of(self.text, loc)
        return f"config file {self.path}{f', line {line}' if line else ''}: {why}"


def _is_value(value) -> bool:
    return value is not None and not isinstance(value, Mapping)


def _did_you_mean(loc: tuple[str, ...]) -> str:
    """ ": did you mean prometheus.profile?" for a key that is not one: the
    nearest key of the same table, else the same key in another table."""
    keys = _keys(Config)
    table, name = loc[:-1], loc[-1]
    siblings = [k[-1] for k in keys if len(k) == len(loc)
                and all(p in ("*", t) for p, t in zip(k, table))]
    near = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    if near:
        return f": did you mean {'.'.join((*table, near[0]))}?"
    elsewhere = [".".join(k).replace("*", "NAME") for k in keys if k[-1] == name]
    return f": did you mean {' or '.join(elsewhere)}?" if elsewhere else ""


def _keys(model, prefix: tuple = ()) -> list[tuple[str, ...]]:
    """Every key path of a model; "*" for a table's own names (services.*)."""
    out = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        out.append(path)
        inner = _model_in(field.annotation)
        if inner is not None:
            out += _keys(inner, path)
        elif typing.get_origin(field.annotation) is dict:
            value = _model_in(typing.get_args(field.annotation)[1])
            if value is not None:
                out += _keys(value, (*path, "*"))
    return out


def _model_in(annotation):
    """The pydantic model of a field typed `Model` or `Model | None`."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (
        annotation,)
    return next((o for o in options if isinstance(o, type) and issubclass(o, BaseModel)), None)
