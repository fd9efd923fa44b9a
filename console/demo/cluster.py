"""The demo fleet's cluster, behind the ClusterSource interface: what
kubectl get / rollout history / logs / patch would answer for namespace shop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.demo.kube import SimDeployment, SimPod
from console.demo.topology import NAMESPACE
from console.model import Deployment, Pod, Revision
from console.sources.base import SourceError

if TYPE_CHECKING:
    from console.demo.fleet import DemoFleet


class DemoCluster:
    label = "demo-cluster"

    def __init__(self, fleet: DemoFleet) -> None:
        self._fleet = fleet

    def deployment(self, namespace: str, name: str) -> Deployment:
        with self._fleet.running() as tick:
            return self._find(namespace, name).model(tick)

    def rollout_history(self, namespace: str, name: str) -> list[Revision]:
        with self._fleet.running():
            return self._find(namespace, name).history()

    def pods(self, namespace: str, deployment: str) -> list[Pod]:
        with self._fleet.running() as tick:
            return self._find(namespace, deployment).pod_models(tick)

    def logs(self, namespace: str, pod: str, tail: int = 100) -> list[str]:
        """Oldest first; a negative tail means all lines, as kubectl's --tail=-1."""
        with self._fleet.running():
            found = self._pod(namespace, pod)
            lines = list(found.log)
            if tail >= 0:
                lines = lines[-tail:] if tail else []
            return [f"{self._fleet.stamp(t)} {text}" for t, text in lines]

    def patch_deployment(
        self, namespace: str, name: str, patch: dict, field_manager: str
    ) -> Deployment:
        # The controller acts on the next tick, as a real one acts after the
        # API server answers: right after a patch, rollout status still waits.
        with self._fleet.running() as tick:
            deployment = self._find(namespace, name)
            deployment.patch(patch)
            return deployment.model(tick)

    def set_paused(self, namespace: str, name: str, paused: bool) -> Deployment:
        """`kubectl rollout pause/resume`: the same patch those send."""
        return self.patch_deployment(
            namespace, name, {"spec": {"paused": paused}}, "kubectl-rollout"
        )

    def health(self, service: str) -> tuple[int, float]:
        return self._fleet.health(service)

    # --- lookups --------------------------------------------------------------------

    def _find(self, namespace: str, name: str) -> SimDeployment:
        self._namespace(namespace)
        deployment = self._fleet.deployments.get(name)
        if deployment is None:
            raise SourceError(f'deployments.apps "{name}" not found in namespace "{namespace}"')
        return deployment

    def _pod(self, namespace: str, name: str) -> SimPod:
        self._namespace(namespace)
        for deployment in self._fleet.deployments.values():
            for pod in deployment.pods:
                if pod.name == name:
                    return pod
        raise SourceError(f'pods "{name}" not found in namespace "{namespace}"')

    @staticmethod
    def _namespace(namespace: str) -> None:
        if namespace != NAMESPACE:
            raise SourceError(
                f'namespaces "{namespace}" not found (the demo cluster has only "{NAMESPACE}")'
            )
