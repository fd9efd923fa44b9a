"""KubernetesCluster against the test Kubernetes API server (tests/kubeserver.py)."""

from __future__ import annotations

import json
import socket

import pytest

from console.model.fleet import Deployment
from console.sources.base import ClusterSource, SourceError, Unavailable
from console.sources.kube import KubernetesCluster
from tests.kubeserver import KubeServer

pytestmark = pytest.mark.integration

TOKEN = "s3cr3t-bearer-token-0123456789abcdef"


@pytest.fixture
def server():
    with KubeServer(auto_step=False) as kube:
        yield kube


@pytest.fixture
def kubeconfig(server, tmp_path):
    return str(server.write_kubeconfig(tmp_path / "kubeconfig", context="test-ctx",
                                       namespace="shop"))


@pytest.fixture
def cluster(kubeconfig):
    source = KubernetesCluster(kubeconfig=kubeconfig, timeout=2.0)
    yield source
    source.close()


def test_loads_context_and_namespace(cluster, server):
    assert isinstance(cluster, ClusterSource)
    assert cluster.label == "test-ctx"
    assert cluster.namespace == "shop"
    assert server.url in repr(cluster)


def test_kubeconfig_from_env_and_default_namespace(server, tmp_path, monkeypatch):
    path = server.write_kubeconfig(tmp_path / "cfg", context="other", namespace="")
    monkeypatch.setenv("KUBECONFIG", str(path))
    source = KubernetesCluster()
    assert (source.label, source.namespace) == ("other", "default")


def test_deployment_mapping(cluster, server):
    server.add_deployment("api", "shop", replicas=3, env={"A": "1", "B": "two"})
    with server._lock:  # a secret-sourced variable, and a template annotation
        dep = server._objects["deployments"][("shop", "api")]
        dep["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}})
        dep["spec"]["template"].setdefault("metadata", {})["annotations"] = {"x": "y"}
    d = cluster.deployment("shop", "api")
    assert isinstance(d, Deployment)
    assert (d.namespace, d.name, d.replicas) == ("shop", "api", 3)
    assert (d.updated_replicas, d.ready_replicas, d.available_replicas, d.status_replicas) \
        == (3, 3, 3, 3)
    assert (d.generation, d.observed_generation, d.paused) == (1, 1, False)
    assert d.selector == {"app": "api"}
    assert d.template_annotations == {"x": "y"}
    assert [c.name for c in d.containers] == ["app"]
    assert d.containers[0].image == "registry.example/app:1.0"
    assert d.containers[0].env == {"A": "1", "B": "two",
                                   "PW": "<from secret db, key password>"}
    types = {c.type: c for c in d.conditions}
    assert types["Available"].status == "True"
    assert types["Progressing"].reason == "NewReplicaSetAvailable"


def test_paused_deployment(cluster, server):
    server.add_deployment("api", "shop", paused=True)
    assert cluster.deployment("shop", "api").paused is True


def test_rollout_history_matches_server(cluster, server):
    server.add_deployment("api", "shop", revisions=3)
    server.add_deployment("other", "shop", revisions=2, labels={"app": "other"})
    history = cluster.rollout_history("shop", "api")
    assert [r.revision for r in history] == server.revisions("shop", "api") == [1, 2, 3]
    assert [r.replicaset for r in history] == [
        rs["metadata"]["name"] for rs in server.replicasets("shop", "api")]
    assert all(r.change_cause is None for r in history)
    assert all(r.created_at.tzinfo is not None for r in history)


def test_rollout_history_change_cause_and_ownership(cluster, server):
    server.add_deployment("api", "shop", revisions=2, change_cause="deploy 1.0")
    # A ReplicaSet matching the selector but owned by nothing is not history.
    with server._lock:
        rs = json.loads(json.dumps(server.replicasets("shop", "api")[0]))
        rs["metadata"].update(name="stray", uid="stray-uid", ownerReferences=[])
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "9"
        server._save("replicasets", rs)
    history = cluster.rollout_history("shop", "api")
    assert [r.revision for r in history] == [1, 2]
    assert [r.change_cause for r in history] == ["deploy 1.0", "deploy 1.0"]


def test_rollout_history_after_a_rollout(cluster, server):
    server.add_deployment("api", "shop", revisions=1)
    cluster.patch_deployment("shop", "api", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "registry.example/app:2.0"}]}}}}, "cbconsole")
    server.settle()
    assert [r.revision for r in cluster.rollout_history("shop", "api")] \
        == server.revisions("shop", "api") == [1, 2]


def test_pods_ready_and_restarts(cluster, server):
    server.add_deployment("api", "shop", replicas=3)
    server.add_deployment("other", "shop", replicas=2, labels={"app": "other"})
    names = sorted(p["metadata"]["name"] for p in server.pods("shop", "api"))
    server.scale_pod_ready("shop", names[0], False, restart_count=4)
    pods = {p.name: p for p in cluster.pods("shop", "api")}
    assert sorted(pods) == names
    assert pods[names[0]].ready is False and pods[names[0]].restarts == 4
    assert all(pods[n].ready and pods[n].restarts == 0 for n in names[1:])
    assert all(p.phase == "Running" and p.namespace == "shop" and p.node == "node-1"
               and p.created_at.tzinfo is not None for p in pods.values())


def test_pods_ready_from_container_statuses_without_condition(cluster, server):
    server.add_deployment("api", "shop", replicas=1)
    name = server.pods("shop", "api")[0]["metadata"]["name"]
    with server._lock:
        pod = server._objects["pods"][("shop", name)]
        pod["status"]["conditions"] = []
        for cs in pod["status"]["containerStatuses"]:
            cs["restartCount"] = 2
    [pod] = cluster.pods("shop", "api")
    assert pod.ready is True and pod.restarts == 2


def test_logs_tail_oldest_first(cluster, server):
    server.add_deployment("api", "shop", replicas=1)
    name = server.pods("shop", "api")[0]["metadata"]["name"]
    server.set_log("shop", name, "".join(f"line {i}\n" for i in range(1, 11)))
    assert cluster.logs("shop", name, tail=3) == ["line 8", "line 9", "line 10"]
    assert server.requests_for("GET", f"*/pods/{name}/log")[-1].param("tailLines") == "3"
    assert len(cluster.logs("shop", name)) == 10


def test_patch_lands_with_field_manager(cluster, server):
    server.add_deployment("api", "shop")
    server.clear()
    patch = {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-27T00:29:37Z"}}}}}
    d = cluster.patch_deployment("shop", "api", patch, field_manager="cbconsole")
    [req] = server.requests_for("PATCH")
    assert req.path == "/apis/apps/v1/namespaces/shop/deployments/api"
    assert req.param("fieldManager") == "cbconsole"
    assert req.content_type.startswith("application/strategic-merge-patch+json")
    assert req.json() == patch
    assert d.generation == 2 and d.observed_generation == 1
    assert d.template_annotations["kubectl.kubernetes.io/restartedAt"] == "2026-11-27T00:29:37Z"
    stored = server.deployment("shop", "api")
    assert stored["metadata"]["managedFields"][-1]["manager"] == "cbconsole"


def test_403_names_the_verb_and_the_server_message(cluster, server):
    server.add_deployment("api", "shop")
    msg = ('deployments.apps "api" is forbidden: User "dev" cannot patch resource '
           '"deployments" in API group "apps" in the namespace "shop"')
    server.fail("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api", 403, message=msg)
    with pytest.raises(SourceError) as err:
        cluster.patch_deployment("shop", "api", {"metadata": {"labels": {"a": "b"}}}, "cb")
    text = str(err.value)
    assert text.startswith("forbidden: ")
    assert msg in text
    assert "needs verb patch on resource deployments" in text
    assert '"shop"' in text

    server.fail("GET", "/api/v1/namespaces/shop/pods", 403, message="no pods for you")
    with pytest.raises(SourceError, match="no pods for you.*needs verb list on resource pods"):
        cluster.pods("shop", "api")


def test_404_deployment(cluster):
    with pytest.raises(SourceError) as err:
        cluster.deployment("shop", "nope")
    assert str(err.value) == 'deployments.apps "nope" not found in namespace "shop"'
    assert not isinstance(err.value, Unavailable)


def test_404_pod_logs(cluster):
    with pytest.raises(SourceError, match='pods "ghost" not found in namespace "shop"'):
        cluster.logs("shop", "ghost")


def test_422_and_409_carry_the_status_message(cluster, server):
    server.add_deployment("api", "shop")
    path = "/apis/apps/v1/namespaces/shop/deployments/api"
    server.fail("PATCH", path, 422, times=1, message='Deployment.apps "api" is invalid: '
                'spec.template.spec.containers[0].image: Required value')
    with pytest.raises(SourceError, match=r"invalid: .*containers\[0\]\.image: Required value"):
        cluster.patch_deployment("shop", "api", {"spec": {}}, "cb")
    with pytest.raises(SourceError, match="conflict: Operation cannot be fulfilled"):
        cluster.patch_deployment("shop", "api", {"metadata": {"resourceVersion": "1"},
                                                 "spec": {"replicas": 5}}, "cb")


@pytest.mark.parametrize("code", [500, 503])
def test_5xx(cluster, server, code):
    server.fail("GET", "*/deployments/api", code, message="etcdserver: request timed out")
    with pytest.raises(SourceError) as err:
        cluster.deployment("shop", "api")
    assert str(err.value) == f"the API server answered {code}: etcdserver: request timed out"


def test_401(cluster, server):
    server.fail("*", "*", 401, message="Unauthorized")
    with pytest.raises(SourceError, match='unauthorized: the cluster rejected the credentials '
                                          'of context "test-ctx"'):
        cluster.deployment("shop", "api")


def _kubeconfig_for(url, path):
    """A kubeconfig for a server that is not a KubeServer."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx"}))
    return str(path)


def test_connection_refused_on_a_closed_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = KubernetesCluster(kubeconfig=_kubeconfig_for(f"http://127.0.0.1:{port}",
                                                          tmp_path / "cfg"), timeout=1.0)
    with pytest.raises(SourceError) as err:
        source.deployment("default", "api")
    assert str(err.value) == (f"API server at http://127.0.0.1:{port} unreachable: "
                              "connection refused")


def test_no_answer_within_the_timeout(tmp_path):
    with socket.socket() as s:  # accepts (backlog) and never answers
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        source = KubernetesCluster(kubeconfig=_kubeconfig_for(f"http://127.0.0.1:{port}",
                                                              tmp_path / "cfg"), timeout=0.3)
        with pytest.raises(SourceError, match=r"unreachable: no answer within 0\.3 s"):
            source.deployment("default", "api")


def test_no_kubeconfig_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(Unavailable, match=r"^no kubeconfig found \(.*\): "
                                          "cluster features unavailable$"):
        KubernetesCluster()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(Unavailable, match="missing"):
        KubernetesCluster()


def test_unknown_context_is_unavailable(kubeconfig):
    with pytest.raises(Unavailable, match='context "prod" not found'):
        KubernetesCluster(kubeconfig=kubeconfig, context="prod")


def test_bearer_token_never_shown(server, tmp_path):
    path = server.write_kubeconfig(tmp_path / "cfg", context="tok-ctx", namespace="shop")
    config = json.loads(path.read_text())
    config["users"][0]["user"] = {"token": TOKEN}
    path.write_text(json.dumps(config))
    source = KubernetesCluster(kubeconfig=str(path))
    assert TOKEN not in repr(source) and TOKEN not in str(vars(source).get("label"))
    server.add_deployment("api", "shop")
    source.deployment("shop", "api")
    # The token is really sent...
    headers = {k.lower(): v for k, v in server.requests_for("GET")[-1].headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    # ...and never shown, even when the server echoes it back.
    errors = []
    for code in (401, 403, 404, 409, 422, 500, 503):
        server.clear_failures()
        server.fail("*", "*", code, message=f"bad token Bearer {TOKEN} ({code})")
        for call in (lambda: source.deployment("shop", "api"),
                     lambda: source.pods("shop", "api"),
                     lambda: source.logs("shop", "x"),
                     lambda: source.rollout_history("shop", "api"),
                     lambda: source.patch_deployment("shop", "api", {}, "cb")):
            with pytest.raises(SourceError) as err:
                call()
            errors.append(err.value)
    assert errors
    for e in errors:
        assert TOKEN not in str(e) and TOKEN not in repr(e)
    assert any("***" in str(e) for e in errors)
    assert TOKEN not in repr(source)


@pytest.mark.slow
def test_kubernetes_is_imported_lazily():
    import subprocess
    import sys

    code = ("import sys, console.sources.kube; "
            "print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
