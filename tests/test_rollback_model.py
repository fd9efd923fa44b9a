"""kubectl's rollback computation (rollback.go), on API objects shaped as
the API server answers them, and the dialog's template difference."""

from __future__ import annotations

import json

import pytest

from console.model import rollback, templatediff

pytestmark = pytest.mark.unit

UID = "dep-uid"


def tmpl(image: str, **labels) -> dict:
    return {"metadata": {"labels": {"app": "p", **labels}},
            "spec": {"containers": [{"name": "app", "image": image, "resources": {}}]}}


def rs(name: str, revision: str | None, image: str, *, uid: str | None = None,
       owner: str = UID, created: str = "2026-01-01T00:00:00Z", **annotations) -> dict:
    ann = dict(annotations)
    if revision is not None:
        ann[rollback.REVISION] = revision
    return {"metadata": {"name": name, "uid": uid or f"uid-{name}", "creationTimestamp": created,
                         "annotations": ann,
                         "ownerReferences": [{"uid": owner, "controller": True}]},
            "spec": {"template": tmpl(image, **{"pod-template-hash": name})}}


def dep(image: str, paused: bool = False, **annotations) -> dict:
    return {"metadata": {"name": "p", "uid": UID, "annotations": annotations},
            "spec": {"paused": paused, "template": tmpl(image)}}


HISTORY = [rs("a", "12", "p:1"), rs("b", "13", "p:2", **{rollback.CHANGE_CAUSE: "v2"}),
           rs("c", "14", "p:3", **{rollback.CHANGE_CAUSE: "v3"})]


def test_the_default_is_the_second_newest_revision():
    assert rollback.pick(dep("p:3"), HISTORY, 0)["metadata"]["name"] == "b"
    undo = rollback.undo(dep("p:3"), HISTORY, 13)
    assert undo.target.revision == 13 and undo.target.change_cause == "v2"


def test_the_patch_replaces_template_and_annotations():
    d = dep("p:3", **{rollback.REVISION: "14", rollback.CHANGE_CAUSE: "v3", "team": "pay",
                      "deployment.kubernetes.io/max-replicas": "4"})
    old = rs("b", "13", "p:2", **{rollback.CHANGE_CAUSE: "v2", "on-call": "x",
                                   "deployment.kubernetes.io/desired-replicas": "3"})
    undo = rollback.undo(d, [old, HISTORY[2]], 13)
    template, annotations = undo.operations
    assert template["value"] == {"metadata": {"labels": {"app": "p"}, "creationTimestamp": None},
                                 "spec": {"containers": [{"name": "app", "image": "p:2",
                                                          "resources": {}}]}}
    # Kept from the deployment only if skipped; the rest (team) is dropped, the RS's taken.
    assert annotations["value"] == {rollback.REVISION: "14",
                                    "deployment.kubernetes.io/max-replicas": "4",
                                    rollback.CHANGE_CAUSE: "v2", "on-call": "x"}
    text = rollback.request_text("shop", "p", undo.operations)
    assert text.startswith("PATCH /apis/apps/v1/namespaces/shop/deployments/p\n"
                           "Content-Type: application/json-patch+json\n\n")
    assert json.loads(text.split("\n\n", 1)[1]) == undo.operations


def test_an_emptied_label_map_is_left_out_as_go_omits_it():
    old = rs("b", "13", "p:2")
    old["spec"]["template"]["metadata"]["labels"] = {"pod-template-hash": "b"}
    [template, _] = rollback.undo(dep("p:3"), [old, HISTORY[2]], 13).operations
    assert template["value"]["metadata"] == {"creationTimestamp": None}


def test_kubectls_refusals_in_its_order():
    assert rollback.undo(dep("p:3", paused=True), HISTORY, 99).refusal == (
        "unable to find specified revision 99 in history")
    assert rollback.undo(dep("p:3"), HISTORY, -1).refusal == (
        "unable to find specified revision -1 in history")
    assert rollback.undo(dep("p:3", paused=True), HISTORY, 13).refusal == rollback.PAUSED
    undo = rollback.undo(dep("p:3"), HISTORY, 14)
    assert undo.operations is None and undo.skipped == (
        "skipped rollback (current template already matches revision 14)")
    assert rollback.undo(dep("p:3"), HISTORY[2:], 0).refusal == (
        'no rollout history found for deployment "p"')


def test_only_the_deployments_own_replicasets_count():
    stranger = rs("z", "13", "p:9", owner="other")
    assert rollback.undo(dep("p:3"), [stranger, HISTORY[2]], 13).refusal.startswith(
        "unable to find")
    broken = rs("y", "thirteen", "p:8")
    entries = rollback.history(dep("p:3"), [broken, *HISTORY])
    assert [(e.revision, e.current) for e in entries] == [(14, True), (13, False),
                                                        (12, False)]


def test_an_empty_field_matches_an_absent_one():
    a, b = tmpl("p:1"), tmpl("p:1", **{"pod-template-hash": "q"})
    b["spec"]["containers"][0]["env"] = []
    del a["spec"]["containers"][0]["resources"]
    assert rollback.same_template(a, b)
    assert not rollback.same_template(a, tmpl("p:2"))


def test_the_template_difference_names_no_value():
    now = {"spec": {"containers": [{"name": "app", "image": "p:2.8.0", "env": [
        {"name": "DB_POOL_MAX_SIZE", "value": "10"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        {"name": "NEW_ONLY", "value": "s3cr3t-value"}],
        "resources": {"limits": {"memory": "512Mi"}}}]}}
    then = {"spec": {"containers": [{"name": "app", "image": "p:2.7.4", "env": [
        {"name": "DB_POOL_MAX_SIZE", "value": "50"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw2"}}}],
        "resources": {"limits": {"memory": "256Mi"}}}]}}
    lines = templatediff.changes(now, then)
    assert lines == ["image app: p:2.8.0 -> p:2.7.4",
                     "env app: -NEW_ONLY ~DB_POOL_MAX_SIZE ~DB_PASSWORD (values not shown)",
                     "resources app: limits.memory 512Mi -> 256Mi"]
    assert not any(v in " ".join(lines) for v in ("10", "50", "s3cr3t", "pw2"))
    assert templatediff.changes(now, now) == []
