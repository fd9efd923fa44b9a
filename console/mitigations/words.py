"""How the mitigations word what they send and see, for the dialog and the
action log."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from console.model.probe import HealthResult
from console.text import millis, shorten
from console.model.servicemap import ServiceTarget

DETAIL_LIMIT = 300


def patch_request(ns: str, name: str, patch: dict, manager: str) -> str:
    return (f"PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}?fieldManager={manager}\n"
            "Content-Type: application/strategic-merge-patch+json\n\n"
            + json.dumps(patch, separators=(",", ":")))


def health_words(target: ServiceTarget | None, health: HealthResult | None) -> str:
    if health is None:
        where = f" of {target.downstream}" if target else ""
        return f"no health check result{where}"
    if health.status is not None:
        took = f" in {millis(health.latency_ms)}" if health.latency_ms is not None else ""
        return f"health check {health.url} answered {health.status}{took}"
    if health.error:
        return f"health check {health.url} got no answer: {health.error}"
    return f"health check {health.url}: no verdict"


def ms(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f}"


def when(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def yes(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def short(text: str) -> str:
    return shorten(text, DETAIL_LIMIT)
