"""Credentials that expire mid-incident: cbconsole runs the kubeconfig's exec
plugin itself, against the Kubernetes API test server accepting only the
short-lived tokens of the plugin the tests ship (tests/execplugin.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.sources.base import SourceError
from console.sources.kube import KubernetesCluster
from tests.kubeserver import KubeServer, Plugin

pytestmark = pytest.mark.integration


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("api", "shop", replicas=2)
        yield server


def connect(kube: KubeServer, tmp_path: Path, **auth) -> tuple[KubernetesCluster, Plugin]:
    authority = kube.require_tokens(**auth)
    plugin = Plugin(kube, tmp_path)
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", context="hidden",
                                exec_plugin=plugin.spec)
    cluster = KubernetesCluster(kubeconfig=str(cfg), timeout=5, clock=authority.now)
    return cluster, plugin


def api_requests(kube: KubeServer) -> list:
    return [r for r in kube.requests_for() if r.path.startswith(("/api/", "/apis/"))]


@pytest.mark.slow
def test_20s_tokens_run_the_plugin_once_per_token_life_never_interactive(kube, tmp_path):
    cluster, plugin = connect(kube, tmp_path, ttl=20)
    try:
        for _ in range(50):  # 80 s of the authority's time, a read every 1.6 s
            assert cluster.deployment("shop", "api").name == "api"
            kube.auth.advance(1.6)
    finally:
        cluster.close()
    sent = api_requests(kube)
    assert len(sent) == 50
    assert all(r.token_live for r in sent), [r for r in sent if not r.token_live]
    runs = plugin.runs()
    # A token is renewed a few seconds before it expires: 80 s / ~15 s.
    assert 4 <= len(runs) <= 7, len(runs)
    assert all(run["info"]["spec"]["interactive"] is False for run in runs)
    assert not any(run["stdin_tty"] or run["stdin_open"] for run in runs)


def test_no_expiry_and_a_revocation_the_next_read_runs_the_plugin_and_succeeds(kube, tmp_path):
    cluster, plugin = connect(kube, tmp_path, ttl=20, expiry=False, revoke_after=30)
    try:
        cluster.deployment("shop", "api")
        kube.auth.advance(31)  # revoked; the client had no expiry to go by
        assert len(cluster.pods("shop", "api")) == 2
    finally:
        cluster.close()
    assert len(plugin.runs()) == 2
    statuses = [r.status for r in api_requests(kube)]
    assert statuses == [200, 401, 200, 200], statuses


def test_a_refused_fresh_token_is_an_error_naming_context_and_plugin(kube, tmp_path):
    cluster, plugin = connect(kube, tmp_path, ttl=20, expiry=False, revoke_after=-1)
    try:
        with pytest.raises(SourceError) as caught:
            cluster.deployment("shop", "api")
    finally:
        cluster.close()
    words = str(caught.value)
    assert 'context "hidden"' in words and 'exec plugin "execplugin.py"' in words, words
    assert "plugin-token" not in words
    assert len(api_requests(kube)) == 2  # sent again once, not more
    assert len(plugin.runs()) == 2


def test_a_failing_plugin_is_a_plain_error(kube, tmp_path):
    cluster, plugin = connect(kube, tmp_path, ttl=20)
    kube.auth.fail_plugin = "the refresh token has expired"
    try:
        with pytest.raises(SourceError) as caught:
            cluster.deployment("shop", "api")
        state = cluster.credential_state()
    finally:
        cluster.close()
    words = str(caught.value)
    assert words.startswith('credentials of context "hidden": exec plugin "execplugin.py" '
                            "failed (exit 1): error: login failed: the refresh token has expired")
    assert "Traceback" not in words
    assert "failed (exit 1)" in state.words(0)
    assert api_requests(kube) == []


@pytest.mark.slow
def test_pod_exec_and_log_read_after_a_refresh(kube, tmp_path):
    pod = kube.pods("shop", "api")[0]["metadata"]["name"]
    kube.set_log("shop", pod, "one\ntwo\n")
    cluster, plugin = connect(kube, tmp_path, ttl=20)
    try:
        assert cluster.logs("shop", pod) == ["one", "two"]
        kube.auth.advance(25)  # the first token has expired
        assert cluster.exec_in_pod("shop", pod, ["true"]).exit_code == 0
        assert cluster.logs("shop", pod) == ["one", "two"]
        kube.auth.revoke_all()  # and now revoked early: exec sees a 401 first
        assert cluster.exec_in_pod("shop", pod, ["true"]).exit_code == 0
        kube.auth.revoke_all()
        assert cluster.logs("shop", pod) == ["one", "two"]
    finally:
        cluster.close()
    accepted = [r for r in api_requests(kube) if r.status != 401]
    assert len(accepted) == 5 and all(r.token_live for r in accepted)
    assert len(plugin.runs()) == 4


@pytest.mark.slow
def test_with_a_terminal_the_plugin_still_gets_no_terminal(kube, tmp_path):
    """The console runs with stdout a TTY; the plugin must not see it."""
    import os
    import pty
    import subprocess
    import sys

    kube.require_tokens(ttl=600)
    plugin = Plugin(kube, tmp_path)
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", exec_plugin=plugin.spec)
    child = ("import sys; from console.sources.kube import KubernetesCluster as K; "
             f"print(K(kubeconfig={str(cfg)!r}, timeout=5).deployment('shop', 'api').name)")
    main, sub = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", child], stdin=sub, stdout=sub, stderr=sub,
                              cwd=Path(__file__).parent.parent, timeout=60, check=False)
    finally:
        os.close(sub)
        os.close(main)
    assert done.returncode == 0
    runs = plugin.runs()
    assert len(runs) == 1
    assert runs[0]["info"]["spec"]["interactive"] is False
    assert not runs[0]["stdin_tty"]


LOGIN_CHILD = """
from console.sources.base import SourceError
from console.sources.kube import KubernetesCluster
cluster = KubernetesCluster(kubeconfig={cfg!r}, timeout=5)
try:
    cluster.login()
except SourceError as error:
    print("refused:", error)
else:
    print("read:", cluster.deployment("shop", "api").name)
"""


@pytest.mark.parametrize("mode, terminal, interactive", [
    ("IfAvailable", True, True), ("IfAvailable", False, False), ("Never", True, False),
    ("Always", True, True), (None, True, True)])
def test_the_login_on_the_terminal_follows_interactive_mode(kube, tmp_path, mode, terminal,
                                                            interactive):
    """As client-go: the terminal's stdin and interactive:true only when
    stdin is a terminal and interactiveMode is not Never (none: IfAvailable)."""
    import os
    import pty
    import subprocess
    import sys

    kube.require_tokens(ttl=600)
    plugin = Plugin(kube, tmp_path)
    if mode is None:
        del plugin.spec["interactiveMode"]
    else:
        plugin.spec["interactiveMode"] = mode
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", exec_plugin=plugin.spec)
    main, sub = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", LOGIN_CHILD.format(cfg=str(cfg))],
                              stdin=sub if terminal else subprocess.DEVNULL,
                              capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                              timeout=60, check=False)
    finally:
        os.close(sub)
        os.close(main)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "read: api", done.stdout
    [run] = plugin.runs()  # the login's token serves the read after it
    assert run["info"]["spec"]["interactive"] is interactive
    assert run["stdin_tty"] is interactive


def test_interactive_mode_always_without_a_terminal_is_refused_plainly(kube, tmp_path):
    import subprocess
    import sys

    kube.require_tokens(ttl=600)
    plugin = Plugin(kube, tmp_path)
    plugin.spec["interactiveMode"] = "Always"
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", exec_plugin=plugin.spec)
    done = subprocess.run([sys.executable, "-c", LOGIN_CHILD.format(cfg=str(cfg))],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, timeout=60, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == (
        'refused: credentials of context "test-ctx": exec plugin "execplugin.py" needs a '
        "terminal (interactiveMode: Always) and standard input is not one"), done.stdout
    assert plugin.runs() == []


def test_a_plugin_that_needs_input_fails_plainly_without_a_terminal(kube, tmp_path):
    """No terminal was ever there (no login offered): the plugin's own words,
    and no run ever got stdin."""
    cluster, plugin = connect(kube, tmp_path, ttl=20)
    plugin.spec["env"].append({"name": "KS_PROMPT", "value": "MFA code"})
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", context="hidden",
                                exec_plugin=plugin.spec)
    cluster.close()
    cluster = KubernetesCluster(kubeconfig=str(cfg), timeout=5, clock=kube.auth.now)
    try:
        for _ in range(2):
            with pytest.raises(SourceError) as caught:
                cluster.deployment("shop", "api")
            assert "press L" not in str(caught.value)
            assert "MFA code needed: run me interactively" in str(caught.value)
    finally:
        cluster.close()
    runs = plugin.runs()
    assert len(runs) == 2  # tried again on the next read: nothing else can help it
    assert not any(run["info"]["spec"]["interactive"] or run["stdin_tty"] for run in runs)
