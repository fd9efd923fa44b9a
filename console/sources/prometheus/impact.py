"""An incident's impact from Prometheus counters: how many calls failed,
succeeded and were rejected over the incident's window, per service.

The profile's rate queries are reused with rate(X[w]) turned into
increase(X[<window>]), evaluated at the window's end: the same selectors the
board reads, so the postmortem counts what the operator saw. increase()
extrapolates to the window's edges (by up to about one scrape interval at each
end), so the counts are estimates; the failed share is not skewed by it, since
series scraped together are extrapolated alike.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from console.model.impact import Impact
from console.sources.base import SourceError
from console.sources.prometheus.profiles import Profile, get_profile
from console.sources.prometheus.http import PromClient, PrometheusAuth

#: rate(<selector>[<window>]) or irate(...): the selector may hold braces and
#: quotes but no "[".
_RATE = re.compile(r"\b(?:i?rate)\(\s*([^\[\]()]+?)\s*\[[^\]]+\]\s*\)")
ROLES = ("failures", "successes", "rejected")


def increase_query(rate_query: str, window_s: int, by: tuple[str, ...]) -> str:
    """The profile's rate query as an increase over the window, summed by service."""
    converted, n = _RATE.subn(lambda m: f"increase({m.group(1)}[{window_s}s])", rate_query)
    if n == 0:
        raise SourceError(
            f"cannot count calls with `{rate_query}`: it has no rate(...[window]) to turn "
            "into increase()"
        )
    return f"sum by ({', '.join(by)}) ({converted})"


def impact(url_or_client: str | PromClient, profile: str | dict | Profile,
           services: list[str] | tuple[str, ...], start: datetime, end: datetime, *,
           auth: PrometheusAuth | None = None, timeout: float = 10.0) -> Impact:
    """Failed, succeeded and rejected calls of `services` (all, if empty) between
    start and end. Raises SourceError (Unreachable, ConfigError) on failure."""
    if end <= start:
        raise ValueError("impact window: end must be after start")
    profile = get_profile(profile)
    own = isinstance(url_or_client, str)
    client = PromClient(url_or_client, auth, timeout) if own else url_or_client
    window_s = max(1, math.ceil((end - start).total_seconds()))
    wanted = set(services)
    queries = {"failures": profile.failures_query, "successes": profile.successes_query,
               "rejected": profile.rejected_query}
    totals: dict[str, float | None] = {}
    per_service: dict[str, dict[str, float | None]] = {s: {} for s in services}
    try:
        for role in ROLES:
            query = queries[role]
            if not query:
                totals[role] = None
                continue
            promql = increase_query(query, window_s, profile.service_labels)
            total = 0.0
            for series in client.query(promql, end.timestamp(), f"{role} impact"):
                key = profile.key(series.get("metric", {}))
                value = float(series["value"][1])
                if key is None or (wanted and key[0] not in wanted) or math.isnan(value):
                    continue
                per_service.setdefault(key[0], {})
                per_service[key[0]][role] = per_service[key[0]].get(role, 0.0) + value
                total += value
            totals[role] = total  # no series: no such calls counted
    finally:
        if own:
            client.close()
    return Impact(
        start=start, end=end, services=tuple(services),
        failed=totals["failures"], succeeded=totals["successes"], rejected=totals["rejected"],
        per_service=per_service, source=f"{client.url} ({profile.name})",
        counters={role: (increase_query(queries[role], window_s, profile.service_labels)
                         if queries[role] else None) for role in ROLES},
    )


def prometheus_details(source) -> dict[str, str | None]:
    """What an incident records about a PrometheusSource so the export can
    count its impact later: URL, profile, where (never what) the credentials are."""
    profile: Profile = source.profile
    auth = getattr(getattr(source, "_client", None), "auth", None)
    return {
        "prometheus_url": source.url,
        "profile": profile.name,
        "profile_json": profile.model_dump_json() if profile.custom else None,
        "prometheus_auth": auth.model_dump_json(exclude_defaults=True) if auth else None,
    }


def profile_from_details(details: dict) -> Profile:
    if details.get("profile_json"):
        return Profile.model_validate_json(details["profile_json"])
    return get_profile(str(details.get("profile") or "runbook"))


def auth_from_details(details: dict) -> PrometheusAuth | None:
    raw = details.get("prometheus_auth")
    return PrometheusAuth.model_validate_json(raw) if raw else None


def read_recorded(details: dict, services: list[str], start: datetime, end: datetime,
                  timeout: float = 10.0) -> Impact:
    """The ImpactReader the export is handed: the impact from the Prometheus
    an incident recorded (its URL, profile and where its credentials are)."""
    return impact(str(details["prometheus_url"]), profile_from_details(details), services,
                  start, end, auth=auth_from_details(details), timeout=timeout)
