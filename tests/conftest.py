"""Shared fixtures. Every test runs with its own config and state dirs and no
CBCONSOLE_* variables, so a developer's own setup never leaks in."""

from __future__ import annotations

import gc
import os
import shutil
import sys

import pytest

from tests.fakes import ScriptedSource, clock, service
from tests.flagserver import CONSOLE_TOKEN, FlagServer
from tests.fxprom import fx_prometheus as _fx_prometheus
from tests.healthserver import Health
from tests.kubeserver import KubeServer


KINDS = ("unit", "ui", "integration")


def pytest_collection_modifyitems(config, items):
    """Every test says what it needs, so that a selection by marker (make
    test-fast) leaves nothing out by accident."""
    unmarked = sorted({item.nodeid.split("::")[0] for item in items
                       if not any(item.get_closest_marker(k) for k in KINDS)})
    if unmarked:
        raise pytest.UsageError(
            "no pytestmark of unit, ui or integration in: " + ", ".join(unmarked))


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    for name in list(os.environ):
        if name.startswith("CBCONSOLE_"):
            monkeypatch.delenv(name)
    from widgets.text import set_zone

    set_zone("UTC")  # a test that showed another zone leaves none behind
    # cli.main sets the GIL and the collector up for a long session (long_session) and
    # cbconsole sets PYDANTIC_DISABLE_PLUGINS: neither outlives the test.
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "-")  # recorded, so undone after the test
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    threshold = gc.get_threshold()
    switch = sys.getswitchinterval()
    yield
    from console import logfile

    logfile.shutdown()  # cli.main logs into the test's state dir: not the next test's
    gc.unfreeze()
    gc.set_threshold(*threshold)
    sys.setswitchinterval(switch)


@pytest.fixture
def kubectl_bin() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not on PATH: these tests check the Kubernetes test server "
                    "against the real kubectl (install kubectl, e.g. google-cloud-sdk's)")
    return path


# --- The console on the Kubernetes, flag and health test servers ---------------------
# (the mitigation keys' tests; a module with a `kube` or `flags` of its own uses that)


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("api", "shop", replicas=2, env={"LOG_LEVEL": "info"})
        server.add_deployment("payment-api", "shop", replicas=2)
        yield server


@pytest.fixture
def flags(monkeypatch):
    server = FlagServer(token=CONSOLE_TOKEN)
    server.put("payment-api-integration", True)
    monkeypatch.setenv("FLAGS_TOKEN", CONSOLE_TOKEN)
    yield server
    server.close()


@pytest.fixture
def health():
    server = Health()
    yield server
    server.close()


@pytest.fixture
def make_app(kube, flags, health, tmp_path):
    # Imported here: a unit test's run need not load the App and the clients.
    from console.ui.app import CBConsoleApp
    from console.mitigations.plan import Mode
    from console.model.servicemap import ServiceEntry, ServiceMap
    from console.sources.flags import HttpFlagService
    from console.sources.kube import KubernetesCluster
    from console.sources.probe import HttpProbe

    made = []

    def make(mode: Mode = Mode.LIVE, **kw) -> CBConsoleApp:
        c = clock()
        cluster = KubernetesCluster(
            kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace="shop")), timeout=2
        )
        flag_service = HttpFlagService(flags.url, token_env="FLAGS_TOKEN", timeout=2)
        smap = ServiceMap(
            {"payment-api": ServiceEntry(health_url=health.url, smoke_url=health.url)},
            namespace="shop",
        )
        source = ScriptedSource(c, [service("payment-api", "open", "open")])
        app = CBConsoleApp(
            source, cluster=cluster, flags=flag_service, probe=HttpProbe(timeout=1),
            service_map=smap, mode=mode, poll_interval=3600, clock=c, **kw,
        )
        made.append((cluster, flag_service))
        return app

    yield make
    for cluster, flag_service in made:
        cluster.close()
        flag_service.close()


@pytest.fixture(scope="module")
def fx_prometheus():
    """The fault tests' real Prometheus (tests/fxprom.py), one per module."""
    yield from _fx_prometheus()


@pytest.fixture
def flagserver():
    """The runbook's flag service holding the flag, enabled (tests.runners' names)."""
    from tests.runners import FLAG, TOKEN

    server = FlagServer(token=TOKEN)
    server.put(FLAG, True)
    yield server
    server.close()


@pytest.fixture
def fproxy(flagserver):
    """A fault proxy in front of the flag service."""
    from tests.faultproxy import FaultProxy

    with FaultProxy("127.0.0.1", flagserver.port) as proxy:
        yield proxy
