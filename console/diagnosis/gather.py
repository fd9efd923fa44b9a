"""The runbook's Diagnosis steps for one breaker service, gathered in one
blocking call (run it in a thread worker): downstream health, rollout state
and history of the downstream and the caller, pods, filtered log tails,
dependency checks from inside a downstream pod, and the next step.

Each part fails on its own: an unknown part says why, the rest still shows.

A rollout's time is its ReplicaSet's creation time: `kubectl rollout
history` keeps no finish time, and the ReplicaSet is created when the
rollout starts, which is when its pods start replacing the old ones.
Dependencies are checked from inside a downstream pod only, never from the
console's own host: the network that matters is the pod's.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from console.diagnosis import clusterview, urldeps
from console.diagnosis.decide import next_step
from console.diagnosis.commits import recent_commits
from console.diagnosis.inside import check_inside
from console.diagnosis.findings import (
    LIKELY_CAUSE_WINDOW, LOG_LINES, LOG_PODS, LOG_TAIL, EXEC_TIMEOUT, NC_WAIT_S, NO_HEALTH_URL,
    PARTS, RevisionView, LogLine, WorkloadView, DependencyCheck, Diagnosis,
)
from console.errors import SourceError
from console.model.fleet import BreakerState, Pod, ServiceStatus
from console.model.kubectl import fallback_enabled, rollout_status
from console.model.probe import HealthResult
from console.model.servicemap import ServiceTarget

log = logging.getLogger(__name__)
from console.ports import ClusterSource, CommitLog, FlagSource, Probe


def gather(
    target: ServiceTarget,
    *,
    cluster: ClusterSource | None,
    probe: Probe | None,
    flags: FlagSource | None,
    breaker: ServiceStatus | None,
    now: datetime,
    cluster_unavailable: str = "no cluster",
    context: str | None = None,  # the kube context, for the commands NEXT shows
    commits: CommitLog | None = None,  # git log on this host (runbook Diagnosis 3)
) -> Diagnosis:
    """Every Diagnosis step for `target`; blocking, never raises a SourceError."""
    opened_at = breaker_opened_at(breaker, now)
    health = check_health(probe, target.health_url, now)
    downstream = workload(cluster, "downstream", target.namespace, target.downstream,
                          opened_at, cluster_unavailable)
    caller = workload(cluster, "caller", target.namespace, target.caller, opened_at,
                      cluster_unavailable)
    dependencies = check_dependencies(cluster, target, downstream, cluster_unavailable)
    seen = cluster_view(cluster, target, downstream, caller, cluster_unavailable)
    inside = check_inside(cluster, target, caller, cluster_unavailable)
    opened = breaker is not None and breaker.state in (BreakerState.OPEN, BreakerState.HALF_OPEN)
    recent = recent_commits(commits, target, (downstream, caller), now,
                            opened_at if opened else None)
    fallback_on = (fallback_enabled(caller.deployment, target.env_prefix)
                   if caller.deployment is not None else None)
    flag, flag_error = None, None
    if flags is None:
        flag_error = "no feature-flag service configured"
    else:
        try:
            flag = flags.get_flag(target.flag)
        except SourceError as exc:
            flag_error = str(exc)
    state = breaker.state if breaker is not None else None
    since = breaker.since if breaker is not None else None
    step = next_step(
        target, state=state, open_for=(now - since) if since else None, health=health,
        downstream=downstream, caller=caller, fallback_on=fallback_on, flag=flag,
        opened_at=opened_at, context=context, cluster=seen, dependencies=dependencies,
    )
    return Diagnosis(target=target, gathered_at=now, health=health, downstream=downstream,
                     caller=caller, dependencies=dependencies, fallback_on=fallback_on,
                     flag=flag, flag_error=flag_error, next_step=step, cluster=seen,
                     inside=inside, commits=recent)


def cluster_view(cluster: ClusterSource | None, target: ServiceTarget, downstream: WorkloadView,
                 caller: WorkloadView, cluster_unavailable: str) -> clusterview.ClusterView:
    """What the cluster sees of the path: endpoints, events, NetworkPolicies."""
    if cluster is None:
        return clusterview.ClusterView(endpoints_error=cluster_unavailable,
                                       warnings_error=cluster_unavailable,
                                       policies_error=cluster_unavailable)

    def labels(view: WorkloadView) -> dict[str, str] | None:
        return dict(view.deployment.selector) if view.deployment is not None else None

    return clusterview.read(cluster, target, downstream_labels=labels(downstream),
                            caller_labels=labels(caller))


def breaker_opened_at(breaker: ServiceStatus | None, now: datetime) -> datetime:
    """When the breaker opened, for the likely-cause window: its `since`
    while open (half-open: one recovery timeout after it opened), else now."""
    if breaker is None or breaker.since is None:
        return now
    if breaker.state is BreakerState.OPEN:
        return breaker.since
    if breaker.state is BreakerState.HALF_OPEN:
        return breaker.since - timedelta(seconds=breaker.recovery_timeout_s)
    return now


def check_health(probe: Probe | None, url: str | None, now: datetime) -> HealthResult:
    if not url:
        return HealthResult(url="", checked_at=now, error=NO_HEALTH_URL, probed=False)
    if probe is None:
        return HealthResult(url=url, checked_at=now, error="no probe", probed=False)
    try:
        return probe.check(url)
    except Exception as exc:  # noqa: BLE001 - a probe must not sink the whole diagnosis
        log.warning("health check of %s failed", url, exc_info=True)
        return HealthResult(url=url, checked_at=now, error=f"probe failed: {type(exc).__name__}")


def workload(cluster: ClusterSource | None, role: str, namespace: str, name: str,
             opened_at: datetime, cluster_unavailable: str = "no cluster") -> WorkloadView:
    """One deployment as the runbook looks at it; each part fails on its own."""
    log_filter = "circuit" if role == "caller" else "ERROR"
    if cluster is None:
        return WorkloadView(role=role, name=name, log_filter=log_filter,
                            error=cluster_unavailable,
                            unread=tuple((part, cluster_unavailable) for part in PARTS))
    errors: list[tuple[str, str]] = []

    def part(label: str, call):
        try:
            return call()
        except SourceError as exc:
            errors.append((label, str(exc)))
            return None

    deployment = part("deployment", lambda: cluster.deployment(namespace, name))
    history = part("rollout history", lambda: cluster.rollout_history(namespace, name)) or []
    pods = part("pods", lambda: cluster.pods(namespace, name)) or []
    newest = max((r.revision for r in history), default=None)
    revisions = tuple(
        RevisionView(revision=r, current=r.revision == newest,
                     likely_cause=opened_at - LIKELY_CAUSE_WINDOW <= r.created_at <= opened_at)
        for r in history
    )
    pods_unread = next((why for label, why in errors if label == "pods"), None)
    logs, log_pods = read_logs(cluster, namespace, pods, log_filter, errors)
    unread = list(errors)
    if pods_unread is not None:
        unread.append(("logs", pods_unread))
    elif not pods:
        unread.append(("logs", f"no {name} pod to read from"))
    elif not log_pods:  # every pod's log was refused
        unread.append(("logs", next(why for label, why in errors if label.startswith("logs of"))))
    error = None
    if errors:
        error = errors[0][1]
        if len(errors) > 1:
            error += f" (also failed: {', '.join(label for label, _ in errors[1:])})"
    return WorkloadView(
        role=role, name=name, deployment=deployment,
        rollout=rollout_status(deployment) if deployment is not None else None,
        revisions=revisions, pods=tuple(pods), log_filter=log_filter, logs=logs,
        log_pods=log_pods, error=error, unread=tuple(unread),
    )


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _stamp(line: str) -> datetime | None:
    """The RFC 3339 time a log line starts with, if it does."""
    m = _STAMP.match(line)
    if not m:
        return None
    fraction = (m.group(2) or "")[:7]  # Python takes microseconds at most
    try:
        at = datetime.fromisoformat(m.group(1) + fraction + (m.group(3) or "+00:00"))
    except ValueError:
        return None
    return at


def matches(line: str, log_filter: str) -> bool:
    """The runbook's greps: `grep -i circuit` for the caller, `grep ERROR` downstream."""
    if log_filter == "ERROR":
        return "ERROR" in line
    return log_filter.lower() in line.lower()


def read_logs(cluster: ClusterSource, namespace: str, pods: list[Pod], log_filter: str,
              errors: list[tuple[str, str]]) -> tuple[tuple[LogLine, ...], tuple[str, ...]]:
    """The matching lines of up to LOG_PODS pods (ready and newest first),
    newest first by their timestamps (by position where a line has none),
    and the pods whose logs were read."""
    chosen = sorted(pods, key=lambda p: (not p.ready, -p.created_at.timestamp()))[:LOG_PODS]
    found: list[tuple[datetime | None, int, int, LogLine]] = []
    read: list[str] = []
    for order, pod in enumerate(chosen):
        try:
            lines = cluster.logs(namespace, pod.name, tail=LOG_TAIL)
        except SourceError as exc:
            errors.append((f"logs of {pod.name}", str(exc)))
            continue
        read.append(pod.name)
        hits = [line for line in lines if matches(line, log_filter)]
        for back, line in enumerate(reversed(hits)):
            found.append((_stamp(line), back, order, LogLine(pod=pod.name, text=line)))
    if found and all(at is not None for at, *_ in found):
        found.sort(key=lambda f: (-f[0].timestamp(), f[1], f[2]))
    else:
        found.sort(key=lambda f: (f[1], f[2]))
    return tuple(f[3] for f in found[:LOG_LINES]), tuple(read)


def nc_command(host: str, port: int) -> list[str]:
    """The runbook's `nc -zv host port`, bounded; one argv word each, no shell."""
    return ["nc", "-z", "-v", "-w", str(NC_WAIT_S), host, str(port)]


def check_dependencies(cluster: ClusterSource | None, target: ServiceTarget,
                       downstream: WorkloadView,
                       cluster_unavailable: str = "no cluster") -> tuple[DependencyCheck, ...]:
    """`nc -zv host port` from the first ready downstream pod, one per dependency."""
    if not target.dependencies:
        return ()
    pod = next((p.name for p in downstream.pods if p.ready), None)
    reason = None
    if cluster is None:
        reason = cluster_unavailable
    elif pod is None:
        reason = (downstream.why_unread("pods")
                  or f"no ready {downstream.name} pod to check from")
    checks = []
    for dep in target.dependencies:
        if reason is not None:
            checks.append(DependencyCheck(dep.address, None, f"not checked: {reason}", pod))
            continue
        if dep.url:  # curl -v, not nc
            checks.append(urldeps.check_url(cluster, target.namespace, pod, dep))
            continue
        try:
            result = cluster.exec_in_pod(target.namespace, pod, nc_command(dep.host, dep.port),
                                         timeout=EXEC_TIMEOUT)
        except SourceError as exc:  # refused once, refused for every dependency
            reason = str(exc)
            checks.append(DependencyCheck(dep.address, None, f"not checked: {reason}", pod))
            continue
        if result.missing_executable:
            reason = f"nc is not in the image of {pod}"
            checks.append(DependencyCheck(dep.address, None, f"not checked: {reason}", pod))
        elif result.exit_code is None:
            checks.append(DependencyCheck(
                dep.address, None, f"not checked: nc gave no answer within {EXEC_TIMEOUT:g} s",
                pod))
        else:
            said = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines()
                    if line.strip()]
            if result.exit_code == 0:
                detail = said[-1] if said else "open"
            else:
                detail = next((line for line in said if line.startswith("nc:")),
                              said[0] if said else f"nc exited with code {result.exit_code}")
            checks.append(DependencyCheck(dep.address, result.exit_code == 0, detail, pod))
    return tuple(checks)


# --- the runbook's decision --------------------------------------------------------
