"""The demo deployments as the API server shows them to `kubectl rollout
undo` (the Deployment and its ReplicaSets, JSON), and the JSON patch that
command sends, applied as the API server applies it."""

from __future__ import annotations

from console.demo.kube import SimDeployment
from console.demo.topology import CONTAINER
from console.errors import SourceError

UNDO_PATHS = ("/spec/template", "/metadata/annotations")


def _template(sim: SimDeployment, template: tuple, pod_hash: str | None = None) -> dict:
    image, env, annotations = template
    labels = {"app": sim.name} | ({"pod-template-hash": pod_hash} if pod_hash else {})
    return {"metadata": {"labels": labels, "annotations": dict(annotations)},
            "spec": {"containers": [{"name": CONTAINER, "image": image,
                                     "env": [{"name": k, "value": v} for k, v in env]}]}}


def objects(sim: SimDeployment) -> tuple[dict, list[dict]]:
    uid = f"demo-{sim.name}"
    dep = {"metadata": {"name": sim.name, "namespace": sim.namespace, "uid": uid,
                        "generation": sim.generation, "annotations": dict(sim.meta_annotations)},
           "spec": {"replicas": sim.replicas, "paused": sim.paused,
                    "selector": {"matchLabels": {"app": sim.name}},
                    "template": _template(sim, sim.template)}}
    rss = []
    for rs in sim.replicasets:
        annotations = {"deployment.kubernetes.io/revision": str(rs.revision)}
        if rs.change_cause:
            annotations["kubernetes.io/change-cause"] = rs.change_cause
        rss.append({
            "metadata": {"name": f"{sim.name}-{rs.hash}", "namespace": sim.namespace,
                         "uid": f"{uid}-{rs.hash}", "annotations": annotations,
                         "creationTimestamp": sim.at(rs.created).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": sim.name, "uid": uid,
                                              "controller": True}]},
            "spec": {"replicas": 0, "template": _template(sim, rs.template, rs.hash)}})
    return dep, rss


def apply(sim: SimDeployment, operations: list[dict]) -> None:
    """The two replace operations of `kubectl rollout undo`; anything else is
    refused (the demo applies only what the console sends)."""
    if (not isinstance(operations, list)
            or [(o.get("op"), o.get("path")) for o in operations if isinstance(o, dict)]
            != [("replace", p) for p in UNDO_PATHS]):
        raise SourceError("the demo cluster applies only kubectl rollout undo's JSON patch "
                          "(replace /spec/template, replace /metadata/annotations)")
    template, annotations = operations[0]["value"], operations[1]["value"]
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    if (meta.get("labels") or {}) != {"app": sim.name}:
        raise SourceError(f'deployments.apps "{sim.name}" is invalid: spec.template.metadata.'
                          "labels: does not match the selector app=" + sim.name)
    containers = spec.get("containers") or []
    if [c.get("name") for c in containers] != [CONTAINER]:
        raise SourceError(f'the demo cluster runs one container, "{CONTAINER}"')
    env = {e["name"]: str(e.get("value", "")) for e in containers[0].get("env") or []}
    new = (containers[0].get("image", ""), dict(env),
           {k: str(v) for k, v in (meta.get("annotations") or {}).items()})
    if new != (sim.image, sim.env, sim.annotations):
        sim.image, sim.env, sim.annotations = new
        sim.generation += 1
        sim.busy = True
    sim.meta_annotations = {str(k): str(v) for k, v in (annotations or {}).items()}
