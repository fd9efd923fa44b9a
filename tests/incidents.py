"""The fixed incident of the postmortem tests, recorded through the tracker
and the journal as the console records it, and `cbconsole export` run on it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from console import cli
from console.clock import FakeClock
from console.incident.tracker import IncidentTracker
from console.incident.journal import Journal
from console.model.fleet import Alert, BreakerState, FleetSnapshot, InstanceStatus, Revision
from console.model.fleet import ServiceStatus, Transition
from console.mitigations.recorder import ActionEvent, Stage
from console.model.impact import Impact

T0 = datetime(2025, 1, 2, 10, 15, tzinfo=timezone.utc)  # the alert's activation
O, C, H = BreakerState.OPEN, BreakerState.CLOSED, BreakerState.HALF_OPEN


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fleet(when: float, pods: dict[str, tuple[BreakerState, float]], transitions=(),
          alerts=(), error=None) -> FleetSnapshot:
    status = ServiceStatus(service="payment-api", instances=tuple(
        InstanceStatus(instance=pod, state=state, since=at(since))
        for pod, (state, since) in pods.items()))
    return FleetSnapshot(
        fetched_at=at(when), services=(status,), alerts=tuple(alerts), error=error,
        error_at=at(when) if error else None,
        transitions=tuple(Transition(service="payment-api", instance=pod, from_state=a,
                                     to_state=b, at=at(t)) for pod, a, b, t in transitions))


def record_incident(state_dir: Path, *, resolve: bool = True,
                    prometheus_url: str | None = None) -> Journal:
    """payment-api's breaker opens after a rollout, the on-call engineer
    acknowledges, restarts it, it recovers; root cause: timeouts."""
    clock = FakeClock(at(-0.5))
    journal = Journal.open_or_resume(state_dir, actor="alice", clock=clock)
    source = {"prometheus_url": prometheus_url, "profile": "resilience4j"} if prometheus_url else {}
    tracker = IncidentTracker(journal, source_details=source)
    alert = Alert(name="CircuitBreakerOpen", state="firing", active_at=T0)
    tracker.feed(fleet(-0.49, {"p1": (O, -0.5), "p2": (C, -30)}, [("p1", C, O, -0.5)]))
    tracker.rollout_seen("payment-api", "shop/payment-api", Revision(
        revision=12, replicaset="payment-api-7c9d", change_cause="image payment-api:2.4.0",
        created_at=at(-13)))
    tracker.feed(fleet(0.2, {"p1": (O, -0.5), "p2": (O, 0.1)}, [("p2", C, O, 0.1)],
                       alerts=[alert]))
    clock.now = at(2 + 10 / 60)
    tracker.acknowledge()
    clock.now = at(3)
    note = tracker.note("p99 latency of payment-api at 31 s, timeouts in the api logs")
    down = "Prometheus at http://prometheus:9090 unreachable: connection refused"
    tracker.feed(fleet(4, {"p1": (O, -0.5), "p2": (O, 0.1)}, alerts=[alert], error=down))
    tracker.feed(fleet(4 + 40 / 60, {"p1": (O, -0.5), "p2": (O, 0.1)}, alerts=[alert]))
    restart = dict(action="restart", service="payment-api", target="shop/deployment/payment-api")
    for minute, stage in ((6, Stage.ASKED), (6.1, Stage.CONFIRMED), (6.2, Stage.SENT),
                          (6.5, Stage.SUCCEEDED)):
        journal.record(ActionEvent(at=at(minute), stage=stage, **restart))
    fallback = dict(action="fallback", service="payment-api", target="shop/deployment/api")
    journal.record(ActionEvent(at=at(6.6), stage=Stage.ASKED, **fallback))
    journal.record(ActionEvent(at=at(6.7), stage=Stage.CANCELLED, **fallback))
    tracker.feed(fleet(7.8, {"p1": (H, 7.7), "p2": (H, 7.75)},
                       [("p1", O, H, 7.7), ("p2", O, H, 7.75)], alerts=[alert]))
    tracker.feed(fleet(8.3, {"p1": (C, 8.2), "p2": (C, 8.25)},
                       [("p1", H, C, 8.2), ("p2", H, C, 8.25)]))
    journal.record(ActionEvent(at=at(9), stage=Stage.VERIFIED, details={
        "check": "breaker CLOSED on 2/2 pods"}, **restart))
    tracker.feed(fleet(9.3, {"p1": (C, 8.2), "p2": (C, 8.25)}))  # held 60 s: recovered
    clock.now = at(11)
    tracker.root_cause("Calls to payment-api waited up to 30 s after the 2.4.0 rollout "
                       "exhausted its database pool", "downstream timeout")
    clock.now = at(12)
    tracker.amend_note(note.id, "p99 latency of payment-api at 31 s (30 s timeout + retry)")
    if resolve:
        clock.now = at(16)
        tracker.resolve("payment-api restarted; breaker closed and held")
    return journal


IMPACT = Impact(start=T0, end=at(16), services=("payment-api",), failed=1240.0,
                succeeded=8000.0, rejected=760.0,
                source="http://prometheus:9090 (resilience4j)")


def run_export(argv, capsys, now=at(30)):
    code = cli.export(argv, clock=lambda: now)
    out, err = capsys.readouterr()
    return code, out, err
