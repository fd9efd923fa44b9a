"""The cluster's reads, as kubectl sends them: a deployment, its rollout
history (the ReplicaSets its selector matches), its pods, a pod's log.
Each is one function over a KubeApi; KubernetesCluster offers them."""

from __future__ import annotations

from console.model.fleet import Deployment, Pod, Revision
from console.sources.kube.objects import deployment_from, history_from, label_selector, pod_from
from console.sources.kube.session import DEPLOYMENTS, POD_LOG, PODS, REPLICASETS, KubeApi


def deployment_json(api: KubeApi, namespace: str, name: str, verb: str = "get") -> dict:
    """GET the deployment, as the API server sent it."""
    return api.json(
        lambda **kw: api.apps.read_namespaced_deployment(name, namespace, **kw),
        verb=verb, resource=DEPLOYMENTS, namespace=namespace, name=name)


def selector_of(deployment: dict) -> str:
    """The deployment's selector as a label selector query (kubectl's)."""
    return label_selector((deployment.get("spec") or {}).get("selector"))


def deployment(api: KubeApi, namespace: str, name: str) -> Deployment:
    return deployment_from(deployment_json(api, namespace, name))


def rollout_objects(api: KubeApi, namespace: str, name: str) -> tuple[dict, list[dict]]:
    """The deployment and the ReplicaSets its selector lists, as the API
    server sent them (kubectl's GetAllReplicaSets: history and rollback)."""
    dep = deployment_json(api, namespace, name)
    selector = selector_of(dep)
    listing = api.json(
        lambda **kw: api.apps.list_namespaced_replica_set(
            namespace, label_selector=selector, **kw),
        verb="list", resource=REPLICASETS, namespace=namespace)
    return dep, listing.get("items") or []


def rollout_history(api: KubeApi, namespace: str, name: str) -> list[Revision]:
    """`kubectl rollout history deployment/NAME`: its ReplicaSets by revision."""
    return history_from(*rollout_objects(api, namespace, name))


def pods(api: KubeApi, namespace: str, deployment: str) -> list[Pod]:
    dep = deployment_json(api, namespace, deployment)
    selector = selector_of(dep)
    listing = api.json(
        lambda **kw: api.core.list_namespaced_pod(namespace, label_selector=selector, **kw),
        verb="list", resource=PODS, namespace=namespace)
    return [pod_from(p) for p in listing.get("items") or []]


def logs(api: KubeApi, namespace: str, pod: str, tail: int = 100) -> list[str]:
    if tail is not None and tail <= 0:
        return []
    data = api.call(
        lambda **kw: api.core.read_namespaced_pod_log(pod, namespace, tail_lines=tail, **kw),
        verb="get", resource=POD_LOG, namespace=namespace, name=pod)
    return data.decode("utf-8", errors="replace").splitlines()
