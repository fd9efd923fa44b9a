"""The response clock is computed once, from what the journal recorded: the
header (the tracker), the acknowledgement's record and the postmortem agree,
with the configured `[incident] response_times_s` too."""

from __future__ import annotations

import pytest

from datetime import datetime, timedelta, timezone

from console.incident import postmortem
from console.clock import FakeClock
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import Journal, load_incident
from console.model.fleet import Alert, BreakerState, FleetSnapshot, InstanceStatus, ServiceStatus

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 2, 10, 15, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _incident(state_dir, response_times_s: dict[str, float], ack_after_min: float):
    """payment-api's breaker opens on the alert at T0; acknowledged at +N min."""
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(state_dir, actor="alice", clock=clock)
    tracker = IncidentTracker(journal, TrackerConfig(response_times_s=response_times_s))
    alert = Alert(name="CircuitBreakerOpen", state="firing", active_at=T0)
    tracker.feed(FleetSnapshot(fetched_at=at(0.1), alerts=(alert,), services=(ServiceStatus(
        service="payment-api", instances=(InstanceStatus(
            instance="p1", state=BreakerState.OPEN, since=at(0)),)),)))
    clock.now = at(ack_after_min)
    ack = tracker.acknowledge()
    header = tracker.response_clock(at(30))
    journal.close()
    return load_incident(state_dir, journal.incident_id).events, ack, header


def test_postmortem_uses_the_configured_response_time(tmp_path):
    """P0 = 600 s, acknowledged at +7 min: in time for the journal and the
    header, so the postmortem must not say overdue nor ask to review paging."""
    events, ack, header = _incident(tmp_path, {"P0": 600, "P1": 1800}, ack_after_min=7)
    assert ack.details["overdue"] is False and not header.overdue
    doc = postmortem.render_json(events, None, now=at(30))
    assert doc["response"]["overdue"] is False
    assert doc["response"]["response_s"] == 600
    assert doc["response"]["deadline"] == at(10).isoformat()
    assert not any("Review paging" in item for item in doc["prevention"])
    assert "Review paging" not in postmortem.render(events, None, now=at(30))


def test_postmortem_says_overdue_when_the_journal_did(tmp_path):
    events, ack, header = _incident(tmp_path, {"P0": 300}, ack_after_min=7)
    assert ack.details["overdue"] is True and header.overdue
    doc = postmortem.render_json(events, None, now=at(30))
    assert doc["response"]["overdue"] is True
    assert any("acknowledged after the 5-minute response time" in item
               for item in doc["prevention"])


def test_an_unacknowledged_incident_keeps_the_configured_time(tmp_path):
    """No acknowledgement: the deadline still is the one configured at opening."""
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal, TrackerConfig(response_times_s={"P0": 900}))
    alert = Alert(name="CircuitBreakerOpen", state="firing", active_at=T0)
    tracker.feed(FleetSnapshot(fetched_at=at(0.1), alerts=(alert,)))
    journal.close()
    events = load_incident(tmp_path, journal.incident_id).events
    doc = postmortem.render_json(events, None, now=at(30))
    assert doc["response"]["response_s"] == 900
    assert doc["response"]["deadline"] == at(15).isoformat()
    assert doc["response"]["overdue"] is None
