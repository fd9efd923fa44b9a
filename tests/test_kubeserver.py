"""The Kubernetes test server against the real kubectl and the Python client.

These tests prove the fixture answers what kubectl really sends for the
commands cbconsole runs (REFERENCE.md, "kubectl, at the API level"). A missing
kubectl fails them: it is the yardstick, never optional.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.kubeserver import KubeServer, kubectl_runner, strategic_merge

pytestmark = pytest.mark.integration

NS, NAME = "shop", "api"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"


@pytest.fixture
def kube():
    server = KubeServer(auto_step=False)
    server.start()
    server.add_deployment(NAME, NS, replicas=3, env={"A": "1"})
    yield server
    server.stop()


@pytest.fixture
def kubectl(kube, kubectl_bin, tmp_path):
    """Run kubectl against `kube` with a cold, private discovery cache."""
    return kubectl_runner(kube, kubectl_bin, tmp_path, namespace=NS)


def patches(kube):
    return kube.requests_for("PATCH")


def env_of(kube) -> dict[str, str]:
    container = kube.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def rollout_status_while_stepping(kube, kubectl) -> subprocess.CompletedProcess:
    """`kubectl rollout status` while the test drives the controller."""
    proc = kubectl("rollout", "status", f"deployment/{NAME}", "-n", NS, "--timeout=20s",
                   popen=True)
    deadline = time.monotonic() + 20
    # Let kubectl see the unfinished rollout (it watches) before moving on.
    while proc.poll() is None and time.monotonic() < deadline:
        if any(r.param("watch") == "true" for r in kube.requests_for("GET")):
            kube.step()
        time.sleep(0.1)
    out, err = proc.communicate(timeout=5)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_cold_discovery_is_what_the_reference_says(kube, kubectl):
    result = kubectl("rollout", "history", f"deployment/{NAME}", "-n", NS)
    assert result.returncode == 0, result.stderr
    paths = [r.path for r in kube.requests]
    assert paths[0] == "/version"
    assert {"/api", "/apis", "/api/v1", "/apis/apps/v1"} <= set(paths)
    assert not [p for p in paths if p.startswith("/openapi")]
    assert all("Authorization" not in r.headers for r in kube.requests)


def test_rollout_restart_patches_and_rolls_out(kube, kubectl):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    result = kubectl("rollout", "restart", f"deployment/{NAME}", "-n", NS)
    assert result.returncode == 0, result.stderr
    assert "restarted" in result.stdout

    [patch] = patches(kube)
    assert patch.path == DEPLOY
    assert patch.query == {"fieldManager": ["kubectl-rollout"]}
    assert patch.content_type == "application/strategic-merge-patch+json"
    body = patch.json()
    stamp = body["spec"]["template"]["metadata"]["annotations"][
        "kubectl.kubernetes.io/restartedAt"]
    assert body == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": stamp}}}}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", stamp)
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before - timedelta(seconds=2) <= when <= datetime.now(timezone.utc)

    dep = kube.deployment(NS, NAME)
    assert dep["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": stamp}
    assert dep["metadata"]["generation"] == 2
    assert [m["manager"] for m in dep["metadata"]["managedFields"]] == ["kubectl-rollout"]

    status = rollout_status_while_stepping(kube, kubectl)
    assert status.returncode == 0, status.stderr
    assert f'Waiting for deployment "{NAME}" rollout to finish' in status.stdout \
        or "Waiting for deployment spec update to be observed" in status.stdout
    assert f'deployment "{NAME}" successfully rolled out' in status.stdout
    assert kube.revisions(NS, NAME) == [1, 2]
    new_rs = kube.replicasets(NS, NAME)[-1]
    assert new_rs["spec"]["template"]["metadata"]["annotations"][
        "kubectl.kubernetes.io/restartedAt"] == stamp
    pods = kube.pods(NS, NAME)
    assert len(pods) == 3
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in pods} == {
        new_rs["metadata"]["name"]}
    st = kube.deployment(NS, NAME)["status"]
    assert (st["observedGeneration"], st["updatedReplicas"], st["replicas"],
            st["readyReplicas"], st["availableReplicas"]) == (2, 3, 3, 3, 3)


def test_set_env_patch_shape_idempotence_and_unset(kube, kubectl):
    result = kubectl("set", "env", f"deployment/{NAME}", "-n", NS, "FOO=bar")
    assert result.returncode == 0, result.stderr
    [patch] = patches(kube)
    assert patch.raw_path == f"{DEPLOY}?fieldManager=kubectl-set"
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.json() == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "FOO"}],
                        "env": [{"name": "FOO", "value": "bar"}], "name": "app"}]}}}}
    assert list(env_of(kube).items()) == [("A", "1"), ("FOO", "bar")]
    assert kube.deployment(NS, NAME)["metadata"]["generation"] == 2

    kube.clear()
    again = kubectl("set", "env", f"deployment/{NAME}", "-n", NS, "FOO=bar")
    assert again.returncode == 0, again.stderr
    assert patches(kube) == []

    unset = kubectl("set", "env", f"deployment/{NAME}", "-n", NS, "FOO-")
    assert unset.returncode == 0, unset.stderr
    [patch] = patches(kube)
    containers = patch.json()["spec"]["template"]["spec"]["containers"]
    assert containers[0]["env"] == [{"$patch": "delete", "name": "FOO"}]
    assert env_of(kube) == {"A": "1"}


def test_rollout_history_lists_the_servers_revisions(kube, kubectl):
    kube.add_deployment("web", NS, replicas=2, revisions=3)
    second = kube.replicasets(NS, "web")[1]["metadata"]["name"]
    kube.annotate("replicasets", NS, second, {"kubernetes.io/change-cause": "image bump"})
    result = kubectl("rollout", "history", "deployment/web", "-n", NS)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^(\d+)\s+(.+?)\s*$", result.stdout, re.M)
    assert rows == [("1", "<none>"), ("2", "image bump"), ("3", "<none>")], result.stdout
    [rs_list] = kube.requests_for("GET", "*/replicasets")
    assert rs_list.query == {"labelSelector": ["app=web"]}


def test_paused_deployment_refuses_restart(kube, kubectl):
    kube.set_paused(NS, NAME, True)
    result = kubectl("rollout", "restart", f"deployment/{NAME}", "-n", NS)
    assert result.returncode != 0
    assert "paused" in result.stderr
    assert patches(kube) == []


def test_progress_deadline_exceeded_fails_rollout_status(kube, kubectl):
    kube.set_progress_deadline_exceeded(NS, NAME)
    result = kubectl("rollout", "status", f"deployment/{NAME}", "-n", NS, "--timeout=10s")
    assert result.returncode != 0
    assert "exceeded its progress deadline" in result.stderr


def test_injected_forbidden_reaches_kubectl(kube, kubectl):
    message = (f'deployments.apps "{NAME}" is forbidden: User "x" cannot patch resource '
               f'"deployments" in API group "apps" in the namespace "{NS}"')
    kube.fail("PATCH", DEPLOY, 403, reason="Forbidden", message=message)
    result = kubectl("rollout", "restart", f"deployment/{NAME}", "-n", NS)
    assert result.returncode != 0
    assert message in result.stderr
    assert [r.status for r in patches(kube)] == [403]
    assert "restartedAt" not in str(kube.deployment(NS, NAME)["spec"])


def test_python_client_reads_lists_logs_and_patches(kube, tmp_path):
    from kubernetes import client, config

    api_client = config.new_client_from_config(
        config_file=str(kube.write_kubeconfig(tmp_path / "kc", context="test-ctx",
                                              namespace=NS)))
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    dep = apps.read_namespaced_deployment(NAME, NS)
    assert (dep.spec.replicas, dep.status.ready_replicas) == (3, 3)
    selector = ",".join(f"{k}={v}" for k, v in dep.spec.selector.match_labels.items())
    rss = apps.list_namespaced_replica_set(NS, label_selector=selector).items
    assert [r.metadata.annotations["deployment.kubernetes.io/revision"] for r in rss] == ["1"]
    assert rss[0].metadata.owner_references[0].uid == dep.metadata.uid
    pods = core.list_namespaced_pod(NS, label_selector=selector).items
    assert len(pods) == 3
    assert all(p.status.container_statuses[0].ready for p in pods)
    assert [p.status.container_statuses[0].restart_count for p in pods] == [0, 0, 0]
    pod = pods[0].metadata.name
    kube.set_log(NS, pod, "one\ntwo\nthree\n")
    assert core.read_namespaced_pod_log(pod, NS, tail_lines=2) == "two\nthree\n"
    assert kube.requests[-1].raw_path == f"/api/v1/namespaces/{NS}/pods/{pod}/log?tailLines=2"

    out = apps.patch_namespaced_deployment(
        NAME, NS, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}, field_manager="x")
    [patch] = patches(kube)
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.query == {"fieldManager": ["x"]}
    assert [(e.name, e.value) for e in out.spec.template.spec.containers[0].env] == [
        ("A", "1"), ("B", "2")]
    assert out.metadata.generation == 2
    assert kube.deployment(NS, NAME)["metadata"]["managedFields"][-1]["manager"] == "x"
    kube.settle()
    assert kube.revisions(NS, NAME) == [1, 2]

    kube.fail("GET", DEPLOY, 403, reason="Forbidden", message="no", times=1)
    with pytest.raises(client.ApiException) as err:
        apps.read_namespaced_deployment(NAME, NS)
    assert err.value.status == 403
    assert apps.read_namespaced_deployment(NAME, NS).metadata.name == NAME


def test_strategic_merge_semantics():
    original = {"spec": {"containers": [
        {"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "side", "image": "s"}], "keep": 1, "drop": 2}}
    patch = {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
        "containers": [{"name": "app", "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
                        "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]}],
        "drop": None}}
    assert strategic_merge(original, patch) == {"spec": {"containers": [
        {"name": "side", "image": "s"},
        {"name": "app", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]}],
        "keep": 1}}
    assert strategic_merge({"a": {"x": 1}}, {"a": {"$patch": "replace", "y": 2}}) == {
        "a": {"y": 2}}


@pytest.mark.slow
@pytest.mark.parametrize("version", ["v1.27.16", "v1.33.1"])
def test_other_bundled_kubectl_versions_send_the_same_patches(version, kubectl_bin, tmp_path):
    """The dispatcher picks the kubectl matching /version: the oldest and the
    newest it bundles send what 1.32 sends."""
    with KubeServer(version=version) as kube:
        kube.add_deployment(NAME, NS, replicas=2, env={"A": "1"})
        kubectl = kubectl_runner(kube, kubectl_bin, tmp_path, namespace=NS)
        assert kubectl("rollout", "restart", f"deployment/{NAME}", "-n", NS).returncode == 0
        assert kubectl("set", "env", f"deployment/{NAME}", "-n", NS, "FOO=bar").returncode == 0
        agents = {r.headers.get("User-Agent", "").split(" ")[0] for r in kube.requests}
        assert agents == {"kubectl-dispatcher/v1.0", f"kubectl/{version}"}
        restart, set_env = patches(kube)
        assert restart.query == {"fieldManager": ["kubectl-rollout"]}
        assert list(restart.json()["spec"]["template"]["metadata"]["annotations"]) == [
            "kubectl.kubernetes.io/restartedAt"]
        assert set_env.query == {"fieldManager": ["kubectl-set"]}
        assert set_env.json()["spec"]["template"]["spec"]["containers"][0][
            "$setElementOrder/env"] == [{"name": "A"}, {"name": "FOO"}]
        assert {r.content_type for r in (restart, set_env)} == {
            "application/strategic-merge-patch+json"}
        # With the controller ticking on its own (the default), rollout status
        # finishes without the test's help.
        status = kubectl("rollout", "status", f"deployment/{NAME}", "-n", NS, "--timeout=20s")
        assert status.returncode == 0, status.stderr
        assert f'deployment "{NAME}" successfully rolled out' in status.stdout
        # Two template changes may land within one controller sync; like the
        # real controller it then makes one new ReplicaSet, for the latest.
        assert kube.revisions(NS, NAME)[-1] in (2, 3)
        newest = max(kube.replicasets(NS, NAME), key=lambda rs: int(
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
        env = newest["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": "FOO", "value": "bar"} in env
