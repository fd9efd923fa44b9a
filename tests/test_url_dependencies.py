"""Dependencies given as URLs (runbook Diagnosis 5: `kubectl exec -it
payment-api-pod -- curl -v https://external-api.com/health`): checked from
inside a downstream pod through the exec API, with the image's curl, else
wget, else said. The exec runs on the tests' Kubernetes API server and its
argv is run for real by this host's curl / wget against real HTTPS servers
the test starts (certificates made by openssl: good, expired, another
name's, self-signed). Status, latency and what broke in plain words, in the
pane and in NEXT."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.diagnosis.gather import gather
from console.model.fleet import BreakerState, InstanceStatus, ServiceStatus
from console.model.servicemap import ServiceEntry, ServiceMap, parse_dependency
from console.sources.kube import KubernetesCluster
from console.ui.keys import MITIGATION_KEYS as KEYS
from tests.kubeserver import KubeServer
from tests.screen import open_row_pane
from tests.tlsservers import (
    closed_port, https_server, make_certs, pod_exec, silent_server,
)

pytestmark = pytest.mark.integration

NS = "shop"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def kube():
    with KubeServer(auto_step=False) as server:
        server.add_deployment("payment-api", NS, replicas=2)
        server.add_deployment("api", NS, replicas=1)
        yield server


@pytest.fixture
def cluster(kube, tmp_path):
    source = KubernetesCluster(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace=NS)), timeout=10.0)
    yield source
    source.close()


def diagnose(cluster, *dependencies: str):
    target = ServiceMap({"payment-api": ServiceEntry(dependencies=list(dependencies))},
                        namespace=NS).target("payment-api")
    now = datetime.now(timezone.utc)
    breaker = ServiceStatus(service="payment-api", instances=(InstanceStatus(
        instance="api-1", state=BreakerState.OPEN, since=now - timedelta(minutes=2)),))
    return gather(target, cluster=cluster, probe=None, flags=None, breaker=breaker, now=now)


def test_the_service_map_takes_urls_beside_host_port():
    url = parse_dependency("https://external-api.com/health")
    assert (url.host, url.port, url.url) == ("external-api.com", 443, "https://external-api.com/health")
    assert parse_dependency("payments-db:5432").url is None
    assert parse_dependency("https://u:secret@api.example/h").address == "https://api.example/h"
    with pytest.raises(ValueError, match="nor a URL"):
        parse_dependency("ftp://x")
    with pytest.raises(ValueError, match="port that is not a number"):
        parse_dependency("https://x:abc/")


@pytest.mark.parametrize("tool", ["curl", "wget"])
def test_a_healthy_url_dependency_shows_status_and_latency(kube, cluster, certs, tool):
    kube.set_exec(NS, None, pod_exec(certs, (tool,)))
    with https_server(*certs.pair("good")) as port:
        url = f"https://localhost:{port}/health"
        d = diagnose(cluster, url, "payments-db:5432")
    check, db = d.dependencies
    pods = {p["metadata"]["name"] for p in kube.pods(NS, "payment-api")}
    assert (check.address, check.status, check.tool, check.reachable) == (url, 200, tool, True)
    assert check.pod in pods and not check.failing
    if tool == "curl":
        assert check.latency_ms is not None and check.latency_ms > 0
    # host:port still goes to nc, which this image does not hold: said, not skipped.
    assert db.address == "payments-db:5432" and db.reachable is None
    assert "nc is not in the image" in db.detail
    ran = [r.query["command"] for r in kube.requests_for(path=f"*/pods/{check.pod}/exec")]
    assert [url] in [c[-1:] for c in ran]
    assert "dependency" not in d.next_step.text(KEYS)


CASES = [
    ("expired", "TLS: certificate expired"),
    ("self", "TLS: certificate from an unknown authority (not trusted)"),
    ("other", "TLS: certificate hostname mismatch (issued for another name)"),
]


@pytest.mark.parametrize("tool", ["curl", "wget"])
@pytest.mark.parametrize("cert, words", CASES)
def test_tls_failures_in_plain_words(kube, cluster, certs, tool, cert, words):
    kube.set_exec(NS, None, pod_exec(certs, (tool,)))
    with https_server(*certs.pair(cert)) as port:
        url = f"https://localhost:{port}/health"
        d = diagnose(cluster, url)
    [check] = d.dependencies
    assert (check.reachable, check.status, check.tool) == (False, None, tool)
    assert check.detail.startswith(words + " ("), check.detail
    nxt = d.next_step.text(KEYS)
    assert f"payment-api's dependency {url} fails: {words}" in nxt, nxt
    assert "does not mend it" in nxt


@pytest.mark.parametrize("tool", ["curl", "wget"])
def test_refused_timed_out_and_dns_in_plain_words(kube, cluster, certs, tool):
    kube.set_exec(NS, None, pod_exec(certs, (tool,)))
    refused = f"https://localhost:{closed_port()}/health"
    missing = "https://no-such-host.invalid/health"
    with silent_server() as port:
        hung = f"http://127.0.0.1:{port}/health"
        checks = diagnose(cluster, refused, hung, missing).dependencies
    said = {c.address: c.detail for c in checks}
    assert said[refused].startswith("connection refused"), said
    assert said[hung].startswith("timed out"), said
    assert said[missing].startswith("DNS failure"), said
    assert all(c.reachable is False and c.tool == tool for c in checks)


def test_an_error_status_is_failing_and_feeds_next(kube, cluster, certs):
    kube.set_exec(NS, None, pod_exec(certs))
    with https_server(*certs.pair("good"), status=503) as port:
        url = f"https://localhost:{port}/health"
        d = diagnose(cluster, url)
    [check] = d.dependencies
    assert (check.status, check.reachable, check.failing) == (503, True, True)
    assert f"payment-api's dependency {url} answers 503" in d.next_step.text(KEYS)


def test_an_image_without_curl_or_wget_says_so(kube, cluster, certs):
    kube.set_exec(NS, None, pod_exec(certs, ()))
    [check] = diagnose(cluster, "https://external-api.com/health").dependencies
    assert check.reachable is None and check.tool is None
    assert check.detail == f"not checked: neither curl nor wget is in the image of {check.pod}"
    assert "dependency" not in diagnose(cluster, "https://external-api.com/health") \
        .next_step.text(KEYS)


@pytest.mark.slow
async def test_the_pane_shows_the_url_check_and_next_names_it(kube, certs, tmp_path):
    kube.set_exec(NS, None, pod_exec(certs))
    cluster = KubernetesCluster(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace=NS)), timeout=10)
    with https_server(*certs.pair("expired")) as bad, https_server(*certs.pair("good")) as good:
        urls = [f"https://localhost:{bad}/health", f"https://localhost:{good}/health"]
        service_map = ServiceMap({"payment-api": ServiceEntry(dependencies=urls)},
                                 namespace=NS)
        pane = await open_row_pane(cluster, service_map)
    assert f"{urls[0]} UNREACHABLE from " in pane, pane
    assert "(curl): TLS: certificate expired (curl: (60) SSL certificate problem: " \
           "certificate has expired)" in pane, pane
    assert f"{urls[1]} 200 in " in pane and " OK from " in pane, pane
    nxt = pane[pane.index("NEXT"):pane.index("HEALTH")]
    assert f"payment-api's dependency {urls[0]} fails: TLS: certificate expired" in nxt, nxt
