"""Security: the bearer tokens never leave the request headers (screen, logs,
journal, exports, exception messages); --read-only and a read-only kube
context send no mutating request whatever is pressed; TLS verification is on
by default for every client, and switching it off is explicit and shown in
the header for as long as the console runs."""

from __future__ import annotations

import json
import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from console import arguments, cli
from console.ui.app import CBConsoleApp
from console.config import load_config
from console.incident.tracker import IncidentTracker
from console.incident.journal import Journal
from console.model.fleet import BreakerState as S
from console.mitigations.plan import Mode
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.base import SourceError
from console.sources.flags import HttpFlagService
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from console.sources.prometheus.auth import PrometheusAuth
from console.sources.prometheus.source import PrometheusSource
from console.sources.prometheus.http import PromClient
from console.sources.prometheus.impact import prometheus_details
from tests.fakes import ScriptedSource, clock, service
from tests.flagserver import FlagServer
from tests.kubeserver import KubeServer
from tests.screen import flat, keep_notifications, quiesce, screen_lines, screen_text, settle
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.integration]

PROM_TOKEN = "prom-SECRET-7c1e9a0b3f"
FLAG_TOKEN = "flag-SECRET-44b2d0e1aa"
MUTATING = ("PATCH", "POST", "PUT", "DELETE")


class StubPrometheus:
    """Just enough of the Prometheus API for one OPEN breaker, checking the
    Authorization header; `status` makes every answer that status, with a
    body echoing the header back (as a careless proxy would)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.status = 200
        self.authorizations: list[str | None] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                stub._answer(self)

            def do_POST(self):
                stub._answer(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        form = parse_qs(h.rfile.read(length).decode()) if length else {}
        query = {**parse_qs(urlsplit(h.path).query), **form}
        auth = h.headers.get("Authorization")
        self.authorizations.append(auth)
        path = urlsplit(h.path).path
        if self.status == 0:  # gone: the connection drops without an answer
            h.close_connection = True
            return
        if self.status != 200 or auth != f"Bearer {self.token}":
            status = self.status if self.status != 200 else 401
            body = {"status": "error", "errorType": "internal",
                    "error": f"rejected Authorization: {auth}"}
            return self._send(h, status, body)
        promql = (query.get("query") or [""])[0]
        if path.endswith("/query"):
            result = []
            if "circuit_breaker_state" in promql:
                result = [{"metric": {"service": "payment-api", "pod": "payment-api-0",
                                      "state": s}, "value": [0, "1" if s == "open" else "0"]}
                          for s in ("closed", "open", "half_open")]
            elif "rate(" in promql:
                result = [{"metric": {"service": "payment-api", "pod": "payment-api-0"},
                           "value": [0, "1.5"]}]
            data = {"resultType": "vector", "result": result}
        elif path.endswith("/query_range"):
            data = {"resultType": "matrix", "result": []}
        elif path.endswith("/rules"):
            data = {"groups": []}
        elif path.endswith("/buildinfo"):
            data = {"version": "2.53.0"}
        else:
            data = {}
        self._send(h, 200, {"status": "success", "data": data})

    @staticmethod
    def _send(h, status: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def prom():
    stub = StubPrometheus(PROM_TOKEN)
    yield stub
    stub.close()


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("api", "shop", replicas=1)
        server.add_deployment("payment-api", "shop", replicas=1)
        yield server


@pytest.fixture
def flags():
    server = FlagServer(token=FLAG_TOKEN)
    server.put("payment-api-integration", True)
    yield server
    server.close()


def leaks(text: str) -> list[str]:
    return [name for name, token in (("Prometheus token", PROM_TOKEN), ("flag token", FLAG_TOKEN))
            if token in text]


# --- Tokens -------------------------------------------------------------------------------


@pytest.mark.slow
async def test_tokens_appear_nowhere(prom, kube, flags, tmp_path, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CBCONSOLE_PROMETHEUS_TOKEN", PROM_TOKEN)
    monkeypatch.setenv("CBCONSOLE_FLAGS_TOKEN", FLAG_TOKEN)
    config = load_config(overrides={"prometheus": {"url": prom.url}, "flags": {"url": flags.url}})
    assert config.prometheus.auth.bearer_token_env == "CBCONSOLE_PROMETHEUS_TOKEN"
    seen: list[str] = [repr(config), config.model_dump_json()]

    source = PrometheusSource(config.prometheus.url, auth=config.prometheus.auth,
                              backfill_minutes=5, timeout=2)
    flag_service, why = cli.connect_flags(config)
    assert flag_service is not None, why
    cluster = KubernetesCluster(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace="shop")), timeout=2)
    state = tmp_path / "state"
    tracker = IncidentTracker(Journal.open_or_resume(state, actor="oncall"),
                              source_details=prometheus_details(source))
    app = CBConsoleApp(source, cluster=cluster, flags=flag_service,
                       service_map=ServiceMap({}, namespace="shop"), tracker=tracker,
                       export_dir=tmp_path / "exports", poll_interval=3600)
    app.mitigations.runner.verify_timeout_s = 0.2
    seen += [repr(source), repr(flag_service)]

    async def press(*keys: str) -> None:
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
            seen.append(screen_text(app))

    async def poll() -> None:
        app.poller.start()
        await settle(app, pilot)
        seen.append(screen_text(app))

    try:
        shown = keep_notifications(app)
        async with app.run_test(size=(150, 40), notifications=True) as pilot:
            await settle(app, pilot)
            seen.append(screen_text(app))
            assert "payment-api" in screen_text(app)
            assert f"Bearer {PROM_TOKEN}" in prom.authorizations  # it was used
            await press("a", "2", "4")
            await press("d")
            assert isinstance(app.screen, ConfirmDialog)
            await press("y")  # the POST carries the token
            assert flags.of("POST")[-1].headers["Authorization"] == f"Bearer {FLAG_TOKEN}"
            await press("d")  # re-enable, answered 500 with the header echoed
            assert isinstance(app.screen, ConfirmDialog)
            flags.fail(500, f"echo Bearer {FLAG_TOKEN}", times=1)  # the POST's answer
            await press("y")
            assert "answered 500: echo Bearer ***" in flat(screen_text(app))
            await press("r", "x", "escape", "3")
            for status in (401, 403, 500):  # Prometheus refuses, or echoes the header
                prom.status = status
                await poll()
            assert "refused the credentials" in flat(seen[-2])
            prom.status = 200
            await poll()
            await press("e", "n")
            seen.append(screen_text(app))  # the note prompt
            await press("escape")
            prom.status = 0  # unreachable
            await poll()
            assert "unreachable" in flat(screen_text(app))
            flags.close()
            await press("d")
            seen.append(" ".join(shown))
            await quiesce(app, pilot)
    finally:
        cluster.close()
        flag_service.close()
        tracker.journal.close()
    seen += [json.dumps(e.model_dump(mode="json")) for e in app.mitigations.recorder.events]
    seen += [str(app.poller.state.error), repr(app.diagnosis.errors)]

    # The exception messages, straight from the sources.
    answering = StubPrometheus(PROM_TOKEN)
    try:
        answering.status = 500
        direct = PrometheusSource(answering.url, auth=config.prometheus.auth, timeout=2)
        with pytest.raises(SourceError) as raised:
            direct.poll()
        seen += [str(raised.value), repr(raised.value)]
        assert "***" in str(raised.value)  # the echo was there, and redacted
    finally:
        answering.close()
    echoing = FlagServer(token=FLAG_TOKEN)
    try:
        echoing.put("f", True)
        with HttpFlagService(echoing.url, token_env="CBCONSOLE_FLAGS_TOKEN") as direct_flags:
            for status in (401, 403, 500):
                echoing.fail(status, f"you sent Bearer {FLAG_TOKEN}", times=1)
                with pytest.raises(SourceError) as raised:
                    direct_flags.set_flag("f", False)
                seen += [str(raised.value), repr(raised.value)]
        assert "***" in seen[-1]
    finally:
        echoing.close()

    # `cbconsole export`, markdown and JSON, to files (the impact query goes
    # to the Prometheus the incident recorded, now gone).
    for fmt in ("md", "json"):
        out = tmp_path / f"postmortem.{fmt}"
        assert cli.export(["--state-dir", str(state), "--format", fmt, "-o", str(out)]) == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "kc"]
    assert any(p.parent.name == "exports" for p in files), "the e key wrote no export"
    assert sum(p.suffix in (".md", ".json") for p in files) >= 3
    for path in files:
        seen.append(path.read_text(errors="replace"))
    captured = capsys.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    for i, text in enumerate(seen):
        assert not leaks(text), f"{leaks(text)} in item {i}: {text[:300]!r}"


# --- Read-only ------------------------------------------------------------------------


@pytest.mark.slow
async def test_read_only_sends_no_mutating_request_whatever_is_pressed(kube, flags, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("FLAGS_TOKEN", FLAG_TOKEN)
    c = clock()
    cluster = KubernetesCluster(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace="shop")), timeout=2)
    flag_service = HttpFlagService(flags.url, token_env="FLAGS_TOKEN", timeout=2)
    smap = ServiceMap({"payment-api": ServiceEntry(smoke_url=flags.url + "/health")},
                      namespace="shop")
    tracker = IncidentTracker(Journal.open_or_resume(tmp_path / "state", clock=c))
    app = CBConsoleApp(ScriptedSource(c, [service("payment-api", "open"), service("ok-svc")]),
                       cluster=cluster, flags=flag_service, service_map=smap, tracker=tracker,
                       mode=Mode.READ_ONLY, poll_interval=3600, clock=c,
                       export_dir=tmp_path / "exports")
    shown = keep_notifications(app)
    try:
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await settle(app, pilot)
            for key in ("r", "y", "f", "y", "d", "y", "enter", "s", "y", "g", "p",
                        "down", "r", "y", "f", "y", "d", "y"):
                await pilot.press(key)
                await settle(app, pilot)
                assert not (isinstance(app.screen, ConfirmDialog) and app.screen.plan.mutating)
            assert "READ-ONLY" in screen_text(app).splitlines()[0]
            refusals = [message for message in shown if "refused" in message]
            assert len(refusals) >= 3 and all("nothing sent" in r for r in refusals)
            await quiesce(app, pilot)
    finally:
        cluster.close()
        flag_service.close()
        tracker.journal.close()
    sent = [r for r in kube.requests_for() if r.method in MUTATING]
    sent += [r for r in flags.requests if r.method in MUTATING]
    assert sent == []
    assert kube.requests_for(), "the cluster was never read: the test proves nothing"


def test_a_context_marked_read_only_in_the_config_resolves_to_read_only(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("dry_run = true\n[contexts.prod]\nread_only = true\n"
                    "[contexts.staging]\nread_only = false\n")
    config = load_config(path)
    assert config.is_read_only("prod") and not config.is_read_only("staging")
    assert cli.resolve_mode(config, "prod") == Mode.READ_ONLY  # wins over dry_run
    assert cli.resolve_mode(config, "staging") == Mode.DRY_RUN
    assert cli.resolve_mode(config, None) == Mode.DRY_RUN
    assert cli.resolve_mode(load_config(tmp_path / "config.toml",
                                        overrides={"read_only": True}), "x") == Mode.READ_ONLY
    assert cli.resolve_mode(load_config(env={}), "prod") == Mode.LIVE  # no config: live


@pytest.fixture
def captured_app(monkeypatch):
    """cli.main builds the app; run() hands it back here instead of running."""
    built = []
    monkeypatch.setattr(CBConsoleApp, "run", lambda self, *a, **k: built.append(self))
    return built


@pytest.mark.parametrize("context, mode", [("prod", Mode.READ_ONLY), ("staging", Mode.LIVE)])
def test_cli_opens_a_read_only_context_read_only(kube, prom, tmp_path, monkeypatch,
                                                 captured_app, context, mode):
    config = tmp_path / "config.toml"
    config.write_text("[contexts.prod]\nread_only = true\n")
    monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kc", context=context)))
    code = cli.main(["--prometheus", prom.url, "--config", str(config), "--context", context,
                     "--state-dir", str(tmp_path / "state")])
    assert code == 0
    (app,) = captured_app
    assert app.diagnosis.cluster is not None and app.diagnosis.cluster.label == context
    assert app.mitigations.mode == mode
    assert app.mitigations.runner.mode == mode
    app.diagnosis.cluster.close()


# --- TLS --------------------------------------------------------------------------------


def test_tls_verification_is_on_by_default_for_every_client(tmp_path):
    config = load_config(env={})
    assert config.prometheus.auth.insecure_skip_verify is False
    assert config.flags.insecure_skip_verify is False
    assert PrometheusAuth().verify is True
    client = PromClient("https://prom.example:9090")
    assert client._session.verify is True
    client.close()
    source = PrometheusSource("https://prom.example:9090")
    assert source._client._session.verify is True and "tls" not in source._notices
    source.close()
    with HttpFlagService("https://flags.example") as flag_service:
        context = flag_service._client._transport._pool._ssl_context
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    probe = HttpProbe()
    assert probe.verify is True
    with probe._client() as http:
        context = http._transport._pool._ssl_context
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # The cluster client does what the kubeconfig says.
    for name, insecure in (("verified", False), ("insecure", True)):
        cluster_entry = {"server": "https://127.0.0.1:6443"}
        if insecure:
            cluster_entry["insecure-skip-tls-verify"] = True
        kubeconfig = tmp_path / f"kc-{name}"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": cluster_entry}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "u"}}]}))
        cluster = KubernetesCluster(kubeconfig=str(kubeconfig))
        assert cluster._api.client.configuration.verify_ssl is (not insecure)
        assert cluster.verify_tls is (not insecure)
        assert cli.tls_warnings(config, cluster) == (
            ("TLS verification OFF for the cluster insecure (kubeconfig)",) if insecure else ())
        cluster.close()
    assert cli.tls_warnings(config) == ()


def test_switching_verification_off_is_explicit_and_named(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[flags]\nurl = "https://admin:pw@flags.example"\n'
                    "insecure_skip_verify = true\n")
    args = arguments.build_parser().parse_args(
        ["--prometheus", "https://user:hunter2@prom.example", "--prometheus-insecure"])
    config = load_config(path, overrides=arguments.overrides(args), env={})
    assert config.prometheus.auth.verify is False
    source = PrometheusSource(config.prometheus.url, auth=config.prometheus.auth)
    assert source._client._session.verify is False
    source.close()
    flag_service, why = cli.connect_flags(config)
    assert flag_service is not None, why
    assert flag_service._client._transport._pool._ssl_context.verify_mode == ssl.CERT_NONE
    flag_service.close()
    warnings = cli.tls_warnings(config)
    assert warnings == ("TLS verification OFF for Prometheus https://prom.example",
                        "TLS verification OFF for the flag service https://flags.example")
    assert not any("hunter2" in w or "pw@" in w for w in warnings)


def test_cli_passes_the_tls_warning_to_the_header(tmp_path, monkeypatch, captured_app):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    for insecure in (True, False):
        argv = ["--prometheus", "https://prom.example", "--state-dir", str(tmp_path / "s")]
        assert cli.main(argv + ["--prometheus-insecure"] * insecure) == 0
        app = captured_app.pop()
        assert app.views.warnings == (("TLS verification OFF for Prometheus https://prom.example",)
                                if insecure else ())
        app.poller.source.close()


@pytest.mark.slow
async def test_the_header_shows_the_tls_warning_in_bold_yellow():
    warning = "TLS verification OFF for Prometheus https://prom.example"
    for warnings in ((warning,), ()):
        c = clock()
        app = CBConsoleApp(ScriptedSource(c, [service("payment-api", S.OPEN)]),
                           warnings=warnings, poll_interval=3600, clock=c)
        async with app.run_test(size=(140, 30)) as pilot:
            await settle(app, pilot)
            header = "\n".join(screen_text(app).splitlines()[:3])
            if not warnings:
                assert "TLS" not in header
                continue
            assert warning in header
            styles = [seg.style for line in screen_lines(app) for seg in line
                      if "TLS verification OFF" in seg.text]
            assert styles and all(s.bold for s in styles)
            color = styles[0].color.get_truecolor()
            assert color.red > 150 and color.green > 150 and color.blue < 100, color  # yellow
            # It stays: still there after polls and when the source fails.
            app.poller.source.error = SourceError("down")
            app.poller.start()
            await settle(app, pilot)
            assert warning in screen_text(app)
