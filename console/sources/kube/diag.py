"""What the cluster sees of a service, read for the diagnosis pane through the
same calls (and error words) as the other requests of this package: the Service's
endpoints, the Warning events of a deployment, its ReplicaSets and pods, and
the namespace's NetworkPolicies.

The functions take the package's KubeApi: its `json` call (one request, a
SourceError on any failure, a 403 naming the verb and resource) and its
ApiClient for the API groups the session has no object for.
"""

from __future__ import annotations

from datetime import datetime, timezone

from console.errors import SourceError, TimedOut, Unreachable
from console.model.cluster import (
    EndpointCount, LabelSelector, NetworkPolicy, PolicyPeer, PolicyRule, WarningEvent,
)
from console.sources.kube.objects import parse_time
from console.sources.kube.session import DEPLOYMENTS, PODS, REPLICASETS, KubeApi

_SLICES = ("endpointslices", "discovery.k8s.io")
_ENDPOINTS = ("endpoints", "")
_EVENTS = ("events", "")
_POLICIES = ("networkpolicies", "networking.k8s.io")
# The label the EndpointSlice controller puts on a Service's slices.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


# --- endpoints ----------------------------------------------------------------------

def service_endpoints(api: KubeApi, namespace: str, service: str) -> EndpointCount:
    """EndpointSlices (discovery.k8s.io/v1) labelled with the Service's name;
    without any (or refused), the v1 Endpoints object of the same name."""
    import kubernetes.client as kclient

    json, client = api.json, api.client
    discovery = kclient.DiscoveryV1Api(client)
    try:
        listing = json(lambda **kw: discovery.list_namespaced_endpoint_slice(
            namespace, label_selector=f"{SERVICE_NAME_LABEL}={service}", **kw),
            verb="list", resource=_SLICES, namespace=namespace)
    except (Unreachable, TimedOut):
        raise  # the cluster itself is away: Endpoints would not answer either
    except SourceError as exc:
        slices_error: SourceError | None = exc
        slices: list = []
    else:
        slices_error, slices = None, listing.get("items") or []
    if slices:
        return count_slices(service, slices)
    core = kclient.CoreV1Api(client)
    try:
        obj = json(lambda **kw: core.read_namespaced_endpoints(service, namespace, **kw),
                   verb="get", resource=_ENDPOINTS, namespace=namespace, name=service)
    except SourceError as exc:
        if slices_error is not None:
            raise SourceError(f"{slices_error}; and Endpoints: {exc}") from None
        raise
    return count_endpoints(service, obj)


def count_slices(service: str, slices: list[dict]) -> EndpointCount:
    """Each endpoint once (dual-stack slices list a pod once per family), ready
    as the API defines it: a missing `ready` condition counts as ready."""
    seen: dict[tuple, bool] = {}
    for item in slices:
        for ep in item.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            key = ((ref.get("kind"), ref.get("namespace"), ref.get("name")) if ref.get("name")
                   else tuple(ep.get("addresses") or ()))
            ready = (ep.get("conditions") or {}).get("ready")
            seen[key] = seen.get(key, False) or ready is not False
    ready = sum(1 for r in seen.values() if r)
    ports = sorted({p["port"] for item in slices for p in item.get("ports") or []
                    if isinstance(p.get("port"), int)})
    return EndpointCount(service=service, ready=ready, not_ready=len(seen) - ready,
                         source="EndpointSlices", ports=tuple(ports))


def count_endpoints(service: str, obj: dict) -> EndpointCount:
    ready = not_ready = 0
    ports: set[int] = set()
    for subset in obj.get("subsets") or []:
        ready += len(subset.get("addresses") or [])
        not_ready += len(subset.get("notReadyAddresses") or [])
        ports |= {p["port"] for p in subset.get("ports") or [] if isinstance(p.get("port"), int)}
    return EndpointCount(service=service, ready=ready, not_ready=not_ready, source="Endpoints",
                         ports=tuple(sorted(ports)))


# --- Warning events -----------------------------------------------------------------

def warning_events(api: KubeApi, namespace: str,
                   deployment: str) -> list[WarningEvent]:
    """The Warning events of the deployment, its ReplicaSets and their pods
    (gone ones too, by name), and each container whose last state is
    OOMKilled; newest first."""
    import kubernetes.client as kclient

    json, client = api.json, api.client
    apps, core = kclient.AppsV1Api(client), kclient.CoreV1Api(client)
    dep = json(lambda **kw: apps.read_namespaced_deployment(deployment, namespace, **kw),
               verb="get", resource=DEPLOYMENTS, namespace=namespace, name=deployment)
    selector = ",".join(f"{k}={v}" for k, v in sorted(
        ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items()))
    uid = (dep.get("metadata") or {}).get("uid")
    rss = json(lambda **kw: apps.list_namespaced_replica_set(
        namespace, label_selector=selector, **kw),
        verb="list", resource=REPLICASETS, namespace=namespace).get("items") or []
    rs_names = {(rs.get("metadata") or {}).get("name", "") for rs in rss
                if any(o.get("uid") == uid for o in (rs.get("metadata") or {})
                       .get("ownerReferences") or [])}
    pods = json(lambda **kw: core.list_namespaced_pod(namespace, label_selector=selector, **kw),
                verb="list", resource=PODS, namespace=namespace).get("items") or []
    events = json(lambda **kw: core.list_namespaced_event(
        namespace, field_selector="type=Warning", **kw),
        verb="list", resource=_EVENTS, namespace=namespace).get("items") or []

    def ours(kind: str, name: str) -> bool:
        if kind == "Deployment":
            return name == deployment
        if kind == "ReplicaSet":
            return name in rs_names
        return kind == "Pod" and any(name.startswith(f"{rs}-") for rs in rs_names)

    found = [event_from(e) for e in events]
    found = [e for e in found if ours(e.kind, e.name)]
    found += [oom for pod in pods for oom in oom_killed(pod)]
    epoch = datetime.fromtimestamp(0, timezone.utc)
    return sorted(found, key=lambda e: e.last_seen or epoch, reverse=True)


def event_from(obj: dict) -> WarningEvent:
    """A core/v1 Event; one written through events.k8s.io/v1 carries its
    count in `series` and its time in eventTime (kubectl describe reads both)."""
    involved = obj.get("involvedObject") or {}
    series = obj.get("series") or {}
    count = obj.get("count") or series.get("count") or 1
    last = (parse_time(series.get("lastObservedTime")) or parse_time(obj.get("lastTimestamp"))
            or parse_time(obj.get("eventTime")) or parse_time(obj.get("firstTimestamp")))
    return WarningEvent(kind=involved.get("kind", ""), name=involved.get("name", ""),
                        reason=obj.get("reason") or "", message=(obj.get("message") or "").strip(),
                        count=int(count), last_seen=last)


def oom_killed(pod: dict) -> list[WarningEvent]:
    """A container whose last state is terminated with reason OOMKilled: no
    event says so, `kubectl describe pod` shows it under Last State."""
    name = (pod.get("metadata") or {}).get("name", "")
    out = []
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("lastState") or {}).get("terminated") or {}
        if term.get("reason") == "OOMKilled":
            out.append(WarningEvent(
                kind="Pod", name=name, reason="OOMKilled",
                message=(f"container {cs.get('name', '?')} was OOMKilled (exit code "
                         f"{term.get('exitCode', '?')}), {cs.get('restartCount', 0)} restarts"),
                count=1, last_seen=parse_time(term.get("finishedAt"))))
    return out


# --- NetworkPolicies ----------------------------------------------------------------

def network_policies(api: KubeApi, namespace: str) -> list[NetworkPolicy]:
    import kubernetes.client as kclient

    networking = kclient.NetworkingV1Api(api.client)
    listing = api.json(lambda **kw: networking.list_namespaced_network_policy(namespace, **kw),
                   verb="list", resource=_POLICIES, namespace=namespace)
    return [policy_from(p) for p in listing.get("items") or []]


def selector_from(obj: dict | None) -> LabelSelector:
    obj = obj or {}
    return LabelSelector(
        match_labels=dict(obj.get("matchLabels") or {}),
        match_expressions=tuple((e.get("key", ""), e.get("operator", ""),
                                 tuple(e.get("values") or ()))
                                for e in obj.get("matchExpressions") or []))


def _rule(obj: dict, side: str) -> PolicyRule:
    peers = []
    for peer in obj.get(side) or []:
        peers.append(PolicyPeer(
            pod_selector=selector_from(peer["podSelector"]) if "podSelector" in peer else None,
            namespace_selector=(selector_from(peer["namespaceSelector"])
                                if "namespaceSelector" in peer else None),
            ip_block=(peer.get("ipBlock") or {}).get("cidr")))
    ports = []
    for port in obj.get("ports") or []:
        value = port.get("port")
        text = "" if value is None else str(value)
        if port.get("endPort") is not None:
            text += f"-{port['endPort']}"
        ports.append(text or "any")
    return PolicyRule(peers=tuple(peers), ports=tuple(ports))


def policy_from(obj: dict) -> NetworkPolicy:
    """networking.k8s.io/v1 NetworkPolicy; policyTypes defaulted as the API
    server does: Ingress always, Egress when egress rules exist."""
    spec = obj.get("spec") or {}
    types = spec.get("policyTypes")
    if not types:
        types = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    return NetworkPolicy(
        name=(obj.get("metadata") or {}).get("name", ""),
        pod_selector=selector_from(spec.get("podSelector")),
        policy_types=tuple(types),
        ingress=tuple(_rule(r, "from") for r in spec.get("ingress") or []),
        egress=tuple(_rule(r, "to") for r in spec.get("egress") or []))
