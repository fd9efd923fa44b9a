"""One global source (Thanos Query, Mimir, a federating Prometheus) serving
several sites: its series carry a cluster label (an external label such as
`cluster`) whose value says whose rows they are. The built-in profiles
aggregate `by (service, pod, instance)`, which would sum the clusters
together: every `by (...)` and `on (...)` of their queries keeps the label
too. A custom profile's queries run as written (its error positions match
the user's text): they must keep the label themselves."""

from __future__ import annotations

import re
import threading

from console.sources.prometheus.profiles import Profile
from console.text import literal

_GROUPING = re.compile(r"\b(by|on)\s*\(")
#: The Profile fields holding PromQL.
_QUERY_FIELDS = ("state_query", "failures_query", "successes_query", "rejected_query",
                 "mesh_rejected_query", "failure_percent_query", "slow_call_percent_query",
                 "ejections_query")


def keep_label(promql: str, label: str) -> str:
    """The query with `label` in every `by (...)` and `on (...)` clause."""
    return _GROUPING.sub(lambda m: f"{m[1]} ({label}, ", promql)


def with_site_label(profile: Profile, label: str) -> Profile:
    if profile.custom:
        return profile
    update = {f: keep_label(getattr(profile, f), label)
              for f in _QUERY_FIELDS if getattr(profile, f)}
    return profile.model_copy(update=update)


class Splitter:
    """Series -> the site whose value of the label they carry; what it could
    not place is counted for a notice."""

    def __init__(self, label: str, sites: dict[str, str | None]) -> None:
        self.label = label
        #: label value -> site name; None: a site with its own source (left quietly).
        self.sites = {v: s for v, s in sites.items() if s is not None}
        self.elsewhere = {v for v, s in sites.items() if s is None}
        self.unlabelled = 0
        self.unknown: set[str] = set()
        self._lock = threading.Lock()

    def split(self, result: list[dict], count: bool = True) -> dict[str, list[dict]]:
        """`count`: note what was not placed (not for the alerts: a rule
        may aggregate the label away, its alert is then the whole fleet's)."""
        parts: dict[str, list[dict]] = {site: [] for site in self.sites.values()}
        label, sites = self.label, self.sites
        unknown, unlabelled = set(), 0
        for series in result:
            value = series.get("metric", {}).get(label)
            site = sites.get(value) if value else None
            if site is not None:
                parts[site].append(series)
            elif not count or value in self.elsewhere:
                continue
            elif value:
                unknown.add(value)
            else:
                unlabelled += 1
        with self._lock:  # a poll's answers are split on their queries' threads
            self.unknown |= unknown
            self.unlabelled += unlabelled
        return parts

    def alerts(self, result: list[dict], read) -> tuple:
        """`read` (series -> Alerts) per site, each stamped with it. An alert
        whose rule aggregated the label away is the whole fleet's (site "")."""
        placed = self.split(result, count=False)
        rest = [s for s in result if s.get("metric", {}).get(self.label) is None]
        alerts = [a.model_copy(update={"site": site})
                  for site, part in placed.items() for a in read(part)]
        return (*alerts, *read(rest))

    def notice(self) -> str | None:
        """What the last splits could not place, then forgotten."""
        words = []
        if self.unknown:
            values = sorted(self.unknown)
            listed = ", ".join(literal(v) for v in values[:3]) + (", …" if len(values) > 3 else "")
            words.append(f"series of {self.label}={listed} (no such site: add [sites.NAME] "
                         "with label_value) were ignored")
        if self.unlabelled:
            words.append(f"{self.unlabelled} series without a {self.label} label were ignored "
                         "(a custom profile's queries must keep it in by (...))")
        self.unknown, self.unlabelled = set(), 0
        return "; ".join(words) or None


class OneSite:
    """A source serving one site: every series is its."""

    label = None

    def __init__(self, site: str) -> None:
        self.sites = {"": site}

    def split(self, result: list[dict], count: bool = True) -> dict[str, list[dict]]:
        return {self.sites[""]: result}

    def alerts(self, result: list[dict], read) -> tuple:
        site = self.sites[""]
        alerts = read(result)
        return tuple(a.model_copy(update={"site": site}) for a in alerts) if site else alerts

    def notice(self) -> None:
        return None
