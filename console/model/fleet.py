"""The domain model: breakers, their instances, transitions and fleet snapshots.

Times are timezone-aware UTC datetimes. A value the source could not know is
None, never zero: the screen shows unknown as unknown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from functools import cache, cached_property

from pydantic import BaseModel, ConfigDict, Field

from console.model.alertmanager import ManagedAlert, PagerView

DEFAULT_RECOVERY_TIMEOUT_S = 60.0


class BreakerState(str, Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    UNKNOWN = "unknown"
    # More than one state reported as current for one breaker: the runbook's
    # gauge snippet sets the new state to 1 and never clears the old one.
    CONFLICT = "conflict"

    @property
    def label(self) -> str:
        """The word the board shows: OPEN, HALF-OPEN, FORCED-OPEN..."""
        return self.value.upper().replace("_", "-")

    @property
    def rank(self) -> int:
        """Sort rank, worst first. Forced-open rejects calls like open;
        disabled lets every call through like closed, but unguarded."""
        return _RANK[self]

    @property
    def rejects_calls(self) -> bool:
        return self in (BreakerState.OPEN, BreakerState.FORCED_OPEN)


_RANK = {
    BreakerState.OPEN: 0,
    BreakerState.FORCED_OPEN: 1,
    BreakerState.CONFLICT: 2,
    BreakerState.HALF_OPEN: 3,
    BreakerState.UNKNOWN: 4,
    BreakerState.DISABLED: 5,
    BreakerState.CLOSED: 6,
}


def worst(states: list[BreakerState]) -> BreakerState:
    """The worst of several states; no states at all is unknown."""
    return min(states, key=lambda s: s.rank, default=BreakerState.UNKNOWN)


class Observed(str, Enum):
    """How a transition was learnt: seen by a live poll, or read back from history."""

    LIVE = "live"
    BACKFILL = "backfill"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    def model_copy(self, *, update=None, deep: bool = False):
        """pydantic copies the whole __dict__, cached properties too: a copy
        with other fields must work its own out again."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for name in _cached_names(type(self)):
                copied.__dict__.pop(name, None)
        return copied


@cache
def _cached_names(cls: type) -> tuple[str, ...]:
    return tuple(name for klass in cls.__mro__ for name, value in vars(klass).items()
                 if isinstance(value, cached_property))


class Transition(_Frozen):
    service: str
    instance: str
    from_state: BreakerState
    to_state: BreakerState
    at: datetime
    observed: Observed = Observed.LIVE
    #: The site (cluster) it was seen in; "" is the one implicit site.
    site: str = ""

    @property
    def key(self) -> tuple:
        """Identity for de-duplication between backfill and live polls."""
        return (self.site, self.service, self.instance, self.from_state, self.to_state, self.at)


class InstanceStatus(_Frozen):
    """One breaker as one instance (pod) reports it."""

    instance: str
    state: BreakerState
    since: datetime | None = None
    # The states the instance reported as current; more than one is a conflict.
    reported: tuple[BreakerState, ...] = ()
    failure_rate: float | None = None  # failed calls per second
    success_rate: float | None = None  # successful calls per second
    rejected_rate: float | None = None  # not-permitted calls per second, where known
    # The breaker's own failure and slow-call rates over its sliding window, in
    # percent, where the library exports them (Resilience4j): the numbers it
    # trips on. -1: fewer calls than its minimum; None: not exported.
    breaker_failure_percent: float | None = None
    breaker_slow_call_percent: float | None = None
    # Upstream hosts ejected by outlier detection, where known (Envoy).
    ejected_hosts: int | None = None


class ServiceStatus(_Frozen):
    """A breaker service (the downstream it guards) across all reporting instances."""

    service: str
    instances: tuple[InstanceStatus, ...] = ()
    #: The site (cluster) this row is from; "" is the one implicit site of a
    #: single-source console. A service runs in several sites: (site, service)
    #: is a row's identity (`key`).
    site: str = ""
    recovery_timeout_s: float = DEFAULT_RECOVERY_TIMEOUT_S
    # The breaker's configured failure-rate threshold in percent (the service
    # map's failure_rate_threshold), where given.
    failure_rate_threshold: float | None = None
    last_transition: Transition | None = None

    @cached_property  # one tuple per row, asked for by every lookup of it
    def key(self) -> tuple[str, str]:
        return (self.site, self.service)

    @cached_property  # frozen: computed once, read by every column
    def state(self) -> BreakerState:
        return worst([i.state for i in self.instances])

    @property
    def split(self) -> tuple[int, int]:
        """(instances in the worst state, instances reporting)."""
        state = self.state
        return sum(1 for i in self.instances if i.state == state), len(self.instances)

    @property
    def since(self) -> datetime | None:
        """When the service entered its worst state: the earliest such instance."""
        state = self.state
        times = [i.since for i in self.instances if i.state == state and i.since]
        return min(times, default=None)

    @property
    def next_probe(self) -> datetime | None:
        """The next expected half-open probe: opened_at + recovery_timeout,
        the earliest over the open instances."""
        opened = [
            i.since for i in self.instances if i.state == BreakerState.OPEN and i.since
        ]
        if not opened:
            return None
        return min(opened) + timedelta(seconds=self.recovery_timeout_s)

    def _total(self, field: str) -> float | None:
        values = [getattr(i, field) for i in self.instances]
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    @property
    def failure_rate(self) -> float | None:
        return self._total("failure_rate")

    @property
    def success_rate(self) -> float | None:
        return self._total("success_rate")

    @property
    def rejected_rate(self) -> float | None:
        return self._total("rejected_rate")

    @cached_property  # frozen: once per row, wherever it is first asked (the poll process)
    def error_percent(self) -> float | None:
        """ERR%: the share of calls users saw fail (see failed_share)."""
        return failed_share(self.failure_rate, self.success_rate, self.rejected_rate)

    def warm(self) -> None:
        """Work out now what the board and the history read of the row (a
        poll's thread, or the poll process: then it crosses in the pickle)."""
        self.state, self.error_percent  # noqa: B018 - cached_property


def failed_share(failed: float | None, ok: float | None, rejected: float | None) -> float | None:
    """Percent of the calls attempted that failed or were rejected by the
    breaker (both are 503s to the caller's users): (failed + rejected) /
    (failed + ok + rejected). The board's ERR% and its trend. A source with
    no rejection counter (the runbook's metrics) counts none; unknown
    failures or successes, or no call at all, give None (shown as —)."""
    if failed is None or ok is None:
        return None
    rejected = rejected or 0.0
    total = failed + ok + rejected
    if total <= 0:
        return None
    return 100.0 * (failed + rejected) / total


class Alert(_Frozen):
    """An alert as the backend evaluates it (Prometheus ALERTS / ALERTS_FOR_STATE)."""

    name: str
    state: str  # "pending" or "firing"
    service: str | None = None  # None when the rule aggregates services away
    active_at: datetime | None = None  # when it became active (ALERTS_FOR_STATE)
    #: A pending alert's firing time (active_at + the rule's `for:`), when the rule was read.
    fires_at: datetime | None = None
    #: As Alertmanager holds it (silenced, inhibited, receivers), when one is configured.
    pager: ManagedAlert | None = None
    site: str = ""


def alerts_by_service(alerts) -> dict[str, Alert]:
    """Each service's alert (of any site), firing before pending."""
    return _chosen(alerts, lambda alert: alert.service)


def alerts_by_row(alerts) -> dict[tuple[str, str], Alert]:
    """Each (site, service)'s alert, firing before pending: one site's page
    is not another's (row_alert reads it)."""
    return _chosen(alerts, lambda alert: (alert.site, alert.service))


def row_alert(alerts: dict[tuple[str, str], Alert], site: str, service: str) -> Alert | None:
    """The row's alert; one of no site (one source, or a rule that sums the
    sites away) is every site's."""
    return alerts.get((site, service)) or alerts.get(("", service))


def _chosen(alerts, key) -> dict:
    chosen: dict = {}
    for alert in alerts:
        if alert.service is None:
            continue
        current = chosen.get(key(alert))
        if current is None or (alert.state == "firing" and current.state != "firing"):
            chosen[key(alert)] = alert
    return chosen


class CallTotals(_Frozen):
    """A service's calls counted since the source started, as a source that
    keeps its own totals reads them (the demo's, like *_total counters):
    the journal samples them so the postmortem can count the impact."""

    failures: float
    successes: float
    rejected: float
    source: str = ""  # where they were counted, for the postmortem


class SourceStatus(str, Enum):
    OK = "ok"
    PARTIAL = "partial"  # answered, with warnings: some data may be missing
    STALE = "stale"  # its latest poll failed: its rows are the last good ones


class SourceHealth(_Frozen):
    """One metrics source's truth at a poll, for its header entry and rows."""

    name: str  # for the header: the site name, or the source's label
    sites: tuple[str, ...] = ("",)  # the sites whose rows it serves
    status: SourceStatus = SourceStatus.OK
    reason: str | None = None  # why STALE
    #: The Prometheus API's `warnings` and `infos` (Thanos partial responses,
    #: VictoriaMetrics' isPartial): PARTIAL, never shown as complete.
    warnings: tuple[str, ...] = ()
    as_of: datetime | None = None  # its last good answer


class FleetSnapshot(_Frozen):
    """What one poll saw. `error` is set when the latest poll failed: the
    services are then the last good ones, as of `fetched_at`."""

    fetched_at: datetime
    services: tuple[ServiceStatus, ...] = ()
    # Transitions first seen by this poll (the caller keeps the history).
    transitions: tuple[Transition, ...] = ()
    alerts: tuple[Alert, ...] = ()
    # Things the operator should know about the data once, e.g. "this backend
    # has no ALERTS series".
    notices: tuple[str, ...] = ()
    # Why OPEN -> CLOSED can come with no HALF-OPEN seen (a profile's).
    half_open_note: str | None = None
    error: str | None = None
    error_at: datetime | None = None
    #: Per service, from a source that keeps call totals (none: Prometheus is asked later).
    totals: dict[str, CallTotals] = Field(default_factory=dict)
    #: What Alertmanager held at this poll (None: no Alertmanager configured).
    pager: PagerView | None = None
    #: Each metrics source's health (empty: the one source, told by `error`).
    sources: tuple[SourceHealth, ...] = ()

    @cached_property  # frozen: built once, on the first lookup
    def by_service(self) -> dict[str, ServiceStatus]:
        return {s.service: s for s in self.services}

    @cached_property
    def by_key(self) -> dict[tuple[str, str], ServiceStatus]:
        return {s.key: s for s in self.services}

    def warm(self) -> None:
        """Work out now what the board and the history read of every row:
        on the poll's thread, not the event loop's (20,000 rows' worth)."""
        self.by_service  # noqa: B018 - cached_property
        for service in self.by_key.values():
            service.warm()

    def source_of(self, site: str) -> SourceHealth | None:
        """The health of the source serving `site`'s rows, if told."""
        return next((h for h in self.sources if site in h.sites), None)

    def service(self, name: str) -> ServiceStatus | None:
        return self.by_service.get(name)


# --- Cluster and flag service -------------------------------------------------


class Container(_Frozen):
    name: str
    image: str = ""
    env: dict[str, str] = Field(default_factory=dict)


class Condition(_Frozen):
    type: str
    status: str
    reason: str = ""
    message: str = ""


class Deployment(_Frozen):
    namespace: str
    name: str
    replicas: int
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    status_replicas: int = 0  # all pods, old ones still terminating included
    generation: int = 1
    observed_generation: int = 1
    paused: bool = False
    selector: dict[str, str] = Field(default_factory=dict)
    template_annotations: dict[str, str] = Field(default_factory=dict)
    containers: tuple[Container, ...] = ()
    conditions: tuple[Condition, ...] = ()


class Revision(_Frozen):
    """One entry of `kubectl rollout history`, derived from a ReplicaSet."""

    revision: int
    replicaset: str
    change_cause: str | None = None
    created_at: datetime
    images: tuple[str, ...] = ()  # its pod template's, for a commit an image tag names


class Pod(_Frozen):
    namespace: str
    name: str
    ready: bool
    restarts: int = 0
    phase: str = "Running"
    created_at: datetime
    node: str = ""


class Flag(_Frozen):
    name: str
    enabled: bool
    updated_at: datetime | None = None


class ExecResult(_Frozen):
    """What a command run in a pod's container said (`kubectl exec`).

    exit_code 127 means the executable is not in the image (the kubelet's
    "executable file not found in $PATH", whatever code the runtime gave):
    the shell's convention, so callers test one thing. None: no exit status
    came (the command was still running at the timeout)."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""

    @property
    def missing_executable(self) -> bool:
        return self.exit_code == EXIT_NOT_FOUND


EXIT_NOT_FOUND = 127
