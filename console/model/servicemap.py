"""Where each breaker service lives: the service map.

The runbook's fleet needs no map at all: conventions fill every field not
written in the config file (downstream deployment = service name, flag =
`<service>-integration`, env prefix = the service name in upper snake case,
fallback mode `mock`, caller deployment `api`, health URL as the runbook
curls it). A `[services.NAME]` table overrides any of them.

`smoke_url` has no convention: the runbook's load test calls the endpoint
users call, through the caller (`http://api:8080/api/v1/payments` for
payment-api), and no name says which endpoint that is. Without one the smoke
test is refused and says where to set it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.model.kubectl import env_prefix
from console.urls import check_url, without_userinfo

DEFAULT_CALLER = "api"  # the runbook's deployment/api
DEFAULT_FALLBACK_MODE = "mock"
DEFAULT_GIT_SINCE_MINUTES = 60  # the runbook's `git log --since="1 hour ago"`
_DEPENDENCY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})?:[0-9]{1,5}$")


class Dependency(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    url: str | None = None  # "https://external-api.com/health": fetched, not nc'd

    @property
    def address(self) -> str:
        """What the pane shows: the URL without its user:password@ part."""
        return without_userinfo(self.url) if self.url else f"{self.host}:{self.port}"


def parse_dependency(text: str) -> Dependency:
    """"postgres:5432" or "https://external-api.com/health" -> Dependency.
    Hosts are DNS names or IPv4 addresses only and a URL starts with its
    scheme, so a value from the config can never become an option of a tool."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        try:
            check_url(text)
        except ValueError as exc:
            raise ValueError(f"dependency {exc}") from None
        parts = urlsplit(text)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return Dependency(host=parts.hostname or "", port=port, url=text)
    if not _DEPENDENCY.match(text):
        raise ValueError(f"dependency {text!r} is not host:port (e.g. postgres:5432) "
                         "nor a URL (e.g. https://external-api.com/health)")
    host, port = text.rsplit(":", 1)
    if not 0 < int(port) < 65536:
        raise ValueError(f"dependency {text!r}: port out of range")
    return Dependency(host=host, port=int(port))


class ServiceTarget(BaseModel):
    """Everything a diagnosis or a mitigation of one breaker service needs."""

    model_config = ConfigDict(frozen=True)

    service: str
    namespace: str
    caller: str  # the deployment that holds the breaker (Option 1, Option 3)
    downstream: str  # the deployment the breaker guards (Option 2)
    health_url: str | None
    flag: str  # Option 4
    env_prefix: str  # Option 3: <PREFIX>_FALLBACK_ENABLED / _MODE
    fallback_mode: str
    smoke_url: str | None = None  # the load test: an endpoint of the caller that uses the service
    dependencies: tuple[Dependency, ...] = ()
    repo: str | None = None  # the source repository on this host ("~/src/shop")
    repo_path: str | None = None  # the service's directory in it ("services/payment-api")
    git_since_minutes: int = DEFAULT_GIT_SINCE_MINUTES
    # The service map's services whose caller is this caller (this one among them).
    caller_also_for: tuple[str, ...] = ()


class ServiceEntry(BaseModel):
    """One `[services.NAME]` table; every field optional."""

    model_config = ConfigDict(extra="forbid")

    recovery_timeout_s: float | None = Field(default=None, gt=0)
    # The breaker's failure-rate threshold in percent (Resilience4j's
    # failureRateThreshold), shown beside the rate the breaker reports.
    failure_rate_threshold: float | None = Field(default=None, gt=0, le=100)
    namespace: str | None = None
    caller: str | None = None
    downstream: str | None = None
    health_url: str | None = None
    flag: str | None = None
    env_prefix: str | None = None
    fallback_mode: str | None = None
    smoke_url: str | None = None
    dependencies: list[str] = Field(default_factory=list)
    repo: str | None = None
    path: str | None = None
    git_since_minutes: int | None = Field(default=None, gt=0, le=7 * 24 * 60)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        # After `--` on git's command line, but a path is never an option anyway.
        if value is not None and (value.startswith("-") or "\0" in value):
            raise ValueError(f"path {value!r} is not a directory of the repository")
        return value

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_dependency(item)
        return value

    @field_validator("health_url", "smoke_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value)

    @field_validator("env_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"env_prefix {value!r} is not an environment variable name")
        return value


class ServiceMap:
    """Resolves a service name to its target, entries first, conventions after."""

    def __init__(
        self,
        entries: dict[str, ServiceEntry] | None = None,
        *,
        namespace: str = "default",
        caller: str = DEFAULT_CALLER,
        fallback_mode: str = DEFAULT_FALLBACK_MODE,
        git_since_minutes: int = DEFAULT_GIT_SINCE_MINUTES,
    ) -> None:
        self.entries = dict(entries or {})
        self.git_since_minutes = git_since_minutes
        self.namespace = namespace
        self.caller = caller
        self.fallback_mode = fallback_mode

    def target(self, service: str) -> ServiceTarget:
        e = self.entries.get(service) or ServiceEntry()
        downstream = e.downstream or service
        caller = e.caller or self.caller
        namespace = e.namespace or self.namespace
        same = tuple(sorted(name for name, other in self.entries.items()
                            if (other.caller or self.caller) == caller
                            and (other.namespace or self.namespace) == namespace))
        return ServiceTarget(
            service=service,
            namespace=e.namespace or self.namespace,
            caller=e.caller or self.caller,
            downstream=downstream,
            health_url=e.health_url or f"http://{downstream}:8080/health",
            flag=e.flag or f"{service}-integration",
            env_prefix=e.env_prefix or env_prefix(service),
            fallback_mode=e.fallback_mode or self.fallback_mode,
            smoke_url=e.smoke_url,
            dependencies=tuple(parse_dependency(d) for d in e.dependencies),
            repo=e.repo,
            repo_path=e.path,
            git_since_minutes=e.git_since_minutes or self.git_since_minutes,
            caller_also_for=same,
        )
