"""The breaker source that reads Prometheus (or VictoriaMetrics) over its HTTP
API, through a metric profile (`profiles`).

A poll runs a constant number of instant queries side by side, all at one
evaluation time: one per profile role (state, failures, successes, ...), each
aggregated `by` the service and instance labels, plus one for the alert. The
first poll also finds the scrape interval and backfills the transition
history with one range query. Every failure is a `SourceError` the operator can read; a wrong query
is a `ConfigError` naming it.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import wait
from functools import partial
from typing import Any, Callable

from console.clock import Clock, system_clock
from console.model.fleet import (
    DEFAULT_RECOVERY_TIMEOUT_S,
    Alert,
    FleetSnapshot,
    InstanceStatus,
    ServiceStatus,
    SourceHealth,
    SourceStatus,
    Transition,
)
from console.sources.base import SourceError
from console.sources.deadline import Deadline, carried
from console.sources.threads import in_thread
from console.sources.prometheus.alertrules import AlertRules
from console.sources.prometheus.profiles import ConfigError, Profile, get_profile
from console.sources.prometheus.history import StateTracker, scrape_interval
from console.sources.prometheus.split import OneSite, Splitter, with_site_label
from console.sources.prometheus.http import PromClient, PrometheusAuth, Unreachable
from console.sources.prometheus.read import (
    Reading,
    RoleReading,
    alerts_query,
    combine,
    promql_string,
    read_alerts,
    read_history,
    read_role,
)

__all__ = ["ConfigError", "PrometheusAuth", "PrometheusSource", "Unreachable"]

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_BACKFILL_POINTS = 10_000
#: The window whose raw samples give the scrape interval.
INTERVAL_PROBE = "5m"
#: Step of the history when the profile names no raw metric to measure.
FALLBACK_STEP_S = 15.0
#: The range query reads up to an hour of the whole fleet: more time than a poll.
BACKFILL_TIMEOUT_FACTOR = 3
#: The alert query's place among a poll's answers (no profile role is named so).
ALERTS = "alerts"
#: Answered failures (not unreachable) before the backfill is given up.
BACKFILL_ATTEMPTS = 3


class PrometheusSource:
    """A BreakerSource over the Prometheus HTTP API.

    `profile` is a built-in name ("runbook", "resilience4j", "envoy"), a custom
    profile's config dict, or a `Profile`. `recovery_timeouts` maps services to
    their breakers' recovery timeout (seconds) for the next-probe estimate.
    """

    def __init__(
        self,
        url: str,
        *,
        profile: str | dict | Profile = "runbook",
        auth: PrometheusAuth | None = None,
        recovery_timeouts: dict[str, float] | None = None,
        failure_rate_thresholds: dict[str, float] | None = None,
        default_recovery_timeout: float = DEFAULT_RECOVERY_TIMEOUT_S,
        backfill_minutes: int = 60,
        alert_name: str = "CircuitBreakerOpen",
        clock: Clock = system_clock,
        timeout: float = 5.0,
        deadline: float | None = None,
        show_infrastructure: bool = False,
        site: str = "",
        site_label: str | None = None,
        sites: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.profile = get_profile(profile)
        #: Issue 18: `site` is stamped on its rows; or, a global source, the
        #: series are split by `site_label`'s value (`sites`: value -> site).
        self._splitter = Splitter(site_label, sites or {}) if site_label else OneSite(site)
        if site_label:
            self.profile = with_site_label(self.profile, site_label)
        self.sites = tuple(self._splitter.sites.values())
        # headers: a tenant's X-Scope-OrgID; params: Thanos' partial_response, dedup.
        self._client = PromClient(url, auth, timeout, headers=headers, params=params)
        #: A poll's total time, all its requests together (default: twice
        #: the timeout, so a stall still says "did not answer within").
        self.deadline = deadline or 2 * timeout
        self.url = self._client.url  # without userinfo
        self.label = f"Prometheus {self.url} ({self.profile.name})"
        self.recovery_timeouts = dict(recovery_timeouts or {})
        self.failure_rate_thresholds = dict(failure_rate_thresholds or {})
        self.default_recovery_timeout = default_recovery_timeout
        self.backfill_minutes = backfill_minutes
        self.alert_name = alert_name
        self.clock = clock
        #: Show Istio's own clusters (BlackHoleCluster, xds-grpc, inbound|…).
        self.show_infrastructure = show_infrastructure
        #: "prometheus", "victoriametrics" or "unknown", from buildinfo.
        self.flavour: str | None = None
        #: Scrape interval found from the data at the first poll (seconds).
        self.scrape_interval_s: float | None = None
        #: HTTP requests the last poll made (the first poll's backfill included;
        #: a rules look-up every 5 minutes at most while no ALERTS series exist).
        self.last_poll_requests = 0
        #: PromQL queries the last poll made: queries_per_poll once backfilled.
        self.last_poll_queries = 0
        self._trackers = {name: StateTracker(name) for name in self.sites}
        self._backfilled = False
        self._backfill_failures = 0
        self._lock = threading.Lock()
        self._notices: dict[str, str] = {}  # topic -> notice
        self._alert_rules = AlertRules(self._client, alert_name)
        # Backfilled transitions not yet delivered (the poll that read them failed).
        self._pending: list[Transition] = []
        if self._client.had_userinfo:
            self._notices["url"] = (
                "credentials in the Prometheus URL are ignored: "
                "use password_env/password_file or a bearer token"
            )
        if self._client.auth.insecure_skip_verify:
            self._notices["tls"] = "TLS certificate verification is off for Prometheus"

    @property
    def queries_per_poll(self) -> int:
        """PromQL queries in every poll (the profile's roles plus the alert),
        the same for 3 services or 3,000."""
        return len(self.profile.queries) + 1

    def __repr__(self) -> str:
        return (
            f"PrometheusSource({self.url!r}, profile={self.profile.name!r}, "
            f"auth={self._client.auth.describe()!r})"
        )

    def close(self) -> None:
        self._client.close()

    # --- The poll ---------------------------------------------------------------

    def poll(self) -> FleetSnapshot:
        with self._lock:
            n_requests, n_queries = self._client.requests, self._client.queries
            budget = self.deadline
            if not self._backfilled:  # the first poll reads up to an hour of history too
                budget += self._client.timeout * BACKFILL_TIMEOUT_FACTOR
            try:
                with Deadline(budget):
                    return self._poll()
            finally:
                self.last_poll_requests = self._client.requests - n_requests
                self.last_poll_queries = self._client.queries - n_queries

    def _poll(self) -> FleetSnapshot:
        self._client.take_warnings()  # a failed poll's: this one tells its own
        if self.flavour is None:
            self._detect_flavour()
        if not self._backfilled:
            self._pending += self._backfill(self.clock().timestamp())
        transitions = list(self._pending)
        now = self.clock()
        at = now.timestamp()
        # Each answer is read on its query's thread as it comes.
        calls: dict[str, Callable[[], Any]] = {
            role: partial(self._read, role, q, at) for role, q in self.profile.queries.items()
        }
        answers = self._at_once({**calls, ALERTS: partial(self._alerts, at)})
        alerts = answers.pop(ALERTS)
        services: list[ServiceStatus] = []
        unlabelled, hidden = 0, {}
        for site, tracker in self._trackers.items():
            readings = [by_site[site] for by_site in answers.values()]
            instances, missing, shown = combine(self.profile, readings, self.show_infrastructure)
            unlabelled += missing
            hidden |= shown or {}
            transitions += tracker.observe({k: v[0] for k, v in instances.items()}, now)
            services += self._services(instances, tracker)
        self._hidden_notice(hidden)
        self._notice("sites", self._splitter.notice())
        labels = " or ".join(self.profile.service_labels)
        self._notice("labels", unlabelled and (
            f"{unlabelled} series without a {labels} label were ignored: "
            "check the metric profile's service label"))
        snapshot = FleetSnapshot(
            fetched_at=now,
            services=tuple(services),
            transitions=tuple(sorted(transitions, key=lambda t: t.at)),
            alerts=alerts,
            notices=tuple(self._notices.values()),
            half_open_note=self.profile.half_open_note,
            sources=partial_health(self._client.take_warnings(), self.label, self.sites, now),
        )
        self._pending = []
        return snapshot

    def _read(self, role: str, promql: str, at: float) -> dict[str, RoleReading]:
        """One role's answer, read by site."""
        result = self._client.query(promql, at, self._what(role))
        return {site: read_role(self.profile, role, part)
                for site, part in self._splitter.split(result).items()}

    def _at_once(self, calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        """Every call's answer, asked side by side under the poll's deadline:
        the rate answers are read while the server still evaluates the state
        query (the slowest), where one after another a poll waited for each
        in turn and then read them all. Every call is waited for; the first
        failure in the calls' order is raised, as when they were asked one
        by one."""
        futures = {key: in_thread(carried(call), f"query {key}") for key, call in calls.items()}
        wait(futures.values())  # none still running into the next poll
        return {key: future.result() for key, future in futures.items()}

    def _notice(self, topic: str, notice: str | None) -> None:
        if notice:
            self._notices[topic] = notice
        else:
            self._notices.pop(topic, None)

    def _hidden_notice(self, shown: dict[str, str | None] | None) -> None:
        hidden = sorted(c for c, name in (shown or {}).items() if name is None)
        if hidden:
            listed = ", ".join(hidden[:3]) + (", …" if len(hidden) > 3 else "")
            self._notices["infrastructure"] = (
                f"{len(hidden)} Istio infrastructure clusters hidden ({listed}): "
                "show_infrastructure = true under [prometheus] shows them"
            )
        else:
            self._notices.pop("infrastructure", None)

    def _what(self, role: str) -> str:
        return f"custom profile's {role}" if self.profile.custom else role

    # --- Building the snapshot ---------------------------------------------------

    def _services(self, instances: dict[tuple[str, str], Reading],
                  tracker: StateTracker) -> tuple[ServiceStatus, ...]:
        by_service: dict[str, list[InstanceStatus]] = {}
        for (service, instance), (state, reported, fields) in sorted(instances.items()):
            by_service.setdefault(service, []).append(InstanceStatus(
                instance=instance,
                state=state,
                since=tracker.since_of((service, instance), state),
                reported=reported,
                **fields,
            ))
        return tuple(
            ServiceStatus(
                service=service,
                instances=tuple(members),
                recovery_timeout_s=self.recovery_timeouts.get(
                    service, self.default_recovery_timeout
                ),
                failure_rate_threshold=self.failure_rate_thresholds.get(service),
                last_transition=tracker.last_transition.get(service),
                site=tracker.site,
            )
            for service, members in by_service.items()
        )

    # --- Backend flavour ------------------------------------------------------

    def _detect_flavour(self) -> None:
        """Prometheus' buildinfo names a version; VictoriaMetrics answers an
        empty one. Only a notice depends on it: a failure here is no error."""
        try:
            info = self._client.get("/api/v1/status/buildinfo", "build info")
        except Unreachable:
            return  # the queries will say so; detect at the next poll
        except SourceError:
            info = None  # no such endpoint here (a proxy, another backend)
        if isinstance(info, dict) and info.get("version"):
            self.flavour = "prometheus"
        elif isinstance(info, dict):
            self.flavour = "victoriametrics"
            offset = self._latency_offset()
            if offset != "0s":
                self._notices["latency"] = (
                    f"VictoriaMetrics hides the newest {offset or '30s'} of samples from "
                    "queries (-search.latencyOffset): states may lag that much"
                )
        else:
            self.flavour = "unknown"

    def _latency_offset(self) -> str | None:
        """VictoriaMetrics' -search.latencyOffset: /flags lists the flags set
        explicitly, so its absence means the default, 30s. None if unknown."""
        try:
            flags = self._client.get_text("/flags", "flags")
        except SourceError:
            return None
        found = re.search(r'^-search\.latencyOffset="?([^"\s]*)"?\s*$', flags, re.M)
        return found.group(1) if found else "30s"

    # --- History ------------------------------------------------------------------

    def _backfill(self, now: float) -> list[Transition]:
        """Read the last `backfill_minutes` of states back with one range query
        whose step is the scrape interval found in the data."""
        p = self.profile
        # The history ends now; the poll's instant queries run after it, so
        # they see every sample it saw (and the first diff catches the rest).
        end = now
        if self.backfill_minutes <= 0:
            self._backfilled = True
            return []
        try:
            if p.interval_metric:
                step = self.scrape_interval_s = self._measure_interval(end)
                if step is None:  # no data yet, or a single sample: no history
                    self._backfilled = True
                    return []
            else:
                step = FALLBACK_STEP_S
                self._notices["interval"] = (
                    "scrape interval unknown (the profile names no interval_metric): "
                    f"history read at {FALLBACK_STEP_S:g} s steps"
                )
            window = self.backfill_minutes * 60.0
            step = max(step, window / MAX_BACKFILL_POINTS)
            result = self._client.query_range(
                p.backfill_query(), end - window, end, step, self._what("state history"),
                timeout=self._client.timeout * BACKFILL_TIMEOUT_FACTOR,
            )
        except Unreachable:
            raise  # the poll fails; try again at the next one
        except SourceError as exc:
            # Answered, but no: a wrong or too heavy query, an overloaded server.
            # Never let the history keep the board from showing: live only.
            self._backfill_failures += 1
            if not isinstance(exc, ConfigError) and self._backfill_failures < BACKFILL_ATTEMPTS:
                raise  # maybe passing: this poll fails, the next one tries again
            self._notices["backfill"] = f"history backfill failed, live transitions only: {exc}"
            self._backfilled = True
            return []
        self._backfilled = True
        parts = self._splitter.split(result)
        found = [t for site, part in parts.items() for t in self._trackers[site].backfill(
            read_history(p, part, self.show_infrastructure))]
        return sorted(found, key=lambda t: (t.at, t.site, t.service, t.instance))

    def _measure_interval(self, end: float) -> float | None:
        metric = self.profile.interval_metric
        top = self._client.query(f"topk(1, {metric})", end, "scrape interval")
        if not top:
            return None
        labels = {"__name__": metric, **top[0].get("metric", {})}
        selector = ", ".join(f"{k}={promql_string(v)}" for k, v in sorted(labels.items()))
        raw = self._client.query(f"{{{selector}}}[{INTERVAL_PROBE}]", end, "scrape interval")
        return scrape_interval(raw)

    # --- Alerts -------------------------------------------------------------------

    def _alerts(self, at: float) -> tuple[Alert, ...]:
        result = self._client.query(alerts_query(self.alert_name), at, "alert")
        self._notice("alerts", self._alert_rules.notice(bool(result), at))
        labels = self.profile.service_labels
        return self._splitter.alerts(result, lambda part: read_alerts(
            part, self.alert_name, labels))


def partial_health(warnings: tuple[str, ...], label: str, sites: tuple[str, ...],
                   now) -> tuple[SourceHealth, ...]:
    """The API's warnings and infos of a poll's answers (Thanos' partial
    responses, VictoriaMetrics' isPartial): the data may be incomplete, and
    is said so. None: nothing to say (the one source's health is the poll's
    success, as before)."""
    if not warnings:
        return ()
    return (SourceHealth(name=label, sites=sites, status=SourceStatus.PARTIAL,
                         warnings=warnings, as_of=now),)
