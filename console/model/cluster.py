"""What the cluster itself says about a service, beyond its deployments:
the Service's endpoints, Warning events, NetworkPolicies (runbook
"For Network Issues": `kubectl get networkpolicies`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from console.model.fleet import _Frozen


class EndpointCount(_Frozen):
    """The endpoints of one Service, as `kubectl get endpointslices` counts them."""

    service: str
    ready: int
    not_ready: int
    source: str  # "EndpointSlices" or "Endpoints": where the numbers come from
    # The pods' ports behind the Service (NetworkPolicies apply to these).
    ports: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        return self.ready + self.not_ready


class WarningEvent(_Frozen):
    """One Warning event (core/v1 Event), as `kubectl describe` lists it."""

    kind: str  # of the involved object: Deployment, ReplicaSet, Pod
    name: str
    reason: str  # Unhealthy, BackOff, FailedScheduling, FailedCreate, OOMKilled
    message: str  # the cluster's words: untrusted, escape before rendering
    count: int = 1
    last_seen: datetime | None = None


class LabelSelector(_Frozen):
    """metav1.LabelSelector: matchLabels and matchExpressions."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    # (key, operator, values): In, NotIn, Exists, DoesNotExist
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """An empty selector selects every pod."""
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for key, op, values in self.match_expressions:
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and key in labels and labels[key] in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True


class PolicyPeer(_Frozen):
    """One `from`/`to` entry of a NetworkPolicy rule."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: str | None = None  # its CIDR


class PolicyRule(_Frozen):
    """One ingress or egress rule: no peers allows every peer, no ports every port."""

    peers: tuple[PolicyPeer, ...] = ()
    ports: tuple[str, ...] = ()  # "8080", "http" (a named port), "TCP/8080-8090"


class NetworkPolicy(_Frozen):
    name: str
    pod_selector: LabelSelector
    policy_types: tuple[str, ...]  # Ingress, Egress
    ingress: tuple[PolicyRule, ...] = ()
    egress: tuple[PolicyRule, ...] = ()
