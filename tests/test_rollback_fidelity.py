"""cbconsole's rollback against `kubectl rollout undo`, on two identical test
API servers: the same requests' method and path, the same content type and
JSON patch (template without pod-template-hash, annotations as rollback.go
computes them), the same deployment after it, and kubectl's refusals."""

from __future__ import annotations

import pytest

from console.model import rollback
from console.sources.kube import KubernetesCluster
from tests.kubeserver import KubeServer, kubectl_runner
from tests.rollbackworld import CAUSES, add_history

pytestmark = pytest.mark.integration

NS, NAME = "shop", "payment-api"


@pytest.fixture
def servers():
    pair = KubeServer(auto_step=False), KubeServer(auto_step=False)
    for s in pair:
        s.start()
        add_history(s)
    yield pair
    for s in pair:
        s.stop()


def ours(server: KubeServer, tmp_path, revision: int) -> rollback.Undo:
    cluster = KubernetesCluster(kubeconfig=str(server.write_kubeconfig(
        tmp_path / f"kc-{server.port}", namespace=NS)), timeout=5)
    try:
        dep, rss = cluster.rollout_objects(NS, NAME)
        undo = rollback.undo(dep, rss, revision)
        if undo.operations is not None:
            cluster.json_patch_deployment(NS, NAME, undo.operations)
        return undo
    finally:
        cluster.close()


def template(server: KubeServer) -> dict:
    return server.deployment(NS, NAME)["spec"]["template"]


@pytest.mark.parametrize("revision", [13, 12])
def test_the_rollback_patch_is_kubectls(servers, kubectl_bin, tmp_path, revision):
    by_kubectl, by_us = servers
    kubectl = kubectl_runner(by_kubectl, kubectl_bin, tmp_path / "kubectl")
    result = kubectl("rollout", "undo", f"deployment/{NAME}", "-n", NS,
                     f"--to-revision={revision}")
    assert result.returncode == 0, result.stderr
    assert "rolled back" in result.stdout
    undo = ours(by_us, tmp_path, revision)
    assert undo.refusal is None and undo.skipped is None
    [theirs] = by_kubectl.requests_for("PATCH")
    [mine] = by_us.requests_for("PATCH")
    assert mine.path == theirs.path == f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"
    assert mine.content_type == theirs.content_type == "application/json-patch+json"
    assert mine.param("fieldManager") is theirs.param("fieldManager") is None
    assert mine.json() == theirs.json()
    ops = mine.json()
    assert [(o["op"], o["path"]) for o in ops] == [("replace", "/spec/template"),
                                                  ("replace", "/metadata/annotations")]
    assert "pod-template-hash" not in ops[0]["value"]["metadata"]["labels"]
    # The deployment's own revision and last-applied kept, the RS's cause taken.
    assert ops[1]["value"]["deployment.kubernetes.io/revision"] == "14"
    assert "kubectl.kubernetes.io/last-applied-configuration" in ops[1]["value"]
    assert ops[1]["value"]["kubernetes.io/change-cause"] == CAUSES[revision]
    assert template(by_us) == template(by_kubectl)
    assert (by_us.deployment(NS, NAME)["metadata"]["annotations"]
            == by_kubectl.deployment(NS, NAME)["metadata"]["annotations"])
    # It reads what kubectl reads: the deployment, then its ReplicaSets by selector.
    assert [r.path for r in by_us.requests_for("GET")] == [
        f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}",
        f"/apis/apps/v1/namespaces/{NS}/replicasets"]
    assert (by_us.requests_for("GET")[1].param("labelSelector")
            == by_kubectl.requests_for("GET", f"/apis/apps/v1/namespaces/{NS}/replicasets")[0]
            .param("labelSelector"))


def test_kubectls_refusals_are_ours(servers, kubectl_bin, tmp_path):
    by_kubectl, by_us = servers
    kubectl = kubectl_runner(by_kubectl, kubectl_bin, tmp_path / "kubectl")
    # A revision that does not exist.
    result = kubectl("rollout", "undo", f"deployment/{NAME}", "-n", NS, "--to-revision=99")
    assert result.returncode != 0
    undo = ours(by_us, tmp_path, 99)
    assert undo.refusal == "unable to find specified revision 99 in history"
    assert undo.refusal in result.stderr
    # The revision that runs already: kubectl skips, no PATCH.
    result = kubectl("rollout", "undo", f"deployment/{NAME}", "-n", NS, "--to-revision=14")
    assert result.returncode == 0, result.stderr
    undo = ours(by_us, tmp_path, 14)
    assert undo.skipped == "skipped rollback (current template already matches revision 14)"
    assert undo.skipped in result.stdout
    # Paused.
    for s in (by_kubectl, by_us):
        s.set_paused(NS, NAME, True)
    result = kubectl("rollout", "undo", f"deployment/{NAME}", "-n", NS, "--to-revision=13")
    assert result.returncode != 0
    undo = ours(by_us, tmp_path, 13)
    assert undo.refusal == rollback.PAUSED
    assert rollback.PAUSED in result.stderr
    assert by_kubectl.requests_for("PATCH") == by_us.requests_for("PATCH") == []
