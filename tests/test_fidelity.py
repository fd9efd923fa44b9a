"""cbconsole's mitigation patches against kubectl's, on the same test API
server: the same request body, the same field manager, the same resulting
deployment. kubectl is the reference (tests/test_kubeserver.py checks the
server against it)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from kubernetes import client, config

from console.model import kubectl as ops
from console.model.fleet import Container, Deployment
from tests.kubeserver import KubeServer, kubectl_runner

pytestmark = pytest.mark.integration

NS, NAME = "shop", "api"
FALLBACK = ops.fallback_env(ops.env_prefix("payment-api"), "mock", True)


def make_server() -> KubeServer:
    server = KubeServer(auto_step=False)
    server.start()
    server.add_deployment(
        NAME, NS, replicas=3, containers=[
            {"name": "app", "image": "api:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "proxy:1"},
        ],
    )
    return server


@pytest.fixture
def servers():
    pair = make_server(), make_server()
    yield pair
    for s in pair:
        s.stop()


def as_model(raw: dict) -> Deployment:
    spec = raw["spec"]
    return Deployment(
        namespace=raw["metadata"]["namespace"], name=raw["metadata"]["name"],
        replicas=spec["replicas"],
        containers=tuple(
            Container(name=c["name"], env={e["name"]: e.get("value", "") for e in c.get("env", [])})
            for c in spec["template"]["spec"]["containers"]
        ),
    )


def apps_api(server: KubeServer, tmp_path) -> client.AppsV1Api:
    path = server.write_kubeconfig(tmp_path / f"kc-{server.port}", namespace=NS)
    api_client = config.new_client_from_config(config_file=str(path))
    return client.AppsV1Api(api_client)


def template(server: KubeServer) -> dict:
    return server.deployment(NS, NAME)["spec"]["template"]


def managers(server: KubeServer) -> set[str]:
    return {m["manager"] for m in server.deployment(NS, NAME)["metadata"].get("managedFields", [])}


def test_fallback_env_patch_matches_kubectl_set_env(servers, kubectl_bin, tmp_path):
    by_kubectl, by_us = servers
    kubectl = kubectl_runner(by_kubectl, kubectl_bin, tmp_path / "kubectl")
    args = [f"{k}={v}" for k, v in FALLBACK.items()]
    result = kubectl("set", "env", f"deployment/{NAME}", "-n", NS, *args)
    assert result.returncode == 0, result.stderr

    patch = ops.set_env_patch(as_model(by_us.deployment(NS, NAME)), FALLBACK)
    apps_api(by_us, tmp_path).patch_namespaced_deployment(
        NAME, NS, patch, field_manager=ops.SET_ENV_MANAGER
    )
    [theirs] = by_kubectl.requests_for("PATCH")
    [ours] = by_us.requests_for("PATCH")
    assert ours.json() == theirs.json()
    assert ours.param("fieldManager") == theirs.param("fieldManager") == "kubectl-set"
    assert ours.content_type == theirs.content_type == "application/strategic-merge-patch+json"
    assert template(by_us) == template(by_kubectl)
    assert managers(by_us) == managers(by_kubectl)
    # And turning it off again, as kubectl's NAME- does.
    off = ops.fallback_env(ops.env_prefix("payment-api"), "mock", False)
    result = kubectl("set", "env", f"deployment/{NAME}", "-n", NS, *(f"{k}-" for k in off))
    assert result.returncode == 0, result.stderr
    apps_api(by_us, tmp_path).patch_namespaced_deployment(
        NAME, NS, ops.set_env_patch(as_model(by_us.deployment(NS, NAME)), off),
        field_manager=ops.SET_ENV_MANAGER,
    )
    assert by_us.requests_for("PATCH")[-1].json() == by_kubectl.requests_for("PATCH")[-1].json()
    assert template(by_us) == template(by_kubectl)


def test_restart_patch_matches_kubectl_rollout_restart(servers, kubectl_bin, tmp_path):
    by_kubectl, by_us = servers
    kubectl = kubectl_runner(by_kubectl, kubectl_bin, tmp_path / "kubectl")
    result = kubectl("rollout", "restart", f"deployment/{NAME}", "-n", NS)
    assert result.returncode == 0, result.stderr
    [theirs] = by_kubectl.requests_for("PATCH")
    stamp = theirs.json()["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    apps_api(by_us, tmp_path).patch_namespaced_deployment(
        NAME, NS, ops.restart_patch(at), field_manager=ops.RESTART_MANAGER
    )
    [ours] = by_us.requests_for("PATCH")
    assert ours.json() == theirs.json()  # same body, given the same clock
    assert ours.param("fieldManager") == theirs.param("fieldManager") == "kubectl-rollout"
    assert template(by_us) == template(by_kubectl)
    assert managers(by_us) == managers(by_kubectl)
