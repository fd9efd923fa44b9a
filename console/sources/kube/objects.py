"""Kubernetes API objects (plain JSON, as the API server sends them) to the
model, as kubectl reads them. Pure code: no client, no HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

from console.model.fleet import Condition, Container, Deployment, Pod, Revision

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"


EPOCH = datetime.fromtimestamp(0, timezone.utc)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def label_selector(selector: dict | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(), for matchLabels and matchExpressions."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            terms.append(f"{key} in ({values})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def _env_value(env: dict) -> str:
    if "value" in env and env["value"] is not None:
        return str(env["value"])
    source = env.get("valueFrom") or {}
    if not source:
        return ""
    if ref := source.get("secretKeyRef"):
        return f"<from secret {ref.get('name', '?')}, key {ref.get('key', '?')}>"
    if ref := source.get("configMapKeyRef"):
        return f"<from configmap {ref.get('name', '?')}, key {ref.get('key', '?')}>"
    if ref := source.get("fieldRef"):
        return f"<from field path {ref.get('fieldPath', '?')}>"
    if ref := source.get("resourceFieldRef"):
        return f"<from resource {ref.get('resource', '?')}>"
    return f"<from {', '.join(sorted(source))}>"


def deployment_from(obj: dict) -> Deployment:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    containers = tuple(
        Container(name=c.get("name", ""), image=c.get("image") or "",
                  env={e.get("name", ""): _env_value(e) for e in c.get("env") or []})
        for c in (template.get("spec") or {}).get("containers") or []
    )
    conditions = tuple(
        Condition(type=c.get("type", ""), status=c.get("status", ""),
                  reason=c.get("reason") or "", message=c.get("message") or "")
        for c in status.get("conditions") or []
    )
    return Deployment(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        replicas=spec.get("replicas", 1) if spec.get("replicas") is not None else 1,
        updated_replicas=status.get("updatedReplicas") or 0,
        ready_replicas=status.get("readyReplicas") or 0,
        available_replicas=status.get("availableReplicas") or 0,
        status_replicas=status.get("replicas") or 0,
        generation=meta.get("generation") or 0,
        # Absent: the controller has not looked at this deployment yet.
        observed_generation=status.get("observedGeneration") or 0,
        paused=bool(spec.get("paused")),
        selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
        template_annotations=dict((template.get("metadata") or {}).get("annotations") or {}),
        containers=containers,
        conditions=conditions,
    )


def history_from(deployment: dict, replicasets: list[dict]) -> list[Revision]:
    """`kubectl rollout history` (polymorphichelpers/history.go): the ReplicaSets
    controlled by the deployment, keyed by revision (a missing annotation is 0,
    an unparsable one is skipped, a later duplicate wins), oldest first."""
    uid = (deployment.get("metadata") or {}).get("uid")
    by_revision: dict[int, dict] = {}
    for rs in replicasets:
        meta = rs.get("metadata") or {}
        controller = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")),
                          None)
        if not controller or not uid or controller.get("uid") != uid:
            continue
        raw = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
        if raw is None:
            revision = 0
        else:
            try:
                revision = int(raw)
            except ValueError:
                continue
        by_revision[revision] = rs
    out = []
    for revision in sorted(by_revision):
        meta = by_revision[revision].get("metadata") or {}
        cause = (meta.get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION) or None
        created = parse_time(meta.get("creationTimestamp")) or EPOCH
        containers = (((by_revision[revision].get("spec") or {}).get("template") or {})
                      .get("spec") or {}).get("containers") or []
        out.append(Revision(revision=revision, replicaset=meta.get("name", ""),
                            change_cause=cause, created_at=created,
                            images=tuple(str(c.get("image", "")) for c in containers)))
    return out


def pod_from(obj: dict) -> Pod:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready_cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
                      None)
    if ready_cond is not None:
        ready = ready_cond.get("status") == "True"
    else:
        ready = bool(statuses) and all(cs.get("ready") for cs in statuses)
    created = parse_time(meta.get("creationTimestamp")) or EPOCH
    return Pod(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        ready=ready,
        restarts=sum(int(cs.get("restartCount") or 0) for cs in statuses),
        phase=status.get("phase") or "Unknown",
        created_at=created,
        node=spec.get("nodeName") or "",
    )
