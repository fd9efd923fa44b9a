"""The interactive login, on a real terminal: cbconsole runs in a detached
tmux pane against the Kubernetes API test server, with the tests' exec plugin
in the mode that asks for a code (tests/execplugin.py, $KS_PROMPT). The prompt
comes on the plain terminal before the screen; while the screen is up the
plugin never gets the terminal; L suspends the screen for it and comes back."""

from __future__ import annotations

import json
import shlex
import time

import pytest

from tests.kubeserver import PLUGIN, KubeServer, TokenAuthority
from tests.promserver import StubPrometheus, fleet_handler
from tests.tmux import CBCONSOLE, Terminal

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CODE = "314159"
HEADER_OK = 'cluster: test-ctx (exec plugin "execplugin.py", expires in'
PROMPT = "MFA code:"




def wait_until(check, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)
    return found


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("s0", "shop", replicas=2)
        server.require_tokens(ttl=600)
        yield server


@pytest.fixture
def prometheus():
    stub = StubPrometheus(fleet_handler(1))
    yield stub
    stub.stop()


@pytest.fixture
def console(kube, prometheus, tmp_path):
    """cbconsole on a terminal; yields (terminal, the plugin's runs)."""
    log = tmp_path / "plugin-runs.jsonl"
    log.touch()
    spec = {"apiVersion": "client.authentication.k8s.io/v1", "command": str(PLUGIN),
            "interactiveMode": "IfAvailable",
            "env": [{"name": "KS_URL", "value": kube.url}, {"name": "KS_LOG", "value": str(log)},
                    {"name": "KS_PROMPT", "value": "MFA code"}, {"name": "KS_CODE", "value": CODE}]}
    cfg = kube.write_kubeconfig(tmp_path / "kc", namespace="shop", exec_plugin=spec)
    argv = [str(CBCONSOLE), "--prometheus", prometheus.url, "--no-config",
            "--state-dir", str(tmp_path / "state")]
    script = tmp_path / "run.sh"
    script.write_text(
        f"export KUBECONFIG={shlex.quote(str(cfg))} HOME={shlex.quote(str(tmp_path))}\n"
        "unset COLUMNS LINES\n"  # the terminal's own size, not the test run's
        # Ctrl-C reaches the whole foreground group: the shell stays (as an
        # operator's would) to say how cbconsole exited; its children get
        # the default SIGINT (a trap with a command is not inherited).
        "trap : INT\n"
        f"cd {shlex.quote(str(tmp_path))}\n"
        f"{shlex.join(argv)}\n"
        'echo "[cbconsole exited $?]"\n'
        "sleep 3600\n")
    terminal = Terminal(script)

    def runs() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines() if line]

    try:
        yield terminal, runs
    finally:
        terminal.close()


def api_requests(kube: KubeServer) -> list:
    return [r for r in kube.requests_for() if r.path.startswith(("/api/", "/apis/"))]


def read_with(kube: KubeServer, token: str) -> bool:
    return any(r.status == 200 and r.token == token and r.token_live for r in api_requests(kube))


def quit_console(terminal: Terminal) -> str:
    terminal.keys("q")
    text = terminal.wait_for(lambda t: "[cbconsole exited" in t, "cbconsole exiting")
    assert "[cbconsole exited 0]" in text, text
    assert "Traceback" not in text, text
    return text


def test_the_login_prompts_before_the_screen_and_L_logs_in_again_after_expiry(console, kube):
    terminal, runs = console
    # The prompt is on the plain terminal, the board not up yet.
    text = terminal.wait_for(lambda t: PROMPT in t, "the plugin's prompt")
    assert "SERVICE" not in text and "cluster:" not in text, text
    assert 'logging in to context "test-ctx" with exec plugin "execplugin.py"' in text, text
    [first] = runs()
    assert first["info"]["spec"]["interactive"] is True and first["stdin_tty"]
    terminal.type(CODE)
    terminal.keys("Enter")
    terminal.wait_for(lambda t: HEADER_OK in t and "s0" in t, "the board with the credentials")
    terminal.keys("g")  # the diagnosis reads the cluster with the token of the login
    wait_until(lambda: read_with(kube, TokenAuthority.token_name(1)), "a read with the token")

    kube.auth.revoke_all()  # the token dies mid-incident; the plugin now needs the code
    terminal.keys("g")
    text = terminal.wait_for(
        lambda t: 'credentials for context "test-ctx" expired: press L to log in' in t,
        "the header asking for L")
    assert CODE not in text
    in_screen = runs()[1:]
    assert len(in_screen) == 1, in_screen
    assert in_screen[0]["info"]["spec"]["interactive"] is False
    assert not in_screen[0]["stdin_tty"] and not in_screen[0]["stdin_open"]

    terminal.keys("L")  # the screen is suspended: the prompt is on the plain terminal
    terminal.wait_for(lambda t: t.count('logging in to context "test-ctx"') == 2
                      and t.endswith(PROMPT), "the prompt of the L login")
    login = runs()[2]
    assert login["info"]["spec"]["interactive"] is True and login["stdin_tty"]
    terminal.type(CODE)
    terminal.keys("Enter")
    terminal.wait_for(lambda t: HEADER_OK in t and "logged in" in t, "the screen back, logged in")
    # L's login diagnoses again: the reads succeed with the new token.
    wait_until(lambda: read_with(kube, TokenAuthority.token_name(2)), "a read with the new token")
    assert len(runs()) == 3
    quit_console(terminal)


def test_a_cancelled_login_starts_the_console_saying_why_and_L_logs_in(console, kube):
    terminal, runs = console
    terminal.wait_for(lambda t: PROMPT in t, "the plugin's prompt")
    terminal.keys("C-c")
    text = terminal.wait_for(
        lambda t: 'credentials for context "test-ctx" not obtained: press L to log in' in t,
        "the board saying the credentials are missing")
    assert "Traceback" not in text
    assert api_requests(kube) == []  # nothing sent without a token
    terminal.keys("L")
    terminal.wait_for(lambda t: t.endswith(PROMPT)
                      and t.count('logging in to context "test-ctx"') == 2,
                      "the prompt of the L login")
    terminal.type(CODE)
    terminal.keys("Enter")
    terminal.wait_for(lambda t: HEADER_OK in t, "the screen back, logged in")
    wait_until(lambda: read_with(kube, TokenAuthority.token_name(1)), "a read with the token")
    text = quit_console(terminal)
    # Said plainly before the screen took over (the terminal shows it again after).
    assert ('cbconsole: credentials of context "test-ctx": login with exec plugin '
            '"execplugin.py" cancelled (Ctrl-C): the console starts without them; '
            "press L in the console to log in again") in text, text
    assert [run["info"]["spec"]["interactive"] for run in runs()] == [True, True]
