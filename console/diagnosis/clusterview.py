"""What the cluster sees of the breaker's path, for the diagnosis pane and
NEXT: the downstream Service's endpoints, the downstream's Warning events
folded by reason, and the NetworkPolicies on the caller -> downstream path.

Every read fails on its own, and a source that cannot read a part says so:
nothing unread is shown as "none". Pods are matched to policies by the
deployment's selector labels (every pod of it carries them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from console.errors import SourceError
from console.model.cluster import EndpointCount, NetworkPolicy, PolicyRule, WarningEvent
from console.model.servicemap import ServiceTarget
from console.ports import ClusterDiagnostics

log = logging.getLogger(__name__)

WARNING_REASONS_IN_NEXT = 2  # the folded reasons NEXT names


@dataclass(frozen=True)
class FoldedWarning:
    """Events of one reason, as `kubectl describe` folds repeats: "(x12 over 5m)"."""

    reason: str
    count: int
    objects: tuple[str, ...]  # "pod/payment-api-7d9-abcde", newest first
    last_seen: datetime | None
    message: str  # the newest one's: untrusted, escape before rendering


@dataclass(frozen=True)
class PolicyView:
    policy: NetworkPolicy
    selects: tuple[str, ...]  # the roles whose pods it selects: "downstream", "caller"


@dataclass(frozen=True)
class ClusterView:
    endpoints: EndpointCount | None = None
    endpoints_error: str | None = None
    warnings: tuple[FoldedWarning, ...] = ()  # newest first
    warnings_error: str | None = None
    policies: tuple[PolicyView, ...] = ()  # only those selecting either side
    policies_error: str | None = None
    blocks: tuple[str, ...] = ()  # "NetworkPolicy x ... blocks api -> payment-api"

    @property
    def no_ready_endpoint(self) -> bool:
        return self.endpoints is not None and self.endpoints.ready == 0


@dataclass(frozen=True)
class InsideCheck:
    """The health URL fetched from inside a caller pod (console.diagnosis.inside)."""

    url: str
    pod: str | None  # the caller pod it ran in
    tool: str | None  # "curl" or "wget"; None: not run
    status: int | None = None
    latency_ms: float | None = None
    error: str | None = None  # in plain words: why no status, or why not checked

    @property
    def healthy(self) -> bool | None:
        if self.status is None:
            return None
        return 200 <= self.status < 300


def fold(events: list[WarningEvent]) -> tuple[FoldedWarning, ...]:
    """Group by reason, counts summed; groups newest first (events come newest first)."""
    groups: dict[str, list[WarningEvent]] = {}
    for e in events:
        groups.setdefault(e.reason, []).append(e)
    out = []
    for reason, items in groups.items():
        objects = tuple(dict.fromkeys(f"{e.kind.lower()}/{e.name}" for e in items))
        out.append(FoldedWarning(reason=reason, count=sum(e.count for e in items),
                                 objects=objects, last_seen=items[0].last_seen,
                                 message=items[0].message))
    return tuple(out)


def target_port(endpoints: EndpointCount | None) -> int | None:
    """The downstream pods' port behind the Service (what a policy's ports
    are compared with); unknown when none or several."""
    if endpoints is None or len(endpoints.ports) != 1:
        return None
    return endpoints.ports[0]


def _port_allows(rule: PolicyRule, port: int | None) -> bool:
    if not rule.ports or port is None:
        return True
    for text in rule.ports:
        low, _, high = text.partition("-")
        if not low.isdigit():  # "any", or a named port: may be this one
            return True
        if int(low) <= port <= int(high or low):
            return True
    return False


def rule_may_allow(rule: PolicyRule, peer_labels: dict[str, str], port: int | None) -> bool:
    """Could this rule let the other side's pods through? When unsure
    (an ipBlock, another namespace's labels, a named port), yes: a block is
    said only when no rule could allow the path."""
    if not _port_allows(rule, port):
        return False
    if not rule.peers:
        return True
    for peer in rule.peers:
        if peer.ip_block is not None:
            return True
        if peer.pod_selector is None:  # namespaceSelector alone: every pod of those namespaces
            return True
        if peer.pod_selector.matches(peer_labels):
            return True
    return False


def path_blocks(policies: list[NetworkPolicy], *, caller: str, caller_labels: dict[str, str],
                downstream: str, downstream_labels: dict[str, str],
                port: int | None) -> list[str]:
    """A line per direction that no policy lets through: egress of the
    caller's pods, ingress of the downstream's."""
    lines = []
    on_port = f" port {port}" if port else ""
    for direction, own, other, rules_of in (
            ("Egress", caller_labels, downstream_labels, lambda p: p.egress),
            ("Ingress", downstream_labels, caller_labels, lambda p: p.ingress)):
        isolating = [p for p in policies
                     if direction in p.policy_types and p.pod_selector.matches(own)]
        if not isolating:
            continue
        if any(rule_may_allow(r, other, port) for p in isolating for r in rules_of(p)):
            continue
        names = ", ".join(p.name for p in isolating)
        whose = caller if direction == "Egress" else downstream
        lines.append(f"NetworkPolicy {names} ({direction}, selects {whose}'s pods) blocks "
                     f"{caller} → {downstream}{on_port}: no {direction.lower()} rule allows it")
    return lines


def read(cluster: object, target: ServiceTarget, *, downstream_labels: dict[str, str] | None,
         caller_labels: dict[str, str] | None) -> ClusterView:
    """Endpoints, Warning events and NetworkPolicies; blocking, never raises."""
    if not isinstance(cluster, ClusterDiagnostics):
        why = "this cluster source reads no endpoints, events or network policies"
        return ClusterView(endpoints_error=why, warnings_error=why, policies_error=why)
    ns = target.namespace

    def part(call):
        try:
            return call(), None
        except SourceError as exc:
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - one part must not sink the pane
            log.warning("cluster read failed", exc_info=True)
            return None, f"read failed: {type(exc).__name__}"

    endpoints, endpoints_error = part(lambda: cluster.service_endpoints(ns, target.downstream))
    events, warnings_error = part(lambda: cluster.warning_events(ns, target.downstream))
    policies, policies_error = part(lambda: cluster.network_policies(ns))
    views, blocks = [], []
    if policies is not None:
        if downstream_labels is None or caller_labels is None:
            policies_error = "the deployments' pod labels are unknown: policies not matched"
        else:
            for p in policies:
                selects = tuple(role for role, labels in (("downstream", downstream_labels),
                                                          ("caller", caller_labels))
                                if p.pod_selector.matches(labels))
                if selects:
                    views.append(PolicyView(p, selects))
            blocks = path_blocks(policies, caller=target.caller, caller_labels=caller_labels,
                                 downstream=target.downstream,
                                 downstream_labels=downstream_labels, port=target_port(endpoints))
    return ClusterView(endpoints=endpoints, endpoints_error=endpoints_error,
                       warnings=fold(events) if events is not None else (),
                       warnings_error=warnings_error, policies=tuple(views),
                       policies_error=policies_error, blocks=tuple(blocks))


def next_notes(view: ClusterView | None) -> tuple[str | None, list[str]]:
    """(why the downstream counts as failing, from the cluster; what NEXT says first)."""
    if view is None:
        return None, []
    failing = None
    if view.no_ready_endpoint:
        e = view.endpoints
        failing = (f"{e.service} has {e.ready}/{e.total} ready endpoints, so its Service "
                   "routes nowhere (probable cause)")
        if view.warnings:
            said = "; ".join(f"{w.reason} ×{w.count}: {w.message}"
                             for w in view.warnings[:WARNING_REASONS_IN_NEXT])
            failing += f"; the cluster warns {said}"
    first = [f"{line}: fix the policy first, a restart or rollback does not change it."
             for line in view.blocks]
    return failing, first
