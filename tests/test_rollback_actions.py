"""The rollback mitigation end to end on the Kubernetes test server: the
plan shows the exact JSON patch and its kubectl equivalent for revision N,
execute sends it once, follows the rollout and verifies the template; it is
refused in read-only mode before any request, sends nothing in a dry run,
and is refused with kubectl's words when the deployment is paused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from console.mitigations.recorder import Stage
from console.mitigations.runner import READ_ONLY_REFUSAL, Mode
from console.model import rollback
from console.sources.kube import KubernetesCluster
from tests.kubeserver import KubeServer
from tests.rollbackworld import CAUSES, add_history
from tests.runners import NS, TARGET, Progressions, runner, stages

pytestmark = pytest.mark.integration

DEP_PATH = f"/apis/apps/v1/namespaces/{NS}/deployments/payment-api"


@pytest.fixture
def kube():
    server = KubeServer(auto_step=False)
    server.start()
    add_history(server)
    server.add_deployment("api", NS, replicas=2, revisions=2)
    yield server
    server.stop()


@pytest.fixture
def cluster(kube, tmp_path):
    source = KubernetesCluster(kubeconfig=str(kube.write_kubeconfig(
        tmp_path / "kc", context="test-ctx", namespace=NS)), timeout=2.0)
    yield source
    source.close()


def revision_template(kube: KubeServer, revision: int) -> dict:
    rs = next(r for r in kube.replicasets(NS, "payment-api")
              if r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
              == str(revision))
    return rs["spec"]["template"]


def test_the_plan_shows_revision_14_to_13_and_what_changes(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan("rollback", TARGET)
    assert plan.title == "Roll back deployment/payment-api: revision 14 -> revision 13"
    assert plan.equivalent == ("kubectl --context test-ctx rollout undo deployment/payment-api "
                               "-n shop --to-revision=13")
    assert CAUSES[14] in plan.reason and CAUSES[13] in plan.reason
    head, body = plan.request.split("\n\n", 1)
    assert head == f"PATCH {DEP_PATH}\nContent-Type: application/json-patch+json"
    assert json.loads(body) == plan.operations
    assert plan.changes == ("image app: registry.example/payment-api:2.8.0 -> "
                            "registry.example/payment-api:2.8.0-old1",)
    # [ and ]: every older revision; t: the caller, at its previous revision.
    assert [p.details["to_revision"] for p in plan.revisions] == ["13", "12"]
    assert plan.alternative.title == "Roll back deployment/api: revision 2 -> revision 1"
    assert not kube.requests_for("PATCH")
    assert stages(r) == [Stage.ASKED]


def test_the_rollback_is_sent_once_followed_and_verified(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan("rollback", TARGET)
    seen = Progressions()
    outcome = r.execute(plan, seen)
    assert outcome.ok and outcome.verified, outcome.message
    assert "rolled back from revision 14 to revision 13" in outcome.message
    [patch] = kube.requests_for("PATCH")
    assert patch.content_type == "application/json-patch+json"
    assert patch.json() == plan.operations
    dep = kube.deployment(NS, "payment-api")
    assert rollback.same_template(dep["spec"]["template"], revision_template(kube, 15))
    assert dep["metadata"]["annotations"]["kubernetes.io/change-cause"] == CAUSES[13]
    # The old ReplicaSet runs again, renumbered, with every pod ready.
    assert kube.revisions(NS, "payment-api")[-1] == 15
    assert dep["status"]["readyReplicas"] == dep["status"]["updatedReplicas"] == 3
    assert stages(r) == [Stage.ASKED, Stage.CONFIRMED, Stage.SENT, Stage.SUCCEEDED,
                         Stage.VERIFIED]
    assert any(p.fraction == 1.0 for p in seen.seen)
    succeeded = r.recorder.events[3].details
    assert succeeded["summary"] == ("deployment/payment-api rolled back from revision 14 to "
                                    f"revision 13 ({CAUSES[13]})")
    # Again: the revision is now the running one (renumbered 15): nothing to undo to 13.
    again = r.plan("rollback", TARGET)
    assert again.details["to_revision"] == "14"


def test_an_older_revision_is_sent_as_chosen(kube, cluster):
    r = runner(kube, cluster=cluster)
    [_, older] = r.plan("rollback", TARGET).revisions
    assert older.equivalent.endswith("--to-revision=12")
    outcome = r.execute(older, Progressions())
    assert outcome.ok and outcome.verified
    dep = kube.deployment(NS, "payment-api")
    assert dep["metadata"]["annotations"]["kubernetes.io/change-cause"] == CAUSES[12]


def test_read_only_refuses_before_any_request(kube, cluster):
    plan = runner(kube, cluster=cluster).plan("rollback", TARGET)
    kube.clear()
    r = runner(kube, cluster=cluster, mode=Mode.READ_ONLY)
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok and READ_ONLY_REFUSAL in outcome.message
    assert kube.requests_for() == []
    assert r.plan("rollback", TARGET).refusal == READ_ONLY_REFUSAL


def test_a_dry_run_sends_nothing(kube, cluster):
    r = runner(kube, cluster=cluster, mode=Mode.DRY_RUN)
    plan = r.plan("rollback", TARGET)
    outcome = r.execute(plan, Progressions())
    assert outcome.ok and outcome.message.startswith("dry run: nothing sent")
    assert "--to-revision=13" in outcome.message
    assert not kube.requests_for("PATCH")


def test_paused_since_the_dialog_is_refused_in_kubectls_words(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan("rollback", TARGET)
    kube.set_paused(NS, "payment-api", True)
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok and outcome.message == f"refused: {rollback.PAUSED}"
    assert not kube.requests_for("PATCH")
    assert r.plan("rollback", TARGET).refusal == rollback.PAUSED


def test_changed_since_the_dialog_sends_nothing(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan("rollback", TARGET)
    rs = kube.replicasets(NS, "payment-api")[1]["metadata"]["name"]
    kube.annotate("replicasets", NS, rs, {"kubernetes.io/change-cause": "edited"})
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok and "changed since the dialog" in outcome.message
    assert not kube.requests_for("PATCH")


def test_a_refused_patch_is_said_and_not_sent_again(kube, cluster):
    r = runner(kube, cluster=cluster)
    plan = r.plan("rollback", TARGET)
    kube.fail("PATCH", DEP_PATH, 403, message='deployments.apps "payment-api" is forbidden: '
              'User "oncall" cannot patch resource "deployments"')
    outcome = r.execute(plan, Progressions())
    assert not outcome.ok and "cannot patch" in outcome.message
    assert len(kube.requests_for("PATCH")) == 1
    assert stages(r)[-2:] == [Stage.SENT, Stage.FAILED]
    assert kube.revisions(NS, "payment-api")[-1] == 14


def test_the_diagnosis_preselects_the_revision_before_the_likely_cause(kube, cluster):
    """Revisions 13 and 14 both rolled out just before the breaker opened:
    the rollback goes to 12, the one before the first of them (not kubectl's
    default, 13)."""
    from console.diagnosis.findings import RevisionView
    from console.diagnosis.gather import gather

    now = datetime.now(timezone.utc)
    diagnosis = gather(TARGET, cluster=cluster, probe=None, flags=None, breaker=None,
                       now=now, cluster_unavailable="no cluster", context="test-ctx")
    history = cluster.rollout_history(NS, "payment-api")
    ages = {12: timedelta(days=9), 13: timedelta(minutes=9), 14: timedelta(minutes=4)}
    views = tuple(RevisionView(revision=h.model_copy(update={"created_at": now - ages[h.revision]}),
                               current=h.revision == 14, likely_cause=h.revision != 12)
                  for h in history)
    diagnosis = replace(diagnosis, downstream=replace(diagnosis.downstream, revisions=views))
    plan = runner(kube, cluster=cluster, clock=lambda: now).plan("rollback", TARGET, diagnosis)
    assert (plan.deployment, plan.details["to_revision"]) == ("payment-api", "12")
    assert "LIKELY CAUSE" in plan.reason
    # Without it: kubectl's default.
    plan = runner(kube, cluster=cluster).plan("rollback", TARGET)
    assert plan.details["to_revision"] == "13" and "kubectl's default" in plan.reason
