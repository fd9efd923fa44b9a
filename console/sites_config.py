"""The `[sites.NAME]` tables: one per cluster or region, each with its own
metrics source (or its value of the global source's cluster label), kube
context, namespace and flag service. No table: one implicit site, from the
single-source settings as before."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.sources.prometheus.auth import PrometheusAuth
from console.urls import check_url


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteMetrics(_Strict):
    """A site's own PromQL endpoint: Prometheus, Thanos Query, Mimir, a
    VictoriaMetrics cluster's `/select/<account>/prometheus`."""

    url: str
    profile: str | None = None  # default: [prometheus] profile
    auth: PrometheusAuth = Field(default_factory=PrometheusAuth)
    tenant: str | None = None  # Mimir / Cortex: sent as X-Scope-OrgID
    #: Extra query parameters on every query, e.g. Thanos'
    #: {partial_response = "true", dedup = "true"}.
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class SiteFlags(_Strict):
    url: str
    token_env: str | None = None
    token_file: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class SiteConfig(_Strict):
    #: Its own source; None: the global [prometheus] source's series whose
    #: cluster label ([prometheus] cluster_label) equals `label_value`.
    prometheus: SiteMetrics | None = None
    label_value: str | None = None  # default: the site's name
    context: str | None = None  # kube context; default: the current one
    namespace: str | None = None
    flags: SiteFlags | None = None  # default: the [flags] service
    read_only: bool = False
    #: Read-only until the operator types the context's name (for as long
    #: as the console runs); contexts named like production are too.
    production: bool = False
