"""diagnosis.gather() against the demo fleet and against the test API server
with a local health endpoint; next_step() branch by branch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map
from console.diagnosis.decide import next_step
from console.ui.keys import MITIGATION_KEYS as KEYS  # the keys the pane names
from console.diagnosis.findings import LOG_LINES, NO_HEALTH_URL, RevisionView, WorkloadView
from console.diagnosis.gather import gather
from console.model.kubectl import RolloutStatus
from console.model.fleet import (
    BreakerState,
    Flag,
    InstanceStatus,
    Pod,
    Revision,
    ServiceStatus,
)
from console.model.probe import HealthResult
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.kube import KubernetesCluster
from console.sources.probe import HttpProbe
from tests.healthserver import HealthServer
from tests.kubeserver import KubeServer

#: The keys the console binds to the mitigations (the next step names them).

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
S = BreakerState


# --- next_step ---------------------------------------------------------------------

TARGET = ServiceMap(namespace="shop").target("payment-api")
OPENED = T0 - timedelta(minutes=10)


def health(status: int | None, error: str | None = None, probed: bool = True) -> HealthResult:
    return HealthResult(url="http://payment-api:8080/health", checked_at=T0, status=status,
                        error=error, probed=probed)


def pod(name: str = "payment-api-1", ready: bool = True) -> Pod:
    return Pod(namespace="shop", name=name, ready=ready, created_at=T0 - timedelta(days=1))


def view(role: str = "downstream", name: str = "payment-api", *, failed: bool = False,
         pods: tuple[Pod, ...] = (), revisions: tuple[RevisionView, ...] = ()) -> WorkloadView:
    rollout = RolloutStatus(done=not failed, failed=failed, message="exceeded its progress "
                            "deadline" if failed else "successfully rolled out", progress=1.0)
    return WorkloadView(role=role, name=name, rollout=rollout, pods=pods, revisions=revisions)


def rev(n: int, ago: timedelta, likely: bool, current: bool = True) -> RevisionView:
    r = Revision(revision=n, replicaset=f"payment-api-{n}", created_at=OPENED - ago)
    return RevisionView(revision=r, current=current, likely_cause=likely)


def decide(*, state=S.OPEN, open_for=timedelta(minutes=10), status=200, downstream=None,
           fallback_on=True, flag=None, h=None):
    return next_step(
        TARGET, state=state, open_for=open_for, health=h or health(status),
        downstream=downstream or view(pods=(pod(),)), caller=view("caller", "api"),
        fallback_on=fallback_on, flag=flag, opened_at=OPENED,
    )


def test_closed_breaker_nothing_to_do():
    step = decide(state=S.CLOSED, status=503)
    assert (step.option, step.mitigation) == (None, None)
    assert step.text(KEYS) == "breaker closed: nothing to do"


def test_downstream_unhealthy_restart_downstream():
    step = decide(status=503)
    assert (step.option, step.mitigation) == (2, "restart")
    assert "restart the downstream deployment/payment-api" in step.text(KEYS)
    assert "health 503" in step.text(KEYS)
    assert "Option 3" not in step.text(KEYS) and "Option 4" not in step.text(KEYS)


def test_downstream_unreachable_from_here_is_unknown():
    # No answer to the console's host is not evidence (issue 12).
    step = decide(h=health(None, "connection refused"))
    assert step.option is None and "health unknown from here (connection refused)" in step.text(KEYS)


@pytest.mark.parametrize("downstream", [
    view(failed=True, pods=(pod(),)),
    view(pods=(pod(ready=False), pod("payment-api-2", ready=False))),
], ids=["rollout-failed", "no-pod-ready"])
def test_downstream_rollout_failed_or_no_pod_ready(downstream):
    step = decide(status=200, downstream=downstream)
    assert (step.option, step.mitigation) == (2, "restart")
    assert "restart the downstream deployment/payment-api" in step.text(KEYS)


def test_healthy_but_open_past_five_minutes_restart_caller():
    step = decide(status=200, open_for=timedelta(minutes=6))
    assert (step.option, step.mitigation) == (1, "restart")
    assert "restart the caller deployment/api" in step.text(KEYS)
    assert "6 min" in step.text(KEYS)


def test_healthy_and_recently_opened_waits():
    step = decide(status=200, open_for=timedelta(minutes=2))
    assert (step.option, step.mitigation) == (None, None)
    assert "should close" in step.text(KEYS)
    half = decide(state=S.HALF_OPEN, status=200, open_for=timedelta(minutes=30))
    assert half.option is None and "probing" in half.text(KEYS)


def test_unknown_health_says_so_and_does_not_guess():
    step = decide(h=health(None, NO_HEALTH_URL, probed=False))
    assert (step.option, step.mitigation) == (None, None)
    assert "health unknown" in step.text(KEYS) and NO_HEALTH_URL in step.text(KEYS)


def test_likely_cause_is_rolled_back_first():
    downstream = view(pods=(pod(),), revisions=(rev(13, timedelta(days=2), False, current=False),
                                                rev(14, timedelta(minutes=4), True)))
    step = decide(status=503, downstream=downstream)
    assert (step.option, step.mitigation) == (None, "rollback")
    assert step.text(KEYS).startswith(
        "roll back deployment/payment-api first: revision 14 rolled out 4 min before the "
        "breaker opened, and a restart does not undo a deploy: `kubectl rollout undo "
        "deployment/payment-api -n shop --to-revision=13`. After that: payment-api is failing "
        "(health 503): restart the downstream deployment/payment-api (Option 2, r).")
    assert step.rollbacks == ("kubectl rollout undo deployment/payment-api -n shop "
                              "--to-revision=13",)
    only = view(pods=(pod(),), revisions=(rev(14, timedelta(minutes=4), True),))
    step = decide(status=503, downstream=only)
    assert step.option == 2 and "no earlier revision to roll back to" in step.text(KEYS)
    assert "rolled out" not in decide(status=503).text(KEYS)


def test_fallback_off_mentions_option_3_and_flag_on_option_4():
    on = Flag(name="payment-api-integration", enabled=True)
    step = decide(status=503, fallback_on=False, flag=on)
    assert "Option 3 (f)" in step.text(KEYS) and "Option 4 (d)" in step.text(KEYS)
    assert "payment-api-integration" in step.text(KEYS)
    off = Flag(name="payment-api-integration", enabled=False)
    quiet = decide(status=503, fallback_on=True, flag=off)
    assert "Option 3" not in quiet.text(KEYS) and "Option 4" not in quiet.text(KEYS)
    unknown = decide(status=503, fallback_on=None, flag=None)
    assert "Option 3" not in unknown.text(KEYS)


def test_the_next_step_names_mitigations_and_the_ui_its_keys():
    """The core knows no key letter: the sentence takes the keys it is given
    (the console's bindings), and names none it is not given."""
    on = Flag(name="payment-api-integration", enabled=True)
    step = decide(status=503, fallback_on=False, flag=on)
    assert step.mitigation == "restart"
    rebound = step.text({"restart": "R", "fallback": "F", "flag": "D"})
    assert "deployment/payment-api (Option 2, R)." in rebound
    assert "Option 3 (F) turns on" in rebound and "Option 4 (D) disables" in rebound
    bare = step.text({})
    assert "deployment/payment-api (Option 2)." in bare
    assert "Option 3 turns on" in bare and "Option 4 disables" in bare


# --- gather against the demo fleet -------------------------------------------------


class Recording:
    """A ClusterSource wrapper that records exec calls."""

    def __init__(self, inner) -> None:
        self.inner, self.execs = inner, []
        self.label = inner.label

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def exec_in_pod(self, namespace, pod, command, timeout=5.0):
        self.execs.append((namespace, pod, list(command)))
        return self.inner.exec_in_pod(namespace, pod, command, timeout)


@pytest.fixture
def demo():
    clock = FakeClock(T0)
    fleet = DemoFleet(clock=clock)
    clock.advance(90)
    return fleet, clock


def test_demo_payment_api(demo):
    fleet, clock = demo
    breaker = fleet.poll().service("payment-api")
    assert breaker.state is S.OPEN
    cluster = Recording(fleet.cluster)
    d = gather(demo_service_map().target("payment-api"), cluster=cluster, probe=fleet.probe,
               flags=fleet.flags, breaker=breaker, now=clock())
    assert d.gathered_at == clock()
    assert d.health.status == 503 and d.health.healthy is False
    # Revision 14 went out 4 min before t0; the breaker opened seconds after t0.
    revisions = {r.revision.revision: r for r in d.downstream.revisions}
    assert sorted(revisions) == [12, 13, 14]
    assert revisions[14].current and revisions[14].likely_cause
    assert not any(revisions[n].likely_cause or revisions[n].current for n in (12, 13))
    assert not any(r.likely_cause for r in d.caller.revisions)
    assert d.downstream.rollout.done and d.downstream.error is None and d.caller.error is None
    assert d.downstream.deployment.name == "payment-api" and d.caller.deployment.name == "api"
    assert len(d.downstream.pods) == 3
    # Logs: filtered as the runbook greps, newest first, bounded.
    for workload, keep in ((d.downstream, lambda t: "ERROR" in t),
                           (d.caller, lambda t: "circuit" in t.lower())):
        assert 0 < len(workload.logs) <= LOG_LINES
        assert all(keep(line.text) for line in workload.logs)
        stamps = [line.text.split(" ", 1)[0] for line in workload.logs]
        assert stamps == sorted(stamps, reverse=True)
    assert "connection pool exhausted" in d.downstream.logs[0].text
    assert {line.pod for line in d.downstream.logs} <= {p.name for p in d.downstream.pods}
    # Dependencies: nc from a ready payment-api pod, one argv word each.
    ready = {p.name for p in d.downstream.pods if p.ready}
    assert [(c.address, c.reachable) for c in d.dependencies] == [
        ("postgres:5432", True), ("redis:6379", True)]
    assert all(c.pod in ready and "succeeded" in c.detail for c in d.dependencies)
    assert [cmd for _, pod, cmd in cluster.execs if pod in ready] == [
        ["nc", "-z", "-v", "-w", "2", "postgres", "5432"],
        ["nc", "-z", "-v", "-w", "2", "redis", "6379"]]
    assert {ns for ns, _, _ in cluster.execs} == {"shop"}
    assert d.fallback_on is False
    assert d.flag.enabled is True and d.flag_error is None
    assert d.next_step.text(KEYS).startswith("roll back deployment/payment-api first: revision 14 "
                                       "rolled out")
    assert "--to-revision=13" in d.next_step.text(KEYS)
    assert "After that: payment-api is failing (health 503): restart the downstream " \
        "deployment/payment-api (Option 2, r)" in d.next_step.text(KEYS)


def test_demo_unreachable_dependency_and_missing_tool(demo):
    fleet, clock = demo
    entries = {"payment-api": ServiceEntry(dependencies=["postgres:5433", "ghost-db:5432"])}
    target = ServiceMap(entries, namespace="shop").target("payment-api")
    d = gather(target, cluster=fleet.cluster, probe=fleet.probe, flags=None, breaker=None,
               now=clock())
    refused, unresolved = d.dependencies
    assert refused.reachable is False
    assert refused.detail == "nc: connect to postgres port 5433 (tcp) failed: Connection refused"
    assert unresolved.reachable is False and "ghost-db" in unresolved.detail
    assert d.flag is None and d.flag_error == "no feature-flag service configured"

    class NoNetcat(Recording):
        def exec_in_pod(self, namespace, pod, command, timeout=5.0):
            return self.inner.exec_in_pod(namespace, pod, ["netcat", *command[1:]], timeout)

    d = gather(target, cluster=NoNetcat(fleet.cluster), probe=fleet.probe, flags=None,
               breaker=None, now=clock())
    assert all(c.reachable is None and c.detail.startswith("not checked: nc is not in the image")
               for c in d.dependencies)


def test_demo_without_cluster_or_probe(demo):
    fleet, clock = demo
    target = demo_service_map().target("payment-api").model_copy(update={"health_url": None})
    d = gather(target, cluster=None, probe=fleet.probe, flags=fleet.flags, breaker=None,
               now=clock(), cluster_unavailable="no kubeconfig found")
    assert d.health.error == NO_HEALTH_URL and d.health.healthy is None
    assert d.downstream.error == d.caller.error == "no kubeconfig found"
    assert d.downstream.deployment is None and d.downstream.logs == ()
    assert [(c.reachable, c.detail) for c in d.dependencies] == [
        (None, "not checked: no kubeconfig found")] * 2
    assert d.fallback_on is None
    assert d.next_step.option is None and "health unknown" in d.next_step.text(KEYS)


def test_demo_healthy_service_closed_breaker(demo):
    fleet, clock = demo
    breaker = fleet.poll().service("catalog-svc")
    d = gather(demo_service_map().target("catalog-svc"), cluster=fleet.cluster,
               probe=fleet.probe, flags=fleet.flags, breaker=breaker, now=clock())
    assert d.health.healthy is True and d.dependencies == ()
    assert d.next_step.text(KEYS) == "breaker closed: nothing to do"


# --- gather against the test API server and a real health endpoint -----------------

MARKUP = "[red]x[/red] \x1b[31mboom\x1b[0m [bold]"


@pytest.fixture
def kube():
    with KubeServer(auto_step=False) as server:
        server.add_deployment("payment-api", "shop", replicas=2)
        server.add_deployment("api", "shop", replicas=2, env={"PAYMENT_API_FALLBACK_ENABLED":
                                                              "true"})
        yield server


@pytest.fixture
def kcluster(kube, tmp_path):
    cfg = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
    source = KubernetesCluster(kubeconfig=str(cfg), timeout=2.0)
    yield source
    source.close()


def kube_target(url: str) -> object:
    entries = {"payment-api": ServiceEntry(health_url=f"{url}/health",
                                           dependencies=["postgres:5432", "redis:6379"])}
    return ServiceMap(entries, namespace="shop").target("payment-api")


def open_breaker(since: datetime) -> ServiceStatus:
    return ServiceStatus(service="payment-api", instances=(
        InstanceStatus(instance="api-1", state=S.OPEN, since=since),))


def nc(command):
    if command[0] != "nc":
        raise AssertionError(command)
    if command[-2:] == ["postgres", "5432"]:
        return 0, "", "Connection to postgres (10.96.0.15) 5432 port [tcp/postgresql] succeeded!\n"
    refused = f"nc: connect to {command[-2]} port {command[-1]} (tcp) failed: Connection refused"
    return 1, "", refused + "\n"


def test_kube_healthy_downstream_open_breaker_restart_caller(kube, kcluster):
    down = sorted(p["metadata"]["name"] for p in kube.pods("shop", "payment-api"))
    up = sorted(p["metadata"]["name"] for p in kube.pods("shop", "api"))
    kube.set_log("shop", down[0], "2026-11-27T09:00:01Z INFO fine\n"
                 f"2026-11-27T09:00:03Z ERROR db {MARKUP}\n2026-11-27T09:00:05Z error lower\n")
    kube.set_log("shop", down[1], "2026-11-27T09:00:04.5Z ERROR second pod\n")
    kube.set_log("shop", up[0], "2026-11-27T09:00:02Z Circuit breaker 'payment-api' OPEN\n"
                 "2026-11-27T09:00:06Z unrelated\n")
    kube.set_log("shop", up[1], "2026-11-27T09:00:07Z [WARN] CIRCUIT half-open\n")
    kube.set_exec("shop", None, nc)
    now = datetime.now(timezone.utc)
    with HealthServer() as web:
        d = gather(kube_target(web.url), cluster=kcluster, probe=HttpProbe(timeout=2.0),
                   flags=None, breaker=open_breaker(now - timedelta(minutes=10)), now=now)
        assert web.paths == ["/health"]
    assert d.health.status == 200 and d.health.healthy is True
    assert [(line.pod, line.text) for line in d.downstream.logs] == [
        (down[1], "2026-11-27T09:00:04.5Z ERROR second pod"),
        (down[0], f"2026-11-27T09:00:03Z ERROR db {MARKUP}"),  # verbatim, markup and all
    ]
    assert [line.text for line in d.caller.logs] == [
        "2026-11-27T09:00:07Z [WARN] CIRCUIT half-open",
        "2026-11-27T09:00:02Z Circuit breaker 'payment-api' OPEN"]
    assert [(c.address, c.reachable) for c in d.dependencies] == [
        ("postgres:5432", True), ("redis:6379", False)]
    assert d.dependencies[1].detail == ("nc: connect to redis port 6379 (tcp) failed: "
                                        "Connection refused")
    ready = {p.name for p in d.downstream.pods if p.ready}
    assert d.dependencies[0].pod in ready
    execs = kube.requests_for(path="*/pods/payment-api-*/exec")  # api's pod: the health check
    assert [r.query["command"] for r in execs] == [
        ["nc", "-z", "-v", "-w", "2", "postgres", "5432"],
        ["nc", "-z", "-v", "-w", "2", "redis", "6379"]]
    assert all(r.path.startswith("/api/v1/namespaces/shop/pods/payment-api-") for r in execs)
    # The only revision was created seconds ago: after the breaker opened.
    [revision] = d.downstream.revisions
    assert revision.current and not revision.likely_cause
    assert d.fallback_on is True
    assert (d.next_step.option, d.next_step.mitigation) == (1, "restart")
    assert "restart the caller deployment/api" in d.next_step.text(KEYS)


def test_kube_recent_rollout_is_the_likely_cause(kube, kcluster):
    now = datetime.now(timezone.utc) + timedelta(minutes=3)
    with HealthServer() as web:
        web.status = 503
        d = gather(kube_target(web.url), cluster=kcluster, probe=HttpProbe(timeout=2.0),
                   flags=None, breaker=open_breaker(now), now=now)
    [revision] = d.downstream.revisions
    assert revision.current and revision.likely_cause
    assert d.next_step.option == 2 and "revision 1 rolled out 3 min before" in d.next_step.text(KEYS)


def test_kube_parts_fail_on_their_own(kube, kcluster):
    down = sorted(p["metadata"]["name"] for p in kube.pods("shop", "payment-api"))
    kube.fail("GET", f"*/pods/{down[0]}/log", 403, message="no logs for you")
    kube.fail("GET", "/apis/apps/v1/namespaces/shop/replicasets", 500, message="etcd slow")
    kube.fail("*", "*/exec", 403, message="exec denied")
    kube.set_log("shop", down[1], "2026-11-27T09:00:04Z ERROR still here\n")
    with HealthServer() as web:
        d = gather(kube_target(web.url), cluster=kcluster, probe=HttpProbe(timeout=2.0),
                   flags=None, breaker=None, now=datetime.now(timezone.utc))
    w = d.downstream
    assert w.error.startswith("the API server answered 500: etcd slow")
    assert "also failed: logs of " + down[0] in w.error
    assert w.deployment is not None and len(w.pods) == 2 and w.revisions == ()
    assert [line.text for line in w.logs] == ["2026-11-27T09:00:04Z ERROR still here"]
    for check in d.dependencies:
        assert check.reachable is None
        assert check.detail.startswith("not checked: forbidden: exec denied")
        assert "needs verb create on resource pods/exec" in check.detail
    # Refused once: not asked again for the second dependency.
    assert len(kube.requests_for(path="*/pods/payment-api-*/exec")) == 1


def test_kube_no_ready_pod_is_not_checked(kube, kcluster):
    for p in kube.pods("shop", "payment-api"):
        kube.scale_pod_ready("shop", p["metadata"]["name"], False)
    d = gather(kube_target("http://127.0.0.1:9"), cluster=kcluster, probe=None, flags=None,
               breaker=None, now=datetime.now(timezone.utc))
    assert all(c.reachable is None and c.detail == "not checked: no ready payment-api pod to "
               "check from" for c in d.dependencies)
    assert kube.requests_for(path="*/pods/payment-api-*/exec") == []
    assert d.health.healthy is None  # no probe: unknown, not down
    # No pod ready: the downstream fails whatever the health says.
    assert d.next_step.option == 2 and "no pod ready" in d.next_step.text(KEYS)

