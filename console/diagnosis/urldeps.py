"""Dependencies given as URLs (`https://external-api.com/health`), checked
from inside a downstream pod as the runbook's
`kubectl exec -it payment-api-pod -- curl -v https://external-api.com/health`
does: through the same exec call as the inside health check (curl, else
wget, else it says so), with status, latency and what broke in plain words
(console.diagnosis.networds)."""

from __future__ import annotations

from console.diagnosis.findings import DependencyCheck
from console.diagnosis.inside import MAX_TIME_S, fetch
from console.model.servicemap import Dependency


def wget_command(url: str) -> list[str]:
    """-nv: wget prints why it failed (-q says nothing); one try, not 20."""
    return ["wget", "-nv", "-S", "-t", "1", "-O", "/dev/null", "-T", str(MAX_TIME_S), url]


def check_url(cluster, namespace: str, pod: str, dep: Dependency) -> DependencyCheck:
    """`dep.url` fetched in `pod`; `reachable` is whether it answered HTTP."""
    found = fetch(cluster, namespace, pod, dep.url or "", wget=wget_command)
    if found.tool is None:
        return DependencyCheck(dep.address, None, f"not checked: {found.error}", pod)
    if found.status is None:
        return DependencyCheck(dep.address, False, found.error or "no HTTP answer", pod,
                               tool=found.tool)
    return DependencyCheck(dep.address, True, found.error or "", pod, tool=found.tool,
                           status=found.status, latency_ms=found.latency_ms)


def failing(checks: tuple[DependencyCheck, ...]) -> list[DependencyCheck]:
    """The URL dependencies that answered an error or not at all."""
    return [c for c in checks if c.tool is not None and c.failing]
