"""`kubectl rollout undo deployment/X --to-revision=N`, computed as kubectl
computes it, on the API objects as the API server answers them (JSON dicts).
Pure: the Kubernetes source and the demo cluster only read and PATCH.

Reference (kubernetes/kubectl, master dee3483): pkg/polymorphichelpers/
rollback.go (DeploymentRollbacker.Rollback, deploymentRevision,
equalIgnoreHash, annotationsToSkip, getDeploymentPatch) and
pkg/util/deployment/deployment.go (listReplicaSets, findNewReplicaSet,
findOldReplicaSets, Revision)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

HASH_LABEL = "pod-template-hash"  # appsv1.DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# rollback.go annotationsToSkip: kept from the deployment, never copied from the RS.
SKIPPED = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})
CONTENT_TYPE = "application/json-patch+json"

# kubectl's words (rollback.go).
PAUSED = ("you cannot rollback a paused deployment; resume it first with "
          "'kubectl rollout resume' and try again")
NOT_FOUND = "unable to find specified revision {revision} in history"
NO_HISTORY = 'no rollout history found for deployment "{name}"'
ALREADY = "skipped rollback (current template already matches revision {revision})"
ROLLED_BACK = "rolled back"


@dataclass(frozen=True)
class Entry:
    """One revision of the deployment: a ReplicaSet it controls."""

    revision: int
    replicaset: str
    change_cause: str | None
    template: dict  # the ReplicaSet's pod template, as stored
    current: bool  # its template is the deployment's (the "new" ReplicaSet)


@dataclass(frozen=True)
class Undo:
    """What `rollout undo --to-revision=N` does: `operations` to PATCH, or
    `refusal` (kubectl's error) or `skipped` (its no-op answer) and no PATCH."""

    revision: int
    operations: list | None = None
    refusal: str | None = None
    skipped: str | None = None
    target: Entry | None = None


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _revision(rs: dict) -> int | None:
    """deploymentutil.Revision: no annotation is 0, an unparsable one an error (None)."""
    raw = (_meta(rs).get("annotations") or {}).get(REVISION)
    if raw is None:
        return 0
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def owned(deployment: dict, replicasets: list[dict]) -> list[dict]:
    """listReplicaSets: those whose controller ownerReference is the deployment
    (metav1.IsControlledBy compares uids), in the listing's order."""
    uid = _meta(deployment).get("uid")
    out = []
    for rs in replicasets:
        ref = next((o for o in _meta(rs).get("ownerReferences") or [] if o.get("controller")),
                   None)
        if uid and ref and ref.get("uid") == uid:
            out.append(rs)
    return out


def _pruned(value: Any) -> Any:
    """JSON as Go's Semantic.DeepEqual compares it: null, an empty list and an
    empty map are all the zero value (they decode to the same struct)."""
    if isinstance(value, dict):
        items = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def without_hash(template: dict) -> dict:
    out = copy.deepcopy(template or {})
    labels = (out.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
    return out


def same_template(a: dict, b: dict) -> bool:
    """equalIgnoreHash."""
    return _pruned(without_hash(a)) == _pruned(without_hash(b))


def _template(obj: dict) -> dict:
    return (obj.get("spec") or {}).get("template") or {}


def _by_creation(replicasets: list[dict]) -> list[dict]:
    """replicaSetsByCreationTimestamp: creation time, then name (RFC 3339 in
    UTC sorts as text)."""
    return sorted(replicasets, key=lambda rs: (_meta(rs).get("creationTimestamp") or "",
                                               _meta(rs).get("name") or ""))


def _all(deployment: dict, replicasets: list[dict]) -> tuple[list[dict], dict | None]:
    """GetAllReplicaSets as deploymentRevision uses it: the old ones (sorted),
    then the new one (the oldest whose template is the deployment's)."""
    rss = _by_creation(owned(deployment, replicasets))
    new = next((rs for rs in rss if same_template(_template(rs), _template(deployment))), None)
    new_uid = _meta(new).get("uid") if new else None
    old = [rs for rs in rss if new is None or _meta(rs).get("uid") != new_uid]
    return old + ([new] if new is not None else []), new


def history(deployment: dict, replicasets: list[dict]) -> list[Entry]:
    """The deployment's revisions, newest first (unparsable ones left out)."""
    rss, new = _all(deployment, replicasets)
    out = []
    for rs in rss:
        revision = _revision(rs)
        if revision is None:
            continue
        out.append(Entry(revision=revision, replicaset=_meta(rs).get("name") or "",
                         change_cause=(_meta(rs).get("annotations") or {}).get(CHANGE_CAUSE),
                         template=copy.deepcopy(_template(rs)), current=rs is new))
    return sorted(out, key=lambda e: -e.revision)


def pick(deployment: dict, replicasets: list[dict], to_revision: int) -> dict | str:
    """deploymentRevision: the ReplicaSet of `to_revision` (0: the second
    newest), or kubectl's error."""
    if to_revision < 0:
        return NOT_FOUND.format(revision=to_revision)
    rss, _ = _all(deployment, replicasets)
    latest, latest_rev, previous, previous_rev = None, -1, None, -1
    for rs in rss:
        v = _revision(rs)
        if v is None:
            continue
        if to_revision == 0:
            if latest_rev < v:
                previous, previous_rev, latest, latest_rev = latest, latest_rev, rs, v
            elif previous_rev < v:
                previous, previous_rev = rs, v
        elif to_revision == v:
            return rs
    if to_revision > 0:
        return NOT_FOUND.format(revision=to_revision)
    if previous is None:
        return NO_HISTORY.format(name=_meta(deployment).get("name", ""))
    return previous


def undo(deployment: dict, replicasets: list[dict], to_revision: int) -> Undo:
    """DeploymentRollbacker.Rollback, its checks in its order: the revision,
    then paused, then an already matching template; then the two operations."""
    rs = pick(deployment, replicasets, to_revision)
    if isinstance(rs, str):
        return Undo(to_revision, refusal=rs)
    revision = _revision(rs) or 0
    entry = next((e for e in history(deployment, replicasets)
                  if e.replicaset == _meta(rs).get("name")), None)
    if (deployment.get("spec") or {}).get("paused"):
        return Undo(revision, refusal=PAUSED, target=entry)
    if same_template(_template(rs), _template(deployment)):
        return Undo(revision, skipped=ALREADY.format(revision=to_revision), target=entry)
    template = without_hash(_template(rs))
    metadata = template.setdefault("metadata", {})
    if not metadata.get("labels"):
        metadata.pop("labels", None)  # Go's omitempty drops an emptied map
    # kubectl marshals the typed PodTemplateSpec: a zero metav1.Time is null.
    metadata.setdefault("creationTimestamp", None)
    own = _meta(deployment).get("annotations") or {}
    annotations = {k: v for k, v in own.items() if k in SKIPPED}
    annotations.update({k: v for k, v in (_meta(rs).get("annotations") or {}).items()
                        if k not in SKIPPED})
    operations = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    return Undo(revision, operations=operations, target=entry)


def request_text(namespace: str, name: str, operations: list) -> str:
    """The PATCH as the dialog and the journal show it (kubectl sends no
    fieldManager for an undo)."""
    return (f"PATCH /apis/apps/v1/namespaces/{namespace}/deployments/{name}\n"
            f"Content-Type: {CONTENT_TYPE}\n\n"
            + json.dumps(operations, separators=(",", ":")))
