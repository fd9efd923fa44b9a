"""The `[alertmanager]` table: where the pager's alerts live (one URL, or
the members of an HA pair), auth as for Prometheus, and the silence that
acknowledging (a) offers."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.sources.prometheus.auth import PrometheusAuth
from console.urls import check_url

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
_UNIT = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """'1h', '30m', '1h30m', '90s' (Alertmanager's own notation) in seconds."""
    value = text.strip()
    parts = _PART.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"{text!r} is not a duration: write it like 1h, 30m, 1h30m or 90s")
    seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    if not 60 <= seconds <= 7 * 24 * 3600:
        raise ValueError(f"{text!r}: a silence from 1m to 7 days (168h), not {seconds:g} s")
    return seconds


class AlertmanagerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: list[str] = Field(default_factory=list)  # several: an HA pair, each member read
    auth: PrometheusAuth = Field(default_factory=PrometheusAuth)
    timeout_s: float = Field(default=3.0, gt=0, le=60)
    #: Set ("1h"): acknowledging (a) also offers a silence of that length.
    ack_silence: str | None = None
    # No regex matchers: the silence's matchers are the page's exact labels
    # (a setting for them would be a way to silence more than the page).

    @field_validator("url", mode="before")
    @classmethod
    def _urls(cls, value):
        urls = [value] if isinstance(value, str) else value
        if not isinstance(urls, list):
            raise ValueError("give a URL or a list of URLs (an HA pair's members)")
        return [check_url(u) for u in urls]

    @field_validator("ack_silence")
    @classmethod
    def _length(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def ack_silence_s(self) -> float | None:
        return parse_duration(self.ack_silence) if self.ack_silence else None
