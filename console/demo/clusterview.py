"""What the demo cluster's API server says of a service, as the real one
would: the Service's endpoints are the pods serving, a downstream failing
its calls fails readiness probes now and then (the kubelet's Unhealthy
events, under the failure threshold, so the pods stay ready), and the
namespace has a default-deny-ingress policy with the allow rule for the
callers (nothing blocks api -> payment-api)."""

from __future__ import annotations

import zlib

from console.demo.topology import NAMESPACE, SERVICE_PORT, TICK_S
from console.demo.world import World
from console.errors import SourceError
from console.model.fleet import ExecResult
from console.model.cluster import (
    EndpointCount, LabelSelector, NetworkPolicy, PolicyPeer, PolicyRule, WarningEvent,
)

PROBE_PERIOD_S = 10  # the readiness probe's periodSeconds
PROBE_TIMEOUT_S = 1

POLICIES = (
    NetworkPolicy(name="default-deny-ingress", pod_selector=LabelSelector(),
                  policy_types=("Ingress",)),
    NetworkPolicy(name="allow-from-api", pod_selector=LabelSelector(),
                  policy_types=("Ingress",),
                  ingress=(PolicyRule(peers=(PolicyPeer(pod_selector=LabelSelector(
                      match_labels={"app": "api"})),), ports=(str(SERVICE_PORT),)),)),
)


class DemoClusterView:
    """The ClusterDiagnostics reads of the demo cluster (mixed into DemoCluster)."""

    _fleet: World

    def service_endpoints(self, namespace: str, service: str) -> EndpointCount:
        with self._fleet.running() as tick:
            deployment = self._deployment(namespace, service)
            active = [p for p in deployment.pods if p.terminating is None]
            ready = len(deployment.serving(tick))
            return EndpointCount(service=service, ready=ready, not_ready=len(active) - ready,
                                 source="EndpointSlices", ports=(SERVICE_PORT,))

    def warning_events(self, namespace: str, deployment: str) -> list[WarningEvent]:
        with self._fleet.running() as tick:
            sim = self._deployment(namespace, deployment)
            d = self._fleet.downstreams.get(deployment)
            if d is None or d.fault is None or self._fleet.error_rate(d, tick) < 0.5:
                return []
            failing_s = tick * TICK_S - d.fault.start_s
            count = max(1, int(failing_s // (2 * PROBE_PERIOD_S)))  # every other probe
            return [WarningEvent(
                kind="Pod", name=pod.name, reason="Unhealthy", count=count,
                message=(f'Readiness probe failed: Get "http://{_ip(pod.name)}:{SERVICE_PORT}/health":'
                         f" context deadline exceeded (Client.Timeout exceeded while awaiting "
                         f"headers)"),
                last_seen=sim.at(tick)) for pod in sim.serving(tick)]

    def network_policies(self, namespace: str) -> list:
        with self._fleet.running():
            self._deployment(namespace, None)
            return list(POLICIES)

    def curl(self, command: list[str]) -> ExecResult:
        """`curl -sS -o /dev/null -w '%{http_code} %{time_total}' ... URL` to a
        service's :8080, as the fleet's health answers it from a pod."""
        url = command[-1]
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].split(".", 1)[0]
        if host not in self._fleet.deployments:
            return ExecResult(exit_code=6, stderr=f"curl: (6) Could not resolve host: {host}\n")
        status, latency_ms = self._fleet.health(host)
        return ExecResult(exit_code=0, stdout=f"{status} {latency_ms / 1000:.6f}")

    def _deployment(self, namespace: str, name: str | None):
        if namespace != NAMESPACE:
            raise SourceError(
                f'namespaces "{namespace}" not found (the demo cluster has only "{NAMESPACE}")')
        if name is None:
            return None
        found = self._fleet.deployments.get(name)
        if found is None:
            raise SourceError(f'services "{name}" not found in namespace "{namespace}"')
        return found


def _ip(name: str) -> str:
    """A pod IP for the probe's words, stable per pod."""
    n = zlib.crc32(name.encode())
    return f"10.244.{n % 250}.{n // 250 % 250 + 1}"
