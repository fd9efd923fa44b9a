"""`kubectl rollout undo` on the API server, through KubernetesCluster's
calls: read the deployment and the ReplicaSets its selector lists (as
kubectl's GetAllReplicaSets does), and PATCH it with a JSON patch
(application/json-patch+json, no fieldManager: what kubectl 1.30+ sends).
What to send is computed by console.model.rollback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.model.fleet import Deployment

if TYPE_CHECKING:
    from console.sources.kube import KubernetesCluster


def rollout_objects(cluster: KubernetesCluster, namespace: str,
                    name: str) -> tuple[dict, list[dict]]:
    from console.sources import kube

    dep = cluster._get_deployment(namespace, name, "get")
    selector = kube._label_selector((dep.get("spec") or {}).get("selector"))
    listing = cluster._json(
        lambda **kw: cluster._apps.list_namespaced_replica_set(
            namespace, label_selector=selector, **kw),
        verb="list", resource=kube._REPLICASETS, namespace=namespace)
    return dep, listing.get("items") or []


def json_patch_deployment(cluster: KubernetesCluster, namespace: str, name: str,
                          operations: list[dict]) -> Deployment:
    from console.sources import kube

    # The client sends a list body as application/json-patch+json.
    obj = cluster._json(
        lambda **kw: cluster._apps.patch_namespaced_deployment(name, namespace, operations,
                                                               **kw),
        verb="patch", resource=kube._DEPLOYMENTS, namespace=namespace, name=name)
    return kube.deployment_from(obj)
