"""Services, EndpointSlices, Endpoints, Events and NetworkPolicies for the
Kubernetes test server (tests/kubeserver.py), shaped as the real API serves
them:

- Service, Endpoints (core/v1) and EndpointSlice (discovery.k8s.io/v1): as
  `kubectl get -o json` shows them on a v1.32 cluster; the slices and
  Endpoints are kept by the endpoints and EndpointSlice controllers from the
  pods matching the Service's selector (a pod is ready when its Ready
  condition is True: pkg/controller/endpointslice's podutil.IsPodReady), with
  the controller's label `kubernetes.io/service-name` and `managed-by`.
- Event (core/v1): what the kubelet records for a failing readiness probe
  (reason Unhealthy, "Readiness probe failed: ...", source kubelet, fieldPath
  spec.containers{NAME}), repeats folded into `count` with first/last
  timestamps, the name "<object>.<hex unix nanos>" as client-go's recorder
  makes it.
- NetworkPolicy (networking.k8s.io/v1): stored as written, policyTypes
  defaulted by the API server (Ingress, plus Egress when egress rules exist).

    add_service(kube, "payment-api", "shop")
    add_event(kube, "shop", pod, "Unhealthy", "Readiness probe failed: ...", count=12)
    add_network_policy(kube, "shop", "deny-egress", {"podSelector": {...}, ...})
"""

from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta, timezone
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"

# Discovery documents for the groups these live in, as a v1.32 API server lists them.
DISCOVERY_V1 = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "discovery.k8s.io/v1",
    "resources": [{"name": "endpointslices", "singularName": "endpointslice", "namespaced": True,
                   "kind": "EndpointSlice",
                   "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                             "update", "watch"]}],
}
NETWORKING_V1 = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "networking.k8s.io/v1",
    "resources": [{"name": "networkpolicies", "singularName": "networkpolicy", "namespaced": True,
                   "kind": "NetworkPolicy", "shortNames": ["netpol"],
                   "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                             "update", "watch"]}],
}
GROUPS = {"discovery.k8s.io": DISCOVERY_V1, "networking.k8s.io": NETWORKING_V1}
# Core v1 resources these add to the server's discovery.
CORE_RESOURCES = [
    {"name": "endpoints", "singularName": "endpoints", "namespaced": True, "kind": "Endpoints",
     "shortNames": ["ep"], "verbs": ["create", "delete", "deletecollection", "get", "list",
                                     "patch", "update", "watch"]},
    {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
     "shortNames": ["ev"], "verbs": ["create", "delete", "deletecollection", "get", "list",
                                     "patch", "update", "watch"]},
    {"name": "services", "singularName": "service", "namespaced": True, "kind": "Service",
     "shortNames": ["svc"], "categories": ["all"],
     "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
               "watch"]},
]
# plural: (group, version, kind, list kind), as in kubeserver.RESOURCES
RESOURCES = {
    "services": ("", "v1", "Service", "ServiceList"),
    "endpoints": ("", "v1", "Endpoints", "EndpointsList"),
    "events": ("", "v1", "Event", "EventList"),
    "endpointslices": ("discovery.k8s.io", "v1", "EndpointSlice", "EndpointSliceList"),
    "networkpolicies": ("networking.k8s.io", "v1", "NetworkPolicy", "NetworkPolicyList"),
}


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_service(kube: Any, name: str, namespace: str, *, selector: dict | None = None,
                port: int = 8080) -> dict:
    """A ClusterIP Service; its EndpointSlice and Endpoints follow its pods."""
    with kube._lock:
        svc = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "uid": kube._next_uid(),
                         "creationTimestamp": _stamp(datetime.now(timezone.utc)),
                         "labels": {"app": name}},
            "spec": {"selector": dict(selector or {"app": name}),
                     "ports": [{"port": port, "targetPort": port, "protocol": "TCP"}],
                     "type": "ClusterIP", "clusterIP": f"10.96.0.{10 + kube._uid % 200}",
                     "clusterIPs": [f"10.96.0.{10 + kube._uid % 200}"],
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                     "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {}},
        }
        kube._save("services", svc)
        sync_endpoints(kube)
        return copy.deepcopy(svc)


def sync_endpoints(kube: Any) -> None:
    """The endpoints and EndpointSlice controllers, one pass (lock held)."""
    from tests.kubeserver import _pod_ready, label_selector_matches

    for (ns, name), svc in list(kube._objects["services"].items()):
        selector = ",".join(f"{k}={v}" for k, v in sorted(svc["spec"]["selector"].items()))
        pods = [p for (pns, _), p in sorted(kube._objects["pods"].items())
                if pns == ns and label_selector_matches(selector, p["metadata"].get("labels"))]
        port = svc["spec"]["ports"][0]["targetPort"]
        owner = [{"apiVersion": "v1", "kind": "Service", "name": name,
                  "uid": svc["metadata"]["uid"], "controller": True,
                  "blockOwnerDeletion": True}]

        def ref(p: dict) -> dict:
            return {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                    "uid": p["metadata"]["uid"]}

        old = kube._objects["endpointslices"].get((ns, f"{name}-slice"))
        created = (old or {}).get("metadata", {}).get("creationTimestamp") or svc["metadata"][
            "creationTimestamp"]
        kube._save("endpointslices", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-slice", "generateName": f"{name}-",
                         "namespace": ns, "uid": (old or {}).get("metadata", {}).get("uid")
                         or kube._next_uid(), "creationTimestamp": created, "generation": 1,
                         "labels": {SERVICE_NAME_LABEL: name,
                                    MANAGED_BY: "endpointslice-controller.k8s.io",
                                    **svc["metadata"].get("labels", {})},
                         "ownerReferences": owner},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [p["status"]["podIP"]],
                           "conditions": {"ready": _pod_ready(p), "serving": _pod_ready(p),
                                          "terminating": False},
                           "nodeName": p["spec"].get("nodeName", ""), "targetRef": ref(p)}
                          for p in pods],
            "ports": [{"name": "", "port": port, "protocol": "TCP"}],
        })
        ready = [p for p in pods if _pod_ready(p)]
        not_ready = [p for p in pods if not _pod_ready(p)]
        subset: dict = {}
        if ready:
            subset["addresses"] = [{"ip": p["status"]["podIP"], "nodeName": p["spec"].get(
                "nodeName", ""), "targetRef": ref(p)} for p in ready]
        if not_ready:
            subset["notReadyAddresses"] = [{"ip": p["status"]["podIP"], "nodeName": p["spec"].get(
                "nodeName", ""), "targetRef": ref(p)} for p in not_ready]
        endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": ns, "creationTimestamp": created,
                                  "uid": ((kube._objects["endpoints"].get((ns, name)) or {})
                                          .get("metadata", {}).get("uid") or kube._next_uid()),
                                  "labels": dict(svc["metadata"].get("labels", {})),
                                  "annotations": {}}}
        if subset:
            subset["ports"] = [{"port": port, "protocol": "TCP"}]
            endpoints["subsets"] = [subset]
        kube._save("endpoints", endpoints)


def add_event(kube: Any, namespace: str, involved: dict, reason: str, message: str, *,
              count: int = 1, type_: str = "Warning", component: str = "kubelet",
              field_path: str | None = None, last: datetime | None = None,
              over: timedelta = timedelta(minutes=5)) -> dict:
    """A core/v1 Event about `involved` (a stored object), as client-go's
    recorder writes it: repeats folded into count, first/last timestamps."""
    meta = involved["metadata"]
    last = last or datetime.now(timezone.utc)
    first = last - over if count > 1 else last
    kind = involved["kind"]
    if field_path is None and kind == "Pod":
        field_path = f"spec.containers{{{involved['spec']['containers'][0]['name']}}}"
    obj = {"kind": kind, "namespace": namespace, "name": meta["name"], "uid": meta["uid"],
           "apiVersion": involved["apiVersion"], "resourceVersion": meta.get("resourceVersion",
                                                                              "")}
    if field_path:
        obj["fieldPath"] = field_path
    source = {"component": component}
    if component == "kubelet":
        source["host"] = (involved.get("spec") or {}).get("nodeName", "node-1")
    with kube._lock:
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{time.time_ns() + kube._uid:x}",
                         "namespace": namespace, "uid": kube._next_uid(),
                         "creationTimestamp": _stamp(first)},
            "involvedObject": obj, "reason": reason, "message": message, "source": source,
            "firstTimestamp": _stamp(first), "lastTimestamp": _stamp(last), "count": count,
            "type": type_, "eventTime": None, "reportingComponent": component,
            "reportingInstance": source.get("host", ""),
        }
        kube._save("events", event)
        return copy.deepcopy(event)


def add_network_policy(kube: Any, namespace: str, name: str, spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    if not spec.get("policyTypes"):  # the API server's defaulting
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    with kube._lock:
        policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": name, "namespace": namespace, "uid": kube._next_uid(),
                               "generation": 1,
                               "creationTimestamp": _stamp(datetime.now(timezone.utc))},
                  "spec": spec}
        kube._save("networkpolicies", policy)
        return copy.deepcopy(policy)
