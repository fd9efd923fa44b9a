"""What the cluster sees (issue 17): the downstream Service's endpoints,
Warning events folded by reason, the NetworkPolicies on the caller ->
downstream path, each feeding NEXT; read on the tests' API server, whose
new objects the real kubectl reads too."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from console.diagnosis.gather import gather
from console.ui.keys import MITIGATION_KEYS as KEYS  # the keys the pane names
from console.model.fleet import BreakerState, InstanceStatus, ServiceStatus
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.kube import KubernetesCluster
from tests.kubeobjects import add_event, add_network_policy, add_service
from tests.kubeserver import KubeServer, kubectl_runner


pytestmark = pytest.mark.integration

NS = "shop"
READINESS = "Readiness probe failed: HTTP probe failed with statuscode: 503"
DENY_EGRESS = {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"]}


@pytest.fixture
def kube():
    with KubeServer(auto_step=False) as server:
        server.add_deployment("payment-api", NS, replicas=3)
        server.add_deployment("api", NS, replicas=2)
        add_service(server, "payment-api", NS)
        yield server


@pytest.fixture
def cluster(kube, tmp_path):
    # No test here waits for the timeout: generous, as a loaded 2-core
    # machine once took longer than 2 s to answer a pod list.
    source = KubernetesCluster(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace=NS)), timeout=10.0)
    yield source
    source.close()


def broken(kube) -> list[dict]:
    """payment-api's three pods failing readiness, 4 times each, as the kubelet reports it."""
    pods = kube.pods(NS, "payment-api")
    for p in pods:
        kube.scale_pod_ready(NS, p["metadata"]["name"], False)
    for p in kube.pods(NS, "payment-api"):
        add_event(kube, NS, p, "Unhealthy", READINESS, count=4)
    add_network_policy(kube, NS, "deny-egress", DENY_EGRESS)
    return pods


def diagnose(cluster, **entry):
    target = ServiceMap({"payment-api": ServiceEntry(**entry)}, namespace=NS).target(
        "payment-api")
    now = datetime.now(timezone.utc)
    breaker = ServiceStatus(service="payment-api", instances=(InstanceStatus(
        instance="api-1", state=BreakerState.OPEN, since=now - timedelta(minutes=2)),))
    return gather(target, cluster=cluster, probe=None, flags=None, breaker=breaker, now=now)


def test_real_kubectl_reads_the_servers_endpoints_events_and_policies(kube, kubectl_bin,
                                                                        tmp_path):
    pods = broken(kube)
    kubectl = kubectl_runner(kube, kubectl_bin, tmp_path, namespace=NS)
    got = kubectl("get", "endpointslices,endpoints,events,networkpolicies", "-n", NS)
    assert got.returncode == 0, got.stderr
    assert "endpointslice.discovery.k8s.io/payment-api-slice" in got.stdout
    assert "endpoints/payment-api" in got.stdout
    assert "networkpolicy.networking.k8s.io/deny-egress" in got.stdout
    assert got.stdout.count("event/payment-api-") == 3
    pod = kubectl("describe", "pod", pods[0]["metadata"]["name"], "-n", NS)
    assert pod.returncode == 0, pod.stderr
    assert re.search(r"Warning\s+Unhealthy\s+\S+ \(x4 over 5m\S*\)\s+kubelet", pod.stdout), \
        pod.stdout
    assert READINESS in pod.stdout
    policy = kubectl("describe", "networkpolicy", "deny-egress", "-n", NS)
    assert "Selected pods are isolated for egress connectivity" in policy.stdout
    assert "Policy Types: Egress" in policy.stdout
    ep = kubectl("get", "endpoints", "payment-api", "-n", NS, "-o",
                 "jsonpath={.subsets[0].notReadyAddresses[*].ip}")
    assert len(ep.stdout.split()) == 3, ep.stdout


def test_zero_ready_endpoints_readiness_events_and_egress_policy_feed_next(kube, cluster):
    broken(kube)
    kube.clear()
    d = diagnosis = diagnose(cluster, health_url="http://payment-api:8080/health")
    seen = diagnosis.cluster
    assert (seen.endpoints.ready, seen.endpoints.total, seen.endpoints.source) == (
        0, 3, "EndpointSlices")
    [unhealthy] = seen.warnings
    assert (unhealthy.reason, unhealthy.count, unhealthy.message) == ("Unhealthy", 12, READINESS)
    assert len(unhealthy.objects) == 3
    assert [p.policy.name for p in seen.policies] == ["deny-egress"]
    assert seen.blocks == ("NetworkPolicy deny-egress (Egress, selects api's pods) blocks "
                           "api → payment-api port 8080: no egress rule allows it",)
    text = d.next_step.text(KEYS)
    assert text.startswith("NetworkPolicy deny-egress (Egress")
    assert "payment-api has 0/3 ready endpoints" in text and "(probable cause)" in text
    assert f"Unhealthy ×12: {READINESS}" in text
    assert (d.next_step.option, d.next_step.mitigation) == (2, "restart")
    # EndpointSlices by the Service's label, Warning events only: as kubectl asks.
    [slices] = kube.requests_for("GET", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices")
    assert slices.query["labelSelector"] == ["kubernetes.io/service-name=payment-api"]
    [events] = kube.requests_for("GET", "/api/v1/namespaces/shop/events")
    assert events.query["fieldSelector"] == ["type=Warning"]


def test_endpoints_read_from_v1_endpoints_when_slices_are_not_served(kube, cluster):
    kube.fail("GET", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices", 404,
              message="the server could not find the requested resource")
    seen = diagnose(cluster).cluster
    assert (seen.endpoints.ready, seen.endpoints.not_ready, seen.endpoints.source) == (
        3, 0, "Endpoints")
    assert not seen.no_ready_endpoint


def test_an_allowing_rule_is_no_block_and_ingress_denial_is(kube, cluster):
    add_network_policy(kube, NS, "api-out", {
        "podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "payment-api"}}}],
                    "ports": [{"protocol": "TCP", "port": 8080}]}]})
    add_network_policy(kube, NS, "payment-in", {
        "podSelector": {"matchLabels": {"app": "payment-api"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    d = diagnose(cluster, health_url="http://payment-api:8080/health")
    assert {p.policy.name: p.selects for p in d.cluster.policies} == {
        "api-out": ("caller",), "payment-in": ("downstream",)}
    assert d.cluster.blocks == ("NetworkPolicy payment-in (Ingress, selects payment-api's pods) "
                                "blocks api → payment-api port 8080: no ingress rule allows it",)


def test_oomkilled_last_state_and_backoff_fold_newest_first(kube, cluster):
    [pod, *_] = kube.pods(NS, "payment-api")
    name = pod["metadata"]["name"]
    with kube._lock:  # the kubelet's status after an OOM kill
        stored = kube._objects["pods"][(NS, name)]
        stored["status"]["containerStatuses"][0].update(restartCount=5, lastState={
            "terminated": {"exitCode": 137, "reason": "OOMKilled",
                           "startedAt": "2026-11-27T08:50:00Z",
                           "finishedAt": "2026-11-27T08:55:00Z",
                           "containerID": "containerd://abc"}})
    add_event(kube, NS, pod, "BackOff", "Back-off restarting failed container app in pod "
              f"{name}_shop(uid)", count=7)
    seen = diagnose(cluster).cluster
    assert [(w.reason, w.count) for w in seen.warnings] == [("BackOff", 7), ("OOMKilled", 1)]
    assert "OOMKilled (exit code 137), 5 restarts" in seen.warnings[1].message


def test_a_refused_read_names_the_verb_and_resource_and_the_rest_carries_on(kube, cluster):
    broken(kube)
    for path in ("/api/v1/namespaces/shop/events",
                 "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"):
        kube.fail("GET", path, 403, message="access denied")
    d = diagnose(cluster)
    seen = d.cluster
    assert 'needs verb list on resource events in namespace "shop"' in seen.warnings_error
    assert "needs verb list on resource networkpolicies" in seen.policies_error
    assert seen.endpoints.ready == 0  # read all the same
    assert d.downstream.deployment is not None
    assert "0/3 ready endpoints" in d.next_step.text(KEYS)


@pytest.mark.slow
async def test_the_pane_shows_what_the_cluster_sees(kube, make_app):
    from tests.screen import diagnose as press_g, left_pane

    broken(kube)
    app = make_app()
    async with app.run_test(size=(220, 80)) as pilot:
        await press_g(app, pilot)
        pane = left_pane(app)
    assert ("endpoints of service/payment-api 0/3 ready (3 not ready) from EndpointSlices "
            "PROBABLE CAUSE") in pane, pane
    assert f"Unhealthy ×12 pod/payment-api-" in pane and READINESS in pane
    assert "deny-egress (Egress) selects api" in pane
    assert "BLOCKS NetworkPolicy deny-egress (Egress, selects api's pods) blocks api → " \
        "payment-api" in pane
    assert "NEXT Option 2: NetworkPolicy deny-egress" in pane, pane
    # Runbook Diagnosis 1-5, each with where it runs.
    for step in ("1 affected service: the board, from Prometheus (this host)",
                 "2 health: HEALTH from this host + from inside a caller pod (exec)",
                 "3 recent changes: rollout history from the API server + git log on this host",
                 "4 error patterns: log tails from the API server",
                 "5 dependencies: nc (host:port), curl / wget (URL) from inside a downstream pod (exec)"):
        assert step in pane, pane
    # The runbook's `kubectl exec api-pod -- curl`, beside the host's HEALTH line.
    assert "from inside pod/api-" in pane and "not checked: neither curl nor wget is in " \
        "the image of api-" in pane


def test_the_demo_cluster_answers_plausibly():
    from console.clock import FakeClock
    from console.demo import DemoFleet, demo_service_map

    clock = FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc))
    fleet = DemoFleet(clock=clock)
    clock.advance(90)
    d = gather(demo_service_map().target("payment-api"), cluster=fleet.cluster,
               probe=fleet.probe, flags=fleet.flags,
               breaker=fleet.poll().service("payment-api"), now=clock())
    seen = d.cluster
    # Slow answers fail a probe now and then; the pods stay ready behind the Service.
    assert (seen.endpoints.ready, seen.endpoints.total) == (3, 3)
    [unhealthy] = seen.warnings
    assert unhealthy.reason == "Unhealthy" and unhealthy.count == 3 * 4
    assert unhealthy.message.startswith("Readiness probe failed: Get \"http://10.244.")
    assert [p.policy.name for p in seen.policies] == ["default-deny-ingress", "allow-from-api"]
    assert seen.blocks == ()  # the allow rule lets api through
    assert d.next_step.text(KEYS).startswith("roll back deployment/payment-api first")


# --- check from inside (runbook Diagnosis 2) ----------------------------------------

def _tools(*present):
    """An image holding only `present`: curl answering 503 in 0.25 s, BusyBox
    wget printing the status line as it does with -S."""
    from tests.kubeserver import not_found

    def run(command):
        if command[0] not in present:
            raise not_found(command)
        if command[0] == "curl":
            return 0, "503 0.250000", ""
        return 1, "", "  HTTP/1.1 200 OK\n  Content-Type: application/json\n"
    return run


@pytest.mark.parametrize("present, said", [
    (("curl", "wget"), ("curl", 503, 250.0, None)),
    (("wget",), ("wget", 200, None, None)),
    ((), (None, None, None, "neither curl nor wget is in the image of {pod}")),
])
def test_health_from_inside_a_caller_pod_with_what_the_image_has(kube, cluster, present, said):
    kube.set_exec(NS, None, _tools(*present))
    d = diagnose(cluster, health_url="http://payment-api:8080/health")
    check = d.inside
    callers = {p["metadata"]["name"] for p in kube.pods(NS, "api")}
    assert check.pod in callers
    assert (check.tool, check.status, check.latency_ms, check.error) == (
        *said[:3], said[3] and said[3].format(pod=check.pod))
    ran = [r.query["command"] for r in kube.requests_for(path=f"*/pods/{check.pod}/exec")]
    assert ran[0] == ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                      "--max-time", "3", "http://payment-api:8080/health"]
    if "curl" not in present:
        assert ran[1] == ["wget", "-q", "-S", "-O", "/dev/null", "-T", "3",
                          "http://payment-api:8080/health"]


def test_a_tls_failure_inside_is_said_in_plain_words(kube, cluster):
    kube.set_exec(NS, None, lambda command: (
        60, "000 0.010000", "curl: (60) SSL certificate problem: unable to get local issuer "
        "certificate\n"))
    check = diagnose(cluster, health_url="https://payment-api:8443/health").inside
    assert check.status is None and check.tool == "curl"
    assert check.error == ("TLS: certificate from an unknown authority (not trusted) "
                           "(curl: (60) SSL certificate problem: unable to get local "
                           "issuer certificate)")
