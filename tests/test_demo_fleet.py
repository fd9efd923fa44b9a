"""The demo fleet: a deterministic story (payment-api breaks, inventory-svc
flaps) and a cluster and flag service that answer the runbook's actions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from console.clock import FakeClock
from console.demo import DemoFleet
from console.model.fleet import BreakerState as S
from console.model.fleet import FleetSnapshot, Transition
from console.sources.base import BreakerSource, ClusterSource, FlagSource, SourceError
from tests.demofleet import FALLBACK_ON, rollout_status, set_env, wait_rollout

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)
NS = "shop"
RESTART = {
    "spec": {
        "template": {
            "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-27T09:00:10Z"}}
        }
    }
}


def make(seed: int = 7) -> tuple[DemoFleet, FakeClock]:
    clock = FakeClock(T0)
    return DemoFleet(seed=seed, clock=clock), clock


def run(fleet: DemoFleet, clock: FakeClock, seconds: float, every: float = 1.0) -> list[FleetSnapshot]:
    snaps = []
    end = clock.now + timedelta(seconds=seconds)
    while clock.now < end:
        clock.advance(min(every, (end - clock.now).total_seconds()))
        snaps.append(fleet.poll())
    return snaps


def transitions(snaps: list[FleetSnapshot], service: str | None = None) -> list[Transition]:
    return [t for s in snaps for t in s.transitions if service in (None, t.service)]


def instances(snap: FleetSnapshot, service: str) -> dict[str, S]:
    return {i.instance: i.state for i in snap.service(service).instances}


# --- the fleet as a source ----------------------------------------------------------


def test_is_all_three_sources():
    fleet, _ = make()
    assert isinstance(fleet, BreakerSource)
    assert isinstance(fleet.cluster, ClusterSource)
    assert isinstance(fleet.flags, FlagSource)
    assert fleet.label == "demo fleet (seed 7)"
    assert fleet.cluster.label == "demo-cluster"
    assert fleet.flags.label == "demo flags"


def test_first_poll_shows_the_whole_fleet_closed():
    fleet, _ = make()
    snap = fleet.poll()
    assert snap.fetched_at == T0
    assert snap.transitions == ()
    assert len(snap.services) == 12
    api_pods = {p.name for p in fleet.cluster.pods(NS, "api")}
    assert set(instances(snap, "payment-api")) == api_pods
    for service in snap.services:
        assert service.split == (3, 3)
        for i in service.instances:
            assert i.state is S.CLOSED and i.reported == (S.CLOSED,)
            assert i.since == T0
            assert i.failure_rate is None  # no sim time yet: unknown, not zero
    assert all(re.fullmatch(r"api-[b-z2-9]{9}-[b-z2-9]{5}", name) for name in api_pods)


def test_rates_are_calls_per_second_over_the_window():
    fleet, clock = make()
    snap = run(fleet, clock, 60)[-1]
    for name in ("user-svc", "catalog-svc", "shipping-quote", "search-svc"):
        for i in snap.service(name).instances:
            assert 7 <= i.success_rate + i.failure_rate <= 13  # 1-3 calls per 0.2 s tick
            assert i.rejected_rate == 0
    shipping = snap.service("shipping-quote")
    assert 0 < shipping.error_percent < 8  # a small base error rate, not zero
    assert snap.service("catalog-svc").error_percent == 0
    payment = snap.service("payment-api")
    assert payment.rejected_rate > 20 and payment.success_rate < 1


@pytest.mark.slow
def test_same_seed_same_snapshots_other_seed_differs():
    a, ca = make(7)
    b, cb = make(7)
    c, cc = make(8)
    sa, sb, sc = run(a, ca, 90, 1.5), run(b, cb, 90, 1.5), run(c, cc, 90, 1.5)
    assert sa == sb
    assert sa != sc
    assert set(instances(sa[-1], "payment-api")) != set(instances(sc[-1], "payment-api"))
    pod = a.cluster.pods(NS, "api")[0].name
    assert a.cluster.logs(NS, pod, 50) == b.cluster.logs(NS, pod, 50)


def test_polling_cadence_does_not_change_the_story():
    often, c1 = make()
    once, c2 = make()
    fine = run(often, c1, 75, 0.3)
    c2.advance(75)
    coarse = once.poll()
    assert coarse.services == fine[-1].services
    assert coarse.transitions == tuple(transitions(fine))


# --- the story --------------------------------------------------------------------------


def test_payment_api_opens_on_every_instance_within_10s():
    fleet, clock = make()
    snaps = run(fleet, clock, 10, 0.5)
    assert all(s.service("payment-api").state is S.CLOSED for s in snaps[:7])  # before t0+4 s
    last = snaps[-1].service("payment-api")
    assert last.state is S.OPEN and last.split == (3, 3)
    opened = transitions(snaps, "payment-api")
    assert {(t.from_state, t.to_state) for t in opened} == {(S.CLOSED, S.OPEN)}
    assert len({t.instance for t in opened}) == 3
    assert all(T0 + timedelta(seconds=4) <= t.at <= T0 + timedelta(seconds=7) for t in opened)
    assert last.recovery_timeout_s == 60
    assert last.next_probe == min(t.at for t in opened) + timedelta(seconds=60)


def test_payment_api_rollout_history_points_at_a_deploy_minutes_before():
    fleet, _ = make()
    history = fleet.cluster.rollout_history(NS, "payment-api")
    assert [r.revision for r in history] == [12, 13, 14]
    latest = history[-1]
    assert T0 - timedelta(minutes=5) <= latest.created_at < T0
    assert "connection pool" in latest.change_cause
    assert all(r.created_at < T0 - timedelta(days=1) for r in history[:-1])
    assert all(r.replicaset.startswith("payment-api-") for r in history)
    pods = fleet.cluster.pods(NS, "payment-api")
    assert all(p.name.startswith(latest.replicaset + "-") for p in pods)


def test_payment_api_failed_probes_reopen_it():
    fleet, clock = make()
    snaps = run(fleet, clock, 150, 2.0)
    payment = transitions(snaps, "payment-api")
    pairs = [(t.from_state, t.to_state) for t in payment]
    assert (S.OPEN, S.HALF_OPEN) in pairs and (S.HALF_OPEN, S.OPEN) in pairs
    assert (S.HALF_OPEN, S.CLOSED) not in pairs
    assert snaps[-1].service("payment-api").split == (3, 3)
    status, latency = fleet.health("payment-api")
    assert status == 503 and latency > 1000


def test_inventory_svc_flaps_through_a_full_cycle_in_the_first_minute():
    fleet, clock = make()
    snaps = run(fleet, clock, 60, 2.0)
    assert snaps[-1].service("inventory-svc").recovery_timeout_s == 10
    cycle = [(S.CLOSED, S.OPEN), (S.OPEN, S.HALF_OPEN), (S.HALF_OPEN, S.CLOSED)]
    by_instance: dict[str, list] = {}
    for t in transitions(snaps, "inventory-svc"):
        by_instance.setdefault(t.instance, []).append((t.from_state, t.to_state))
    assert any(seq[i : i + 3] == cycle for seq in by_instance.values() for i in range(len(seq)))
    # Half-open exactly recovery_timeout after opening.
    flat = transitions(snaps, "inventory-svc")
    for opened, half in zip(flat, flat[1:]):
        if opened.to_state is S.OPEN and half.instance == opened.instance and half.to_state is S.HALF_OPEN:
            assert half.at - opened.at == timedelta(seconds=10)


def test_everything_else_stays_closed():
    fleet, clock = make()
    snaps = run(fleet, clock, 120, 5.0)
    moved = {t.service for t in transitions(snaps)}
    assert moved == {"payment-api", "inventory-svc"}
    for service in snaps[-1].services:
        if service.service not in moved:
            assert service.state is S.CLOSED and service.split == (3, 3)
            assert service.last_transition is None
    assert fleet.health("user-svc")[0] == 200


@pytest.mark.slow
def test_transitions_between_polls_are_all_reported_once_in_order():
    fleet, clock = make()
    fleet.poll()
    snaps = run(fleet, clock, 120, 30.0)
    previous = T0
    for snap in snaps:
        ats = [t.at for t in snap.transitions]
        assert ats == sorted(ats)
        assert all(previous < at <= snap.fetched_at for at in ats)
        previous = snap.fetched_at
    keys = [t.key for t in transitions(snaps)]
    assert len(keys) == len(set(keys))
    # The flaps of one 30 s poll interval are all there: open, half-open, closed.
    first = [(t.from_state, t.to_state) for t in snaps[0].transitions if t.service == "inventory-svc"]
    assert {(S.CLOSED, S.OPEN), (S.OPEN, S.HALF_OPEN), (S.HALF_OPEN, S.CLOSED)} <= set(first)
    # The same as a fleet polled five times a second saw.
    reference, rc = make()
    assert transitions(snaps) == transitions(run(reference, rc, 120, 0.2))
    last = snaps[-1].service("inventory-svc").last_transition
    assert last == transitions(snaps, "inventory-svc")[-1]


# --- mitigations -----------------------------------------------------------------------------


def test_restarting_payment_api_rolls_out_but_keeps_its_bad_revisions_fault():
    """A restart does not undo a bad connection-pool setting (issue 17's
    story): the new pods run revision 14's template and fail as the old did."""
    fleet, clock = make()
    run(fleet, clock, 10)
    old_pods = {p.name for p in fleet.cluster.pods(NS, "payment-api")}
    patched = fleet.cluster.patch_deployment(NS, "payment-api", RESTART, "kubectl-rollout")
    assert rollout_status(patched) == "waiting for spec update"
    assert patched.template_annotations["kubectl.kubernetes.io/restartedAt"] == "2026-11-27T09:00:10Z"

    statuses = wait_rollout(fleet, clock, "payment-api", limit=30)
    assert "updating" in statuses and "old replicas terminating" in statuses
    assert statuses.index("updating") < statuses.index("old replicas terminating")
    assert len(statuses) * 0.5 >= 10  # new pods take a while to be ready

    history = fleet.cluster.rollout_history(NS, "payment-api")
    assert history[-1].revision == 15
    assert T0 + timedelta(seconds=10) <= history[-1].created_at <= T0 + timedelta(seconds=11)
    pods = fleet.cluster.pods(NS, "payment-api")
    assert len(pods) == 3 and all(p.ready for p in pods)
    assert not old_pods & {p.name for p in pods}
    assert all(p.name.startswith(history[-1].replicaset + "-") for p in pods)
    d = fleet.cluster.deployment(NS, "payment-api")
    assert (d.updated_replicas, d.available_replicas, d.status_replicas) == (3, 3, 3)
    assert d.observed_generation == d.generation
    assert d.containers[0].env["DB_POOL_MAX_SIZE"] == "10"
    assert fleet.health("payment-api")[0] == 503
    new_pod = pods[0].name
    assert any("connection pool exhausted" in line for line in fleet.cluster.logs(NS, new_pod, 50))

    snaps = run(fleet, clock, 60 + 10)
    assert snaps[-1].service("payment-api").state is not S.CLOSED
    assert not [t for t in transitions(snaps, "payment-api") if t.to_state is S.CLOSED]


def test_a_fault_not_from_a_revision_is_cleared_by_a_restart():
    """A fault living in the running pods (no revision's setting behind it):
    the restarted pods are healthy and the breakers recover, as before."""
    from dataclasses import replace

    from console.demo.topology import DOWNSTREAMS

    plain = tuple(replace(d, fault=replace(d.fault, revision_env=())) if d.fault else d
                  for d in DOWNSTREAMS)
    clock = FakeClock(T0)
    fleet = DemoFleet(seed=7, clock=clock, downstreams=plain)
    run(fleet, clock, 10)
    assert fleet.health("payment-api")[0] == 503
    fleet.cluster.patch_deployment(NS, "payment-api", RESTART, "kubectl-rollout")
    wait_rollout(fleet, clock, "payment-api", limit=30)
    done_at = clock.now
    assert fleet.health("payment-api")[0] == 200

    snaps = run(fleet, clock, 60 + 10)
    payment = snaps[-1].service("payment-api")
    assert payment.state is S.CLOSED and payment.split == (3, 3)
    recovered = [t for t in transitions(snaps, "payment-api") if t.to_state is S.CLOSED]
    assert len(recovered) == 3 and all(t.from_state is S.HALF_OPEN for t in recovered)
    assert all(t.at <= done_at + timedelta(seconds=60) for t in recovered)


def test_fallback_on_the_caller_closes_payment_api_breakers():
    fleet, clock = make()
    run(fleet, clock, 10)
    old = set(instances(fleet.poll(), "payment-api"))
    fleet.cluster.patch_deployment(NS, "api", FALLBACK_ON, "kubectl-set")
    wait_rollout(fleet, clock, "api")
    env = fleet.cluster.deployment(NS, "api").containers[0].env
    assert env["PAYMENT_API_FALLBACK_ENABLED"] == "true" and env["PAYMENT_API_FALLBACK_MODE"] == "mock"

    snaps = run(fleet, clock, 90, 5.0)  # payment-api itself is still broken
    for snap in snaps:
        payment = snap.service("payment-api")
        assert payment.state is S.CLOSED and payment.split == (3, 3)
        assert not old & set(instances(snap, "payment-api"))
    assert fleet.health("payment-api")[0] == 503
    assert snaps[-1].service("payment-api").success_rate > 20
    pod = fleet.cluster.pods(NS, "api")[0].name
    assert any("fallback" in line for line in fleet.cluster.logs(NS, pod, 20))

    # Turning it off again: real calls, and the breakers open again.
    off = set_env({"$patch": "delete", "name": "PAYMENT_API_FALLBACK_ENABLED"})
    fleet.cluster.patch_deployment(NS, "api", off, "kubectl-set")
    assert "PAYMENT_API_FALLBACK_ENABLED" not in fleet.cluster.deployment(NS, "api").containers[0].env
    wait_rollout(fleet, clock, "api")
    assert run(fleet, clock, 5)[-1].service("payment-api").split == (3, 3)
    assert fleet.poll().service("payment-api").state is S.OPEN


def test_identical_env_patch_makes_no_new_revision():
    fleet, clock = make()
    first = fleet.cluster.rollout_history(NS, "api")
    fleet.cluster.patch_deployment(NS, "api", FALLBACK_ON, "kubectl-set")
    wait_rollout(fleet, clock, "api")
    assert len(fleet.cluster.rollout_history(NS, "api")) == len(first) + 1
    before = fleet.cluster.deployment(NS, "api")
    revisions = fleet.cluster.rollout_history(NS, "api")
    pods = fleet.cluster.pods(NS, "api")
    after = fleet.cluster.patch_deployment(NS, "api", FALLBACK_ON, "kubectl-set")
    assert after.generation == before.generation
    clock.advance(20)
    assert fleet.cluster.rollout_history(NS, "api") == revisions
    assert [p.name for p in fleet.cluster.pods(NS, "api")] == [p.name for p in pods]


def test_disabling_the_flag_stops_the_calls():
    fleet, clock = make()
    run(fleet, clock, 10)
    flag = fleet.flags.set_flag("payment-api-integration", False)
    assert not flag.enabled and flag.updated_at == clock.now
    assert fleet.flags.get_flag("payment-api-integration") == flag
    assert fleet.flags.get_flag("user-svc-integration").enabled
    snap = run(fleet, clock, 31)[-1]
    payment = snap.service("payment-api")
    assert payment.failure_rate == payment.success_rate == payment.rejected_rate == 0
    assert payment.error_percent is None
    assert snap.service("user-svc").success_rate > 20  # only that integration stopped
    # The timer still half-opens the breakers; no probe ever comes.
    snap = run(fleet, clock, 40)[-1]
    assert {i.state for i in snap.service("payment-api").instances} == {S.HALF_OPEN}
    fleet.flags.set_flag("payment-api-integration", True)
    snap = run(fleet, clock, 3)[-1]
    assert snap.service("payment-api").state is S.OPEN  # probes fail: still broken


def test_restarting_the_caller_replaces_its_breaker_instances():
    fleet, clock = make()
    first = run(fleet, clock, 10)[-1]
    old = set(instances(first, "payment-api"))
    fleet.cluster.patch_deployment(NS, "api", RESTART, "kubectl-rollout")
    statuses = wait_rollout(fleet, clock, "api")
    assert statuses[0] == "waiting for spec update"
    snap = fleet.poll()
    new_pods = {p.name for p in fleet.cluster.pods(NS, "api")}
    for service in ("payment-api", "user-svc", "catalog-svc", "fraud-check"):
        assert set(instances(snap, service)) == new_pods
    assert not old & new_pods
    assert all(i.since > T0 + timedelta(seconds=10) for i in snap.service("user-svc").instances)
    # Fresh breakers start closed; payment-api still fails, so they re-open fast.
    snaps = [snap, *run(fleet, clock, 5)]
    reopened = [t for t in transitions(snaps, "payment-api") if t.instance in new_pods]
    assert {(t.from_state, t.to_state) for t in reopened} == {(S.CLOSED, S.OPEN)}
    assert {t.instance for t in reopened} == new_pods
    assert snaps[-1].service("payment-api").split == (3, 3)
    assert snaps[-1].service("payment-api").state is S.OPEN


def test_a_paused_deployment_stores_the_patch_but_does_not_roll_out():
    fleet, clock = make()
    assert fleet.cluster.set_paused(NS, "api", True).paused
    pods = [p.name for p in fleet.cluster.pods(NS, "api")]
    history = fleet.cluster.rollout_history(NS, "api")
    patched = fleet.cluster.patch_deployment(NS, "api", RESTART, "kubectl-rollout")
    assert "kubectl.kubernetes.io/restartedAt" in patched.template_annotations
    clock.advance(30)
    assert [p.name for p in fleet.cluster.pods(NS, "api")] == pods
    assert fleet.cluster.rollout_history(NS, "api") == history
    assert rollout_status(fleet.cluster.deployment(NS, "api")) == "updating"
    fleet.cluster.set_paused(NS, "api", False)
    wait_rollout(fleet, clock, "api")
    assert not {p.name for p in fleet.cluster.pods(NS, "api")} & set(pods)


# --- the cluster's answers -----------------------------------------------------------------


def test_deployments_for_every_caller_and_downstream():
    fleet, _ = make()
    for name in ("api", "checkout", "orders-worker", "web-frontend", "payment-api", "auth-svc"):
        d = fleet.cluster.deployment(NS, name)
        assert d.replicas == d.ready_replicas == d.available_replicas == d.updated_replicas == 3
        assert d.selector == {"app": name}
        assert [c.name for c in d.containers] == ["app"]
        assert d.containers[0].env["LOG_LEVEL"] == "info"
        assert rollout_status(d) == "done"
        pods = fleet.cluster.pods(NS, name)
        assert len(pods) == 3 and all(p.ready and p.created_at < T0 for p in pods)


def test_logs_tell_the_story_oldest_first():
    fleet, clock = make()
    run(fleet, clock, 12)
    api = fleet.cluster.pods(NS, "api")[0].name
    lines = fleet.cluster.logs(NS, api, 200)
    stamps = [line.split(" ", 1)[0] for line in lines]
    assert stamps == sorted(stamps)  # oldest first
    assert any(
        "[ERROR] Circuit breaker 'payment-api' is OPEN - rejecting request" in line for line in lines
    )
    assert any("state changed: CLOSED -> OPEN" in line for line in lines)
    assert len(fleet.cluster.logs(NS, api, 3)) == 3
    assert fleet.cluster.logs(NS, api, 3) == lines[-3:]
    assert fleet.cluster.logs(NS, api, 0) == []
    assert fleet.cluster.logs(NS, api, 10_000) == fleet.cluster.logs(NS, api, -1) == lines
    assert "Starting api" in lines[0]
    payment = fleet.cluster.pods(NS, "payment-api")[0].name
    errors = [line for line in fleet.cluster.logs(NS, payment, 100) if "ERROR" in line]
    assert errors and all("connection pool exhausted" in line for line in errors)
    user = fleet.cluster.pods(NS, "user-svc")[0].name
    assert not [line for line in fleet.cluster.logs(NS, user, 100) if "ERROR" in line]


def test_unknown_names_raise_source_errors():
    fleet, _ = make()
    with pytest.raises(SourceError, match='deployments.apps "nope" not found'):
        fleet.cluster.deployment(NS, "nope")
    with pytest.raises(SourceError, match='deployments.apps "nope" not found'):
        fleet.cluster.patch_deployment(NS, "nope", RESTART, "kubectl-rollout")
    with pytest.raises(SourceError, match='deployments.apps "nope" not found'):
        fleet.cluster.rollout_history(NS, "nope")
    with pytest.raises(SourceError, match='namespaces "default" not found'):
        fleet.cluster.pods("default", "api")
    with pytest.raises(SourceError, match='pods "api-xyz" not found'):
        fleet.cluster.logs(NS, "api-xyz")
    with pytest.raises(SourceError, match='flag "nope" not found'):
        fleet.flags.get_flag("nope")
    with pytest.raises(SourceError, match='flag "nope" not found'):
        fleet.flags.set_flag("nope", False)
    with pytest.raises(SourceError):
        fleet.health("nope")


def test_patches_the_demo_cannot_apply_are_refused_and_change_nothing():
    fleet, _ = make()
    before = fleet.cluster.deployment(NS, "api")
    with pytest.raises(SourceError, match="spec.replicas"):
        fleet.cluster.patch_deployment(NS, "api", {"spec": {"replicas": 5}}, "x")
    with pytest.raises(SourceError, match="sidecar"):
        bad = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "env": []}]}}}}
        fleet.cluster.patch_deployment(NS, "api", bad, "x")
    assert fleet.cluster.deployment(NS, "api") == before
