"""KubernetesCluster: the ClusterSource over the Kubernetes API, through the
Python `kubernetes` client. It composes the parts of this package: the
context (kubeconfig), the client with its credentials and error words
(session), and the requests, one module per kind (reads, writes, podexec)."""

from __future__ import annotations

from typing import Callable

from console.model.fleet import Deployment, ExecResult, Pod, Revision
from console.sources.kube import diag, podexec, reads, writes
from console.sources.kube.kubeconfig import load as load_context
from console.sources.kube.session import KubeApi
from console.sources.kubecreds import CredentialState


class KubernetesCluster:
    """A ClusterSource over the Kubernetes API (blocking; call from workers).

    The kubeconfig is read as kubectl reads it (KUBECONFIG, else
    ~/.kube/config; `context` picks a context) or, inside a pod, the
    in-cluster service account. `timeout` bounds each socket operation,
    `deadline` (twice the timeout unless given) a request's total time."""

    def __init__(self, *, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None, timeout: float = 5.0,
                 deadline: float | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.timeout = timeout
        #: A request's total time (twice the timeout: a stall still says "no answer within").
        self.deadline = deadline or 2 * timeout
        loaded = load_context(kubeconfig, context)
        self.label = loaded.label
        self.namespace = namespace or loaded.namespace
        self._api = KubeApi(loaded, timeout=self.timeout, deadline=self.deadline, clock=clock)
        self.server = self._api.server
        self.verify_tls = self._api.verify_tls  # as the kubeconfig says

    def __repr__(self) -> str:
        return (f"KubernetesCluster(context={self.label!r}, namespace={self.namespace!r}, "
                f"server={self.server!r})")

    def close(self) -> None:
        self._api.close()

    # --- credentials -----------------------------------------------------------------

    def credential_state(self) -> CredentialState:
        """Where this context's credentials come from and how they stand."""
        return self._api.credential_state()

    def login(self) -> None:
        """Run the context's exec plugin on the terminal (ExecCredentials.login):
        before the screen, or with it suspended. Nothing to do for a token or
        a certificate from the kubeconfig."""
        self._api.login()

    @property
    def needs_login(self) -> bool:
        """The exec plugin needs the terminal (the header offers L)."""
        return self._api.needs_login

    def credential_words(self) -> str:
        """The credential state in a few words, e.g. 'exec plugin "aws", expires in 14 m'."""
        return self._api.credential_words()

    # --- ClusterSource: reads ----------------------------------------------------------

    def deployment(self, namespace: str, name: str) -> Deployment:
        return reads.deployment(self._api, namespace, name)

    def rollout_history(self, namespace: str, name: str) -> list[Revision]:
        return reads.rollout_history(self._api, namespace, name)

    def rollout_objects(self, namespace: str, name: str) -> tuple[dict, list[dict]]:
        return reads.rollout_objects(self._api, namespace, name)

    def pods(self, namespace: str, deployment: str) -> list[Pod]:
        return reads.pods(self._api, namespace, deployment)

    def logs(self, namespace: str, pod: str, tail: int = 100) -> list[str]:
        return reads.logs(self._api, namespace, pod, tail)

    # ClusterDiagnostics (console.ports): what the cluster sees of a service.
    def service_endpoints(self, namespace: str, service: str):
        return diag.service_endpoints(self._api, namespace, service)

    def warning_events(self, namespace: str, deployment: str):
        return diag.warning_events(self._api, namespace, deployment)

    def network_policies(self, namespace: str):
        return diag.network_policies(self._api, namespace)

    def exec_in_pod(self, namespace: str, pod: str, command: list[str],
                    timeout: float = 5.0) -> ExecResult:
        """`kubectl exec POD -- COMMAND`; a missing executable is exit_code 127."""
        return podexec.exec_in_pod(self._api, namespace, pod, command, timeout)

    # --- ClusterSource: writes ---------------------------------------------------------

    def patch_deployment(self, namespace: str, name: str, patch: dict,
                         field_manager: str) -> Deployment:
        return writes.patch_deployment(self._api, namespace, name, patch, field_manager)

    def json_patch_deployment(self, namespace: str, name: str,
                              operations: list[dict]) -> Deployment:
        return writes.json_patch_deployment(self._api, namespace, name, operations)
