"""The demo fleet's cluster, behind the ClusterSource interface: what
kubectl get / rollout history / logs / patch would answer for namespace shop."""

from __future__ import annotations

import zlib

from console.demo import rollout
from console.demo.clusterview import DemoClusterView
from console.demo.kube import SimDeployment, SimPod
from console.demo.topology import DEPENDENCIES, NAMESPACE, SERVICE_PORT, TICK_S
from console.model.fleet import EXIT_NOT_FOUND, Deployment, ExecResult, Pod, Revision
from console.errors import SourceError
from console.demo.world import World


class DemoCluster(DemoClusterView):
    label = "demo-cluster"

    def __init__(self, fleet: World) -> None:
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

    def rollout_objects(self, namespace: str, name: str) -> tuple[dict, list[dict]]:
        with self._fleet.running():
            return rollout.objects(self._find(namespace, name))

    def json_patch_deployment(
        self, namespace: str, name: str, operations: list[dict]
    ) -> Deployment:
        with self._fleet.running() as tick:
            deployment = self._find(namespace, name)
            rollout.apply(deployment, operations)
            return deployment.model(tick)

    def set_paused(self, namespace: str, name: str, paused: bool) -> Deployment:
        """`kubectl rollout pause/resume`: the same patch those send."""
        return self.patch_deployment(
            namespace, name, {"spec": {"paused": paused}}, "kubectl-rollout"
        )

    def health(self, service: str) -> tuple[int, float]:
        return self._fleet.health(service)

    def exec_in_pod(
        self, namespace: str, pod: str, command: list[str], timeout: float = 5.0
    ) -> ExecResult:
        """The images hold only OpenBSD netcat: `nc -z [-v] [-w N] host port`
        reaches the demo's databases and every service's :8080."""
        with self._fleet.running() as tick:
            self._pod(namespace, pod)
            if command and command[0] == "curl":
                return self.curl(command)
            if not command or command[0] != "nc":
                name = command[0] if command else ""
                return ExecResult(
                    exit_code=EXIT_NOT_FOUND,
                    stderr="OCI runtime exec failed: exec failed: unable to start container "
                    f'process: exec: "{name}": executable file not found in $PATH: unknown',
                )
            return self._nc(command[1:], tick)

    def _nc(self, args: list[str], tick: int) -> ExecResult:
        verbose, rest, words = False, [], iter(args)
        for word in words:
            if word.startswith("-") and len(word) > 1:
                letters = word[1:]
                misplaced_w = "w" in letters and not letters.endswith("w")
                if not set(letters) <= set("zvnw") or misplaced_w:
                    return ExecResult(exit_code=1, stderr=f"nc: invalid option -- '{letters}'\n")
                verbose |= "v" in letters
                if letters.endswith("w"):
                    next(words, None)  # the timeout: every answer here is quick
            else:
                rest.append(word)
        if len(rest) != 2 or not rest[1].isdigit():
            return ExecResult(exit_code=1, stderr="usage: nc [-46CDdFhklNnrStUuvZz] ... "
                              "[destination] [port]\n")
        host, port = rest[0], int(rest[1])
        name = host.split(".", 1)[0]
        suffix = host.split(".", 1)[1] if "." in host else ""
        known = {h for deps in DEPENDENCIES.values() for h, _ in deps}
        known |= set(self._fleet.deployments)
        if name not in known or suffix not in ("", NAMESPACE, f"{NAMESPACE}.svc",
                                               f"{NAMESPACE}.svc.cluster.local"):
            return ExecResult(exit_code=1, stderr=f'nc: getaddrinfo for host "{host}" port '
                              f"{port}: Name or service not known\n")
        listening = {(h, p) for deps in DEPENDENCIES.values() for h, p in deps}
        listening |= {(d, SERVICE_PORT) for d in self._fleet.deployments}
        if (name, port) not in listening:
            return ExecResult(exit_code=1, stderr=f"nc: connect to {host} port {port} (tcp) "
                              "failed: Connection refused\n")
        flap = self._fleet.downstreams["inventory-svc"].flap
        if name == "warehouse-db" and flap and flap.bad(tick * TICK_S):
            return ExecResult(exit_code=1, stderr=f"nc: connect to {host} port {port} (tcp) "
                              "timed out: Operation now in progress\n")
        ip = zlib.crc32(name.encode())
        said = (f"Connection to {host} (10.96.{ip % 250}.{ip // 250 % 250 + 1}) {port} port "
                "[tcp/*] succeeded!\n")
        return ExecResult(exit_code=0, stderr=said if verbose else "")

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
