"""The cluster's writes: a PATCH of a deployment, byte for byte as kubectl
sends it (the restart's annotation, set env, rollout undo's JSON patch); the caller reads back whether
it landed. Each is one function over a KubeApi; KubernetesCluster offers them."""

from __future__ import annotations

from console.model.fleet import Deployment
from console.sources.kube.objects import deployment_from
from console.sources.kube.session import DEPLOYMENTS, KubeApi


def patch_deployment(api: KubeApi, namespace: str, name: str, patch: dict,
                     field_manager: str) -> Deployment:
    obj = api.json(
        lambda **kw: api.apps.patch_namespaced_deployment(
            name, namespace, patch, field_manager=field_manager, **kw),
        verb="patch", resource=DEPLOYMENTS, namespace=namespace, name=name)
    return deployment_from(obj)


def json_patch_deployment(api: KubeApi, namespace: str, name: str,
                          operations: list[dict]) -> Deployment:
    """`kubectl rollout undo`'s PATCH: a list body, which the client sends as
    application/json-patch+json, and no fieldManager (kubectl 1.30+)."""
    obj = api.json(
        lambda **kw: api.apps.patch_namespaced_deployment(name, namespace, operations, **kw),
        verb="patch", resource=DEPLOYMENTS, namespace=namespace, name=name)
    return deployment_from(obj)
