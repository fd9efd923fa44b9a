"""IncidentTracker on scripted polls: what it records by itself, and the
operator's events and response clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.clock import FakeClock
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import EventKind, Journal, JournalError, NoOpenIncident
from console.model.fleet import Alert, BreakerState, FleetSnapshot, InstanceStatus, Observed, Revision
from console.model.fleet import ServiceStatus, Transition

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 2, 10, 15, tzinfo=timezone.utc)
O, C, H = BreakerState.OPEN, BreakerState.CLOSED, BreakerState.HALF_OPEN


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def svc(name: str, state: BreakerState, since: float | None = None) -> ServiceStatus:
    return ServiceStatus(service=name, instances=(InstanceStatus(
        instance="p1", state=state, since=at(since) if since is not None else None),))


def tr(name: str, old: BreakerState, new: BreakerState, when: float,
       observed: Observed = Observed.LIVE) -> Transition:
    return Transition(service=name, instance="p1", from_state=old, to_state=new, at=at(when),
                      observed=observed)


def snap(when: float, services=(), transitions=(), alerts=(), error=None) -> FleetSnapshot:
    return FleetSnapshot(fetched_at=at(when), services=tuple(services),
                         transitions=tuple(transitions), alerts=tuple(alerts), error=error,
                         error_at=at(when) if error else None)


def firing(active: float | None, service: str | None = None) -> Alert:
    return Alert(name="CircuitBreakerOpen", state="firing", service=service,
                 active_at=at(active) if active is not None else None)


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def journal(tmp_path, clock):
    j = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    yield j
    j.close()


def kinds(events) -> list[str]:
    return [e.kind.value for e in events]


def test_open_time_is_the_alerts_active_at_when_present(journal):
    tracker = IncidentTracker(journal, TrackerConfig(open_on_breaker=False))
    assert tracker.feed(snap(2, [svc("payment-api", O, 0)], [tr("payment-api", C, O, 0)])) == []
    out = tracker.feed(snap(300, [svc("payment-api", O, 0)], alerts=[firing(1, "payment-api")]))
    assert kinds(out) == ["incident_opened", "breaker_transition"]  # the lead-up kept
    opened = out[0]
    assert opened.at == at(1) and opened.service == "payment-api"
    assert opened.details["alert_active_at"] == at(1).isoformat()
    assert opened.details["opened_by"] == "alert" and opened.details["severity"] == "P0"
    assert out[1].at == at(0) and out[1].details["to"] == "open"
    assert tracker.services == ["payment-api"]


def test_open_time_is_the_first_open_transition_without_an_alert(journal):
    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("orders", C, None)]))
    out = tracker.feed(snap(3, [svc("orders", O, 2.5)], [tr("orders", C, O, 2.5)]))
    assert kinds(out) == ["incident_opened", "breaker_transition"]
    assert out[0].at == at(2.5) and out[0].details["opened_by"] == "breaker"
    assert out[0].details["alert_active_at"] is None
    # The alert arrives later: recorded once, and the clock counts from it.
    out = tracker.feed(snap(10, [svc("orders", O, 2.5)], alerts=[firing(2.6)]))
    assert kinds(out) == ["alert_fired"] and out[0].at == at(2.6)
    assert tracker.feed(snap(12, [svc("orders", O, 2.5)], alerts=[firing(2.6)])) == []
    assert tracker.response_clock(at(12)).started_at == at(2.6)


def test_a_breaker_opening_during_the_incident_joins_it_and_split_takes_it_out(journal):
    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("a", O, 0), svc("b", C)], [tr("a", C, O, 0)]))
    out = tracker.feed(snap(5, [svc("a", O, 0), svc("b", O, 4)], [tr("b", C, O, 4)]))
    assert kinds(out) == ["service_joined", "breaker_transition"]
    assert out[0].service == "b" and out[0].at == at(4)
    assert tracker.services == ["a", "b"]
    tracker.split("b", reason="separate database problem")
    assert tracker.services == ["a"]
    # Its transitions are no longer this incident's (but its own incident's),
    # and it does not rejoin.
    before = len(journal.events)
    out = tracker.feed(snap(7, [svc("a", O, 0), svc("b", O, 6)], [tr("b", H, O, 6)]))
    assert len(journal.events) == before and tracker.services == ["a"]
    assert out == list(tracker.for_service("b").journal.events[-1:])
    with pytest.raises(JournalError):
        tracker.split("b")


def test_recovered_only_after_closed_has_held(journal):
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=60))
    tracker.feed(snap(1, [svc("a", O, 0)], [tr("a", C, O, 0)]))
    out = tracker.feed(snap(70, [svc("a", H, 60)], [tr("a", O, H, 60)]))
    assert kinds(out) == ["breaker_transition"]
    tracker.feed(snap(75, [svc("a", C, 72)], [tr("a", H, C, 72)]))
    assert tracker.feed(snap(120, [svc("a", C, 72)])) == []  # 48 s: not yet
    out = tracker.feed(snap(132, [svc("a", C, 72)]))
    assert kinds(out) == ["service_recovered"]
    assert out[0].at == at(72) and out[0].details["held_s"] == 60.0
    assert tracker.feed(snap(200, [svc("a", C, 72)])) == []  # once
    # It relapses, then holds again: a second recovery.
    tracker.feed(snap(210, [svc("a", O, 205)], [tr("a", C, O, 205)]))
    tracker.feed(snap(300, [svc("a", C, 290)], [tr("a", O, C, 290)]))
    out = tracker.feed(snap(351, [svc("a", C, 290)]))
    assert kinds(out) == ["service_recovered"] and out[0].at == at(290)


def test_recovery_with_unknown_since_counts_from_when_it_was_seen_closed(journal):
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=30))
    tracker.feed(snap(1, [svc("a", O, 0)], [tr("a", C, O, 0)]))
    tracker.feed(snap(10, [svc("a", C, None)]))
    assert tracker.feed(snap(39, [svc("a", C, None)])) == []
    assert kinds(tracker.feed(snap(40, [svc("a", C, None)]))) == ["service_recovered"]


def test_data_gap_and_back(journal):
    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("a", O, 0)], [tr("a", C, O, 0)]))
    out = tracker.feed(snap(5, [svc("a", O, 0)], error="Prometheus unreachable: refused"))
    assert kinds(out) == ["data_gap"]
    assert out[0].details["error"] == "Prometheus unreachable: refused"
    assert tracker.feed(snap(7, [svc("a", O, 0)], error="still down")) == []
    assert tracker.feed(snap(8, [svc("a", O, 0)]), stale=True) == []
    out = tracker.feed(snap(20, [svc("a", O, 0)]))
    assert kinds(out) == ["data_back"] and out[0].details["gap_s"] == 15.0


def test_no_gap_recorded_without_an_incident(journal):
    tracker = IncidentTracker(journal)
    assert tracker.feed(snap(1, [svc("a", C)], error="down")) == []
    assert tracker.feed(snap(2, [svc("a", C)])) == []
    assert journal.incident_id is None


def test_resume_records_nothing_twice(tmp_path, clock):
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=10))
    first = [tr("a", C, O, 0)]
    tracker.feed(snap(1, [svc("a", O, 0)], first))
    tracker.feed(snap(5, [svc("a", H, 4)], [tr("a", O, H, 4)]))
    tracker.feed(snap(8, [svc("a", C, 6)], [tr("a", H, C, 6)]))
    tracker.feed(snap(17, [svc("a", C, 6)]))  # recovered
    tracker.feed(snap(18, [svc("a", C, 6)], error="down"))  # a gap, then a crash
    tracker.rollout_seen("a", "shop/a", Revision(revision=7, replicaset="a-7", created_at=at(-60)))
    before = len(journal.events)
    journal.close()

    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal, TrackerConfig(recovered_hold_s=10))
    # The restarted console backfills the same history: live times and the
    # range query's step times differ by a few seconds.
    backfill = [tr("a", C, O, 0, Observed.BACKFILL), tr("a", O, H, 5, Observed.BACKFILL),
                tr("a", H, C, 6, Observed.BACKFILL)]
    out = tracker.feed(snap(30, [svc("a", C, 6)], backfill))
    assert kinds(out) == ["data_back"]  # the gap closes; nothing else repeats
    assert tracker.rollout_seen("a", "shop/a", Revision(
        revision=7, replicaset="a-7", created_at=at(-60))) == []
    assert len(journal.events) == before + 1
    journal.close()


def test_rollouts_recorded_once_and_only_recent_ones(journal):
    tracker = IncidentTracker(journal)
    rev = Revision(revision=3, replicaset="a-3", change_cause="image v2", created_at=at(-120))
    assert tracker.rollout_seen("a", "shop/a", rev) == []  # no incident
    tracker.feed(snap(1, [svc("a", O, 0)], [tr("a", C, O, 0)]))
    out = tracker.rollout_seen("a", "shop/a", rev)
    assert kinds(out) == ["rollout_seen"] and out[0].at == at(-120)
    assert out[0].details["change_cause"] == "image v2"
    assert tracker.rollout_seen("a", "shop/a", rev) == []
    old = Revision(revision=2, replicaset="a-2", created_at=at(-7200))
    assert tracker.rollout_seen("a", "shop/a", old) == []


def test_operator_events(journal, clock):
    tracker = IncidentTracker(journal)
    with pytest.raises(NoOpenIncident):
        tracker.acknowledge()
    tracker.feed(snap(1, [svc("a", O, 0)], [tr("a", C, O, 0)]))
    clock.advance(120)
    ack = tracker.acknowledge()
    assert ack.kind == EventKind.ACKNOWLEDGED and ack.actor == "alice" and ack.at == at(120)
    assert ack.details["overdue"] is False
    assert tracker.acknowledge() is None
    note = tracker.note("restarting the payment pods")
    assert journal.is_written(note)
    amended = tracker.amend_note(note.id, "restarting payment-api, not the api pods")
    again = tracker.amend_note(note.id, "third version")
    assert amended.details == {"amends": note.id,
                               "text": "restarting payment-api, not the api pods",
                               "previous": "restarting the payment pods"}
    assert again.details["previous"] == "restarting payment-api, not the api pods"
    assert note in journal.events  # the original is kept
    with pytest.raises(JournalError):
        tracker.amend_note(ack.id, "not a note")
    with pytest.raises(ValueError):
        tracker.note("   ")
    cause = tracker.root_cause("payment-api timeouts at 30 s", "downstream timeout")
    assert cause.details["category"] == "downstream timeout"
    with pytest.raises(ValueError):
        tracker.root_cause("x", "cosmic rays")
    resolved = tracker.resolve("timeout lowered to 5 s")
    assert resolved.kind == EventKind.RESOLVED and not tracker.is_open
    with pytest.raises(NoOpenIncident):
        tracker.resolve()
    tracker.note("a note after resolution still lands in the incident")
    # Automatic events stop; a new OPEN opens a new incident.
    out = tracker.feed(snap(900, [svc("a", O, 899)], [tr("a", C, O, 899)]))
    assert kinds(out)[0] == "incident_opened" and journal.events[0].id == 1


def test_response_clock(journal, clock):
    tracker = IncidentTracker(journal, TrackerConfig(open_on_breaker=False))
    assert tracker.response_clock(at(0)) is None
    tracker.feed(snap(30, [svc("a", O, 0)], alerts=[firing(10, "a")]))
    rc = tracker.response_clock(at(100))
    assert rc.severity == "P0" and rc.started_at == at(10)
    assert rc.deadline == at(310) and rc.remaining == timedelta(seconds=210)
    assert not rc.overdue
    rc = tracker.response_clock(at(400))
    assert rc.overdue and rc.remaining == timedelta(seconds=-90)
    clock.now = at(400)
    assert tracker.acknowledge().details["overdue"] is True
    rc = tracker.response_clock(at(9999))  # frozen at the acknowledgement
    assert rc.overdue and rc.acknowledged_at == at(400) and rc.remaining == timedelta(seconds=-90)


def test_p1_response_time_is_configurable(journal):
    tracker = IncidentTracker(journal, TrackerConfig(severity="P1"))
    tracker.feed(snap(1, [svc("a", O, 0)], [tr("a", C, O, 0)]))
    assert tracker.response_clock(at(60)).deadline == at(1800)
    tracker2 = IncidentTracker(journal, TrackerConfig(response_times_s={"P0": 60}))
    assert tracker2.response_clock(at(60)).deadline == at(1800)  # severity is the incident's


def test_an_incident_is_named_after_the_breaker_that_opened_first(journal):
    """Unrelated breakers open at once: the name is the first to open, not
    the alphabetically first."""
    tracker = IncidentTracker(journal)
    out = tracker.feed(snap(10, [svc("alpha", O, 7), svc("mid", O, 5), svc("zeta", O, 2)],
                            [tr("zeta", C, O, 2), tr("mid", C, O, 5), tr("alpha", C, O, 7)]))
    opened = out[0]
    assert opened.kind == EventKind.INCIDENT_OPENED
    assert opened.service == "zeta"
    assert opened.details["title"] == "Circuit Breaker Open - zeta, mid, alpha"
    assert journal.incident_id.endswith("-zeta")
    assert tracker.services == ["zeta", "mid", "alpha"]


def test_an_incident_is_named_after_the_alerts_service(journal):
    tracker = IncidentTracker(journal)
    out = tracker.feed(snap(10, [svc("alpha", O, 1), svc("mid", O, 5), svc("zeta", O, 2)],
                            alerts=[firing(8, "zeta"), firing(6, "mid")]))
    assert out[0].service == "mid"
    assert out[0].details["title"].startswith("Circuit Breaker Open - mid")


def open_incidents(tmp_path) -> dict[str, list[str]]:
    """Every open incident on disk: its ID -> its services."""
    from console.incident.store import list_incidents
    return {i.id: list(i.services) for i in list_incidents(tmp_path) if not i.resolved}


def test_splitting_the_outage_off_gives_it_an_incident_of_its_own(tmp_path, journal):
    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("pay", O, 0), svc("flap", C)], [tr("pay", C, O, 0)],
                      alerts=[firing(0.5, "pay")]))
    tracker.feed(snap(5, [svc("pay", O, 0), svc("flap", O, 4)], [tr("flap", C, O, 4)],
                      alerts=[firing(0.5, "pay")]))
    main = journal.incident_id
    tracker.split("pay", at=at(60))
    # Nothing OPEN is outside an incident: pay is in one of its own, still open.
    found = open_incidents(tmp_path)
    assert found[main] == ["flap"]
    [side] = [i for i in found if i != main]
    assert found[side] == ["pay"]
    side_tracker = tracker.for_service("pay")
    side_events = side_tracker.journal.events
    assert side_events[0].kind == EventKind.INCIDENT_OPENED and side_events[0].at == at(60)
    # With its events: its opening transition moved along.
    assert [(e.kind, e.at) for e in side_events[1:]] == [(EventKind.BREAKER_TRANSITION, at(0))]
    # It stays open while it is open, and records what happens to it.
    out = tracker.feed(snap(70, [svc("pay", H, 69), svc("flap", O, 4)], [tr("pay", O, H, 69)],
                            alerts=[firing(0.5, "pay")]))
    assert [(e.kind, e.service) for e in side_tracker.journal.events[-1:]] == [
        (EventKind.BREAKER_TRANSITION, "pay")]
    assert "pay" not in tracker.services and side_tracker.services == ["pay"]
    # Its response clock starts at the split, not at the old alert.
    assert side_tracker.response_clock(at(70)).started_at == at(60)


def test_a_split_off_flapper_starts_when_split_and_is_resumed_after_a_restart(tmp_path, clock):
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("pay", O, 0), svc("flap", O, 0.5)],
                      [tr("pay", C, O, 0), tr("flap", C, O, 0.5)]))
    tracker.split("flap", at=at(120))
    side = tracker.for_service("flap")
    assert side.response_clock(at(121)).started_at == at(120)
    journal.close()

    again = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    resumed = IncidentTracker(again)
    assert resumed.services == ["pay"]
    assert resumed.for_service("flap").journal.incident_id == side.journal.incident_id
    assert resumed.for_service("flap").response_clock(at(121)).started_at == at(120)
    # The flapper does not rejoin the first incident, nor open a third.
    resumed.feed(snap(130, [svc("pay", O, 0), svc("flap", O, 129)], [tr("flap", H, O, 129)]))
    assert len(open_incidents(tmp_path)) == 2
    again.close()


def test_a_split_service_events_leave_the_first_incidents_postmortem(tmp_path, journal):
    from console.incident import postmortem

    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("pay", O, 0), svc("flap", O, 0.5)],
                      [tr("pay", C, O, 0), tr("flap", C, O, 0.5)]))
    tracker.split("flap", at=at(60))
    main = postmortem.render(journal.events, now=at(61))
    own = postmortem.render(tracker.for_service("flap").journal.events, now=at(61))
    lines = [line for line in main.splitlines() if "flap" in line]
    assert lines and all("split off" in line for line in lines), lines
    assert "flap: CLOSED → OPEN" in own or "flap" in own.split("## Timeline", 1)[-1]


def test_a_split_off_incident_waits_for_a_full_disk_like_the_first(tmp_path, clock):
    """Its events wait in memory while the disk is full and are written later."""
    from console.incident.store import load_incident
    from console.incident.journal import append_durably

    full = {"on": False}

    def writer(path, data):
        if full["on"]:
            raise OSError(28, "No space left on device", str(path))
        append_durably(path, data)

    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock, writer=writer)
    tracker = IncidentTracker(journal)
    tracker.feed(snap(1, [svc("pay", O, 0), svc("flap", O, 0.5)],
                      [tr("pay", C, O, 0), tr("flap", C, O, 0.5)]))
    full["on"] = True
    tracker.split("flap", at=at(60))
    side = tracker.for_service("flap").journal
    assert side.pending and side.problem
    full["on"] = False
    assert journal.close()
    assert [e.id for e in load_incident(tmp_path, side.incident_id).events] == [
        e.id for e in side.events]
