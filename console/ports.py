"""The interfaces the core reads and acts through; the adapters in
console.sources and console.demo implement them, and the composition root
(console.cli, console.ui) hands them in.

Every method may block (network, Kubernetes client): the app calls them from
thread workers only. Every failure is a SourceError whose message is fit for
the operator's eyes (no token, no stack trace).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from console.model.commits import Commit
from console.model.cluster import EndpointCount, NetworkPolicy, WarningEvent
from console.model.fleet import Deployment, ExecResult, Flag, FleetSnapshot, Pod, Revision
from console.model.impact import Impact
from console.model.probe import HealthResult, SmokeResult

__all__ = ["BreakerSource", "ClusterDiagnostics", "ClusterSource", "CommitLog", "FlagSource", "ImpactReader", "Probe"]


@runtime_checkable
class BreakerSource(Protocol):
    #: Where the data comes from, for the header ("demo fleet", a Prometheus URL).
    label: str

    def poll(self) -> FleetSnapshot:
        """The breakers as they are now, with the transitions seen since the last poll."""
        ...


@runtime_checkable
class ClusterSource(Protocol):
    #: The cluster context, for the header.
    label: str

    def deployment(self, namespace: str, name: str) -> Deployment: ...

    def rollout_history(self, namespace: str, name: str) -> list[Revision]:
        """Revisions oldest first, as `kubectl rollout history` lists them."""
        ...

    def pods(self, namespace: str, deployment: str) -> list[Pod]: ...

    def logs(self, namespace: str, pod: str, tail: int = 100) -> list[str]:
        """The last `tail` lines of the pod's log, oldest first."""
        ...

    def patch_deployment(
        self, namespace: str, name: str, patch: dict, field_manager: str
    ) -> Deployment:
        """Apply a strategic merge patch, as kubectl does."""
        ...

    def exec_in_pod(
        self, namespace: str, pod: str, command: list[str], timeout: float = 5.0
    ) -> ExecResult:
        """Run `command` (argv, no shell, no tty, no stdin) in the pod's
        default container, as `kubectl exec POD -- COMMAND` does. A missing
        executable is exit_code 127; a refused exec (403: RBAC needs verb
        create on pods/exec) raises SourceError."""
        ...


@runtime_checkable
class ClusterDiagnostics(Protocol):
    """What the cluster itself sees of a service (the diagnosis pane); a
    ClusterSource without these reads says so in the pane."""

    def service_endpoints(self, namespace: str, service: str) -> EndpointCount:
        """The Service's EndpointSlices, else its v1 Endpoints."""
        ...

    def warning_events(self, namespace: str, deployment: str) -> list[WarningEvent]:
        """Warning events of the deployment, its ReplicaSets and pods, and
        OOMKilled last states; newest first."""
        ...

    def network_policies(self, namespace: str) -> list[NetworkPolicy]: ...


@runtime_checkable
class RollbackSource(Protocol):
    """A cluster that can `kubectl rollout undo` (the real one, the demo)."""

    def rollout_objects(self, namespace: str, name: str) -> tuple[dict, list[dict]]:
        """The Deployment and the ReplicaSets its selector lists, as the API
        server answers them (JSON objects)."""
        ...

    def json_patch_deployment(
        self, namespace: str, name: str, operations: list[dict]
    ) -> Deployment:
        """PATCH it with a JSON patch (application/json-patch+json), no
        fieldManager, as `kubectl rollout undo` does."""
        ...


@runtime_checkable
class FlagSource(Protocol):
    label: str

    def get_flag(self, name: str) -> Flag: ...

    def set_flag(self, name: str, enabled: bool) -> Flag: ...


@runtime_checkable
class Probe(Protocol):
    def check(self, url: str) -> HealthResult: ...

    def smoke(self, url: str, requests: int = 100, concurrency: int = 10) -> SmokeResult: ...


class ImpactReader(Protocol):
    def __call__(self, details: dict, services: list[str], start: datetime,
                 end: datetime) -> Impact:
        """The calls counted over [start, end] by the Prometheus an incident
        recorded (`details`: its INCIDENT_OPENED details). Raises Unreachable
        when no answer came, SourceError for a failed query, ValueError for
        details it cannot use."""
        ...


@runtime_checkable
class CommitLog(Protocol):
    """`git log` of a service's directory (runbook Diagnosis 3)."""

    def log(self, repo: str, path: str | None, since: datetime) -> list[Commit]:
        """Commits under `path` of `repo` committed since `since`, newest first."""
        ...
