"""KubernetesCluster.exec_in_pod against the test API server's WebSocket exec,
and the test server's exec against the real kubectl."""

from __future__ import annotations

import json
import socket

import pytest

from console.errors import TimedOut
from console.model.fleet import ExecResult
from console.sources.base import SourceError
from console.sources.kube import KubernetesCluster
from tests.kubeserver import ApiError, ExecFailure, KubeServer, kubectl_runner

pytestmark = pytest.mark.integration

TOKEN = "s3cr3t-bearer-token-0123456789abcdef"
NC = ["nc", "-z", "-v", "-w", "2", "postgres", "5432"]


@pytest.fixture
def server():
    with KubeServer(auto_step=False) as kube:
        kube.add_deployment("payment-api", "shop", replicas=2)
        yield kube


@pytest.fixture
def pod(server) -> str:
    return server.pods("shop", "payment-api")[0]["metadata"]["name"]


@pytest.fixture
def cluster(server, tmp_path):
    cfg = server.write_kubeconfig(tmp_path / "kubeconfig", context="test-ctx", namespace="shop")
    source = KubernetesCluster(kubeconfig=str(cfg), timeout=2.0)
    yield source
    source.close()


def nc_handler(command: list[str]) -> tuple[int, str, str]:
    """OpenBSD netcat in an image: postgres answers, anything else refuses."""
    if command[0] != "nc":
        raise ExecFailure(f'exec: "{command[0]}": executable file not found in $PATH')
    host, port = command[-2], command[-1]
    if (host, port) == ("postgres", "5432"):
        return 0, "", f"Connection to {host} (10.96.0.15) {port} port [tcp/postgresql] succeeded!\n"
    return 1, "", f"nc: connect to {host} port {port} (tcp) failed: Connection refused\n"


def test_success_sends_the_argv_word_by_word(cluster, server, pod):
    server.set_exec("shop", None, nc_handler)
    server.clear()
    result = cluster.exec_in_pod("shop", pod, NC)
    assert isinstance(result, ExecResult)
    assert result.exit_code == 0 and not result.missing_executable
    assert result.stdout == ""
    assert "postgres (10.96.0.15) 5432 port [tcp/postgresql] succeeded!" in result.stderr
    [req] = server.requests_for(path="*/exec")
    assert req.path == f"/api/v1/namespaces/shop/pods/{pod}/exec"
    assert req.status == 101
    assert req.query["command"] == NC
    assert (req.param("stdout"), req.param("stderr")) == ("true", "true")
    assert req.param("stdin") in (None, "false") and req.param("tty") in (None, "false")


def test_stdout_and_a_handler_per_pod(cluster, server, pod):
    other = server.pods("shop", "payment-api")[1]["metadata"]["name"]
    server.set_exec("shop", pod, lambda cmd: (0, "only here\n", ""))
    assert cluster.exec_in_pod("shop", pod, ["whatever"]).stdout == "only here\n"
    assert cluster.exec_in_pod("shop", other, ["echo", "a", "b"]).stdout == "a b\n"
    assert cluster.exec_in_pod("shop", other, ["false"]).exit_code == 1


def test_non_zero_exit(cluster, server, pod):
    server.set_exec("shop", None, nc_handler)
    result = cluster.exec_in_pod("shop", pod, ["nc", "-zv", "redis", "6379"])
    assert result.exit_code == 1
    assert result.stderr == "nc: connect to redis port 6379 (tcp) failed: Connection refused\n"


def test_missing_executable_is_exit_127(cluster, pod):
    result = cluster.exec_in_pod("shop", pod, NC)  # the default image has no nc
    assert result.exit_code == 127 and result.missing_executable
    assert 'exec: "nc": executable file not found in $PATH' in result.stderr


def test_runtime_exit_126_not_found_is_127_too(cluster, server, pod):
    # Older runtimes (docker) exit 126 and say it on stderr.
    server.set_exec("shop", None, lambda cmd: (
        126, "", 'OCI runtime exec failed: exec: "nc": executable file not found in $PATH\n'))
    assert cluster.exec_in_pod("shop", pod, NC).missing_executable


def test_other_kubelet_errors_raise(cluster, server, pod):
    def broken(command):
        raise ExecFailure("container not running (CrashLoopBackOff)")

    server.set_exec("shop", None, broken)
    with pytest.raises(SourceError, match=f"exec in pod {pod} failed: Internal error occurred: "
                                          ".*container not running"):
        cluster.exec_in_pod("shop", pod, NC)


def test_403_says_what_rbac_needs(cluster, server, pod):
    msg = (f'pods "{pod}" is forbidden: User "dev" cannot create resource "pods/exec" '
           'in API group "" in the namespace "shop"')
    server.fail("*", "*/exec", 403, message=msg)
    with pytest.raises(SourceError) as err:
        cluster.exec_in_pod("shop", pod, NC)
    text = str(err.value)
    assert text.startswith("forbidden: ") and msg in text
    assert 'needs verb create on resource pods/exec in namespace "shop"' in text
    # A handler refusing before the upgrade answers the same way.
    server.clear_failures()
    server.set_exec("shop", None, lambda cmd: (_ for _ in ()).throw(
        ApiError(403, "Forbidden", "admission webhook denied exec")))
    with pytest.raises(SourceError, match="forbidden: admission webhook denied exec "
                                          r"\(RBAC: needs verb create on resource pods/exec"):
        cluster.exec_in_pod("shop", pod, NC)


def test_unknown_pod(cluster):
    with pytest.raises(SourceError, match='^pods "ghost" not found in namespace "shop"$'):
        cluster.exec_in_pod("shop", "ghost", NC)


def test_refused_and_silent_api_servers(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "cfg"
    cfg.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx"}))
    source = KubernetesCluster(kubeconfig=str(cfg), timeout=0.3)
    with pytest.raises(SourceError, match=f"^API server at http://127.0.0.1:{port} "
                                          "unreachable: connection refused$"):
        source.exec_in_pod("default", "p", NC, timeout=0.3)
    with socket.socket() as s:  # accepts (backlog) and never answers
        s.bind(("127.0.0.1", port))
        s.listen()
        # The handshake's wait is bounded by the exec's deadline: its
        # command time plus the request deadline (twice the timeout).
        with pytest.raises(TimedOut, match=f"^exec in pod p: API server at "
                                           f"http://127.0.0.1:{port} timed out after 0.9 s$"):
            source.exec_in_pod("default", "p", NC, timeout=0.3)


def test_token_sent_never_shown(server, pod, tmp_path):
    path = server.write_kubeconfig(tmp_path / "cfg", context="tok-ctx", namespace="shop")
    config = json.loads(path.read_text())
    config["users"][0]["user"] = {"token": TOKEN}
    path.write_text(json.dumps(config))
    source = KubernetesCluster(kubeconfig=str(path), timeout=2.0)
    assert source.exec_in_pod("shop", pod, ["true"]).exit_code == 0
    headers = {k.lower(): v for k, v in server.requests_for(path="*/exec")[-1].headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    errors = []
    for code in (400, 401, 403, 404, 500, 503):
        server.clear_failures()
        server.fail("*", "*/exec", code, message=f"bad token Bearer {TOKEN} ({code})")
        with pytest.raises(SourceError) as err:
            source.exec_in_pod("shop", pod, NC)
        errors.append(err.value)
    server.clear_failures()
    server.set_exec("shop", None, lambda cmd: (_ for _ in ()).throw(
        ExecFailure(f"runtime said Bearer {TOKEN}")))
    with pytest.raises(SourceError) as err:
        source.exec_in_pod("shop", pod, NC)
    errors.append(err.value)
    for e in errors:
        assert TOKEN not in str(e) and TOKEN not in repr(e)
    assert sum("***" in str(e) for e in errors) >= 5
    source.close()


@pytest.mark.slow
def test_kubectl_exec_agrees(server, pod, cluster, kubectl_bin, tmp_path):
    """The real kubectl (dispatching to 1.32 for this server) execs against
    the same endpoint and reads the same outcomes as the Python client."""
    server.set_exec("shop", None, nc_handler)
    kubectl = kubectl_runner(server, kubectl_bin, tmp_path)
    cases = [NC, ["nc", "-zv", "redis", "6379"], ["curl", "-s", "http://x"]]
    for command in cases:
        server.clear()
        theirs = kubectl("exec", pod, "-n", "shop", "--", *command)
        [their_req] = server.requests_for(path="*/exec")
        ours = cluster.exec_in_pod("shop", pod, command)
        [_, our_req] = server.requests_for(path="*/exec")
        assert their_req.query["command"] == our_req.query["command"] == command
        assert their_req.path == our_req.path and their_req.status == our_req.status == 101
        assert their_req.headers.get("Sec-WebSocket-Protocol") == "v5.channel.k8s.io"
        if ours.missing_executable:
            assert theirs.returncode == 1
            assert "executable file not found in $PATH" in theirs.stderr
        else:
            assert theirs.returncode == ours.exit_code
            assert ours.stderr in theirs.stderr
    # kubectl's own target form resolves the deployment to a pod first.
    result = kubectl("exec", "deployment/payment-api", "-n", "shop", "--", *NC)
    assert result.returncode == 0, result.stderr
    assert "succeeded!" in result.stderr
    # Refused: kubectl shows the API server's words too.
    server.fail("*", "*/exec", 403, message="exec forbidden for dev")
    result = kubectl("exec", pod, "-n", "shop", "--", "true")
    assert result.returncode != 0 and "exec forbidden for dev" in result.stderr
