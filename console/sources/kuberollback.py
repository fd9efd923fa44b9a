"""`kubectl rollout undo` on the API server, through KubernetesCluster's
calls: read the deployment and the ReplicaSets its selector lists (as
kubectl's GetAllReplicaSets does), and PATCH it with a JSON patch
(application/json-patch+json, no fieldManager: what kubectl 1.30+ sends).
What to send is computed by console.model.rollback."""

from __future__ import annotations

from typing import Any, Callable

# The resource of each call, as the API (and RBAC) names it.
_DEPLOYMENTS = ("deployments", "apps")
_REPLICASETS = ("replicasets", "apps")


def rollout_objects(cluster: Any, namespace: str, name: str,
                    selector_of: Callable[[dict | None], str]) -> tuple[dict, list[dict]]:
    """`cluster`: a KubernetesCluster (its calls carry its deadlines and words)."""
    dep = cluster._get_deployment(namespace, name, "get")
    selector = selector_of((dep.get("spec") or {}).get("selector"))
    listing = cluster._json(
        lambda **kw: cluster._apps.list_namespaced_replica_set(
            namespace, label_selector=selector, **kw),
        verb="list", resource=_REPLICASETS, namespace=namespace)
    return dep, listing.get("items") or []


def json_patch(cluster: Any, namespace: str, name: str, operations: list[dict]) -> dict:
    """The patched Deployment as the API server answers it."""
    # The client sends a list body as application/json-patch+json.
    return cluster._json(
        lambda **kw: cluster._apps.patch_namespaced_deployment(name, namespace, operations,
                                                               **kw),
        verb="patch", resource=_DEPLOYMENTS, namespace=namespace, name=name)
