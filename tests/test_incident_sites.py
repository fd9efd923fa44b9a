"""An incident across clusters (issue 18), through the tracker and the
journal as the console records it, then the export's text: every event
records its site, an incident spanning sites says so, the postmortem lists
the clusters affected each with its own timeline; partial data is one
data-quality event when it starts and one when it ends (not one a poll),
with the warning text scrubbed. Journals without sites still load."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from console.clock import FakeClock
from console.incident import postmortem
from console.incident.journal import Journal, load_incident
from console.incident.store import EventKind
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.mitigations.recorder import ActionEvent, Stage
from console.model.fleet import (BreakerState, FleetSnapshot, InstanceStatus, ServiceStatus,
                                 SourceHealth, SourceStatus, Transition)
from tests.incidents import run_export

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
O, C = BreakerState.OPEN, BreakerState.CLOSED
# As Thanos Query words a partial response's warning (its API's `warnings`),
# with a token a proxy echoed into it.
THANOS_WARNING = ('receive eu-west-store-1:10901: rpc error: code = Unavailable desc = '
                  'connection refused (Authorization: Bearer s3cr3t-t0ken)')


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(site: str, state: BreakerState, since: float = 0) -> ServiceStatus:
    return ServiceStatus(service="payment-api", site=site, instances=(InstanceStatus(
        instance=f"{site}-p1", state=state, since=at(since)),))


def tr(site: str, old, new, when: float) -> Transition:
    return Transition(service="payment-api", instance=f"{site}-p1", from_state=old,
                      to_state=new, at=at(when), site=site)


def snap(when: float, rows, transitions=(), sources=()) -> FleetSnapshot:
    return FleetSnapshot(fetched_at=at(when), services=tuple(rows),
                         transitions=tuple(transitions), sources=tuple(sources))


def health(site: str, status=SourceStatus.OK, warnings=()) -> SourceHealth:
    return SourceHealth(name=site, sites=(site,), status=status, warnings=tuple(warnings))


@pytest.fixture
def tracker(tmp_path):
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=FakeClock(T0))
    yield IncidentTracker(journal, TrackerConfig(recovered_hold_s=60))
    journal.close()


def feed_two_sites(tracker: IncidentTracker) -> None:
    tracker.feed(snap(10, [row("eu-west", O, 5), row("us-east", C)],
                      [tr("eu-west", C, O, 5)]))
    tracker.record(ActionEvent(at=at(20), action="restart", stage=Stage.CONFIRMED,
                               service="payment-api", target="shop/deployment/api",
                               site="eu-west"))
    tracker.feed(snap(30, [row("eu-west", O, 5), row("us-east", O, 25)],
                      [tr("us-east", C, O, 25)]))


def test_every_event_records_its_site_and_the_incident_says_it_spans_both(tracker, tmp_path):
    feed_two_sites(tracker)
    journal = tracker.journal
    assert tracker.spans == "spans eu-west, us-east"
    loaded = load_incident(tmp_path, journal.incident_id)  # what is on disk
    sites = [(e.kind, e.site) for e in loaded.events
             if e.kind in (EventKind.BREAKER_TRANSITION, EventKind.ACTION)]
    assert sites == [(EventKind.BREAKER_TRANSITION, "eu-west"), (EventKind.ACTION, "eu-west"),
                     (EventKind.BREAKER_TRANSITION, "us-east")]


def test_the_postmortem_lists_each_cluster_with_its_own_timeline(tracker, tmp_path, capsys):
    feed_two_sites(tracker)
    code, out, err = run_export(["--state-dir", str(tmp_path), "--no-impact"], capsys,
                                now=at(40))
    assert code == 0, err
    assert "**Clusters:** eu-west, us-east (the incident spans eu-west, us-east)" in out
    section = out.split("## Clusters affected\n", 1)[1].split("\n## ", 1)[0]
    eu = section.split("### eu-west\n", 1)[1].split("### us-east\n", 1)[0]
    us = section.split("### us-east\n", 1)[1]
    assert "payment-api eu-west-p1: CLOSED -> OPEN" in eu
    assert "Action restart on shop/deployment/api: confirmed" in eu
    assert "us-east" not in eu.replace("### us-east", "")
    assert "payment-api us-east-p1: CLOSED -> OPEN" in us
    assert "restart" not in us and "eu-west" not in us
    # The JSON export carries the same.
    code, out, err = run_export(["--state-dir", str(tmp_path), "--no-impact", "--format",
                                 "json"], capsys, now=at(40))
    data = json.loads(out)
    assert data["spans"] == "spans eu-west, us-east"
    assert [(c["site"], [e["kind"] for e in c["events"]]) for c in data["clusters"]] == [
        ("eu-west", ["breaker_transition", "action"]), ("us-east", ["breaker_transition"])]


def test_a_service_open_in_one_site_is_not_recovered_by_another_sites_closed_row(tracker):
    tracker.feed(snap(10, [row("eu-west", O, 5), row("us-east", C)], [tr("eu-west", C, O, 5)]))
    # us-east has been CLOSED for long; eu-west is still OPEN (listed first or last).
    for when in (200, 300):
        tracker.feed(snap(when, [row("us-east", C), row("eu-west", O, 5)]))
        tracker.feed(snap(when + 1, [row("eu-west", O, 5), row("us-east", C)]))
    assert not [e for e in tracker.journal.events if e.kind == EventKind.SERVICE_RECOVERED]


def test_a_single_site_journal_is_written_as_before_and_old_journals_load(tmp_path):
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=FakeClock(T0))
    tracker = IncidentTracker(journal)
    tracker.feed(snap(10, [row("", O, 5)], [tr("", C, O, 5)]))
    journal.close()
    lines = journal.path.read_text().splitlines()
    assert lines and not any('"site"' in line for line in lines)  # no new key for ""
    # A journal line as an older cbconsole wrote it (no site) loads, site "".
    loaded = load_incident(tmp_path, journal.incident_id)
    assert loaded.events and {e.site for e in loaded.events} == {""}
    assert postmortem.build(loaded.events, now=at(40))["clusters"] == []


def test_partial_data_is_one_event_when_it_starts_and_one_when_it_ends(tracker, tmp_path,
                                                                        capsys):
    rows = [row("eu-west", O, 5), row("us-east", C)]
    ok = [health("eu-west"), health("us-east")]
    partial = [health("eu-west", SourceStatus.PARTIAL, [THANOS_WARNING]), health("us-east")]
    tracker.feed(snap(10, rows, [tr("eu-west", C, O, 5)], ok))
    for when in (12, 14, 16, 18):  # four polls of partial answers
        tracker.feed(snap(when, rows, sources=partial))
    tracker.feed(snap(18.5, rows, sources=[health("eu-west", SourceStatus.STALE),
                                           health("us-east")]))  # says nothing of the data
    for when in (20, 22):
        tracker.feed(snap(when, rows, sources=ok))
    quality = [e for e in tracker.journal.events
               if e.kind in (EventKind.DATA_PARTIAL, EventKind.DATA_COMPLETE)]
    assert [(e.kind, e.site, e.at) for e in quality] == [
        (EventKind.DATA_PARTIAL, "eu-west", at(12)), (EventKind.DATA_COMPLETE, "eu-west", at(20))]
    on_disk = tracker.journal.path.read_text()
    assert "s3cr3t-t0ken" not in on_disk and "eu-west-store-1:10901" in on_disk
    # A restarted console resumes the journal and records nothing twice.
    code, out, err = run_export(["--state-dir", str(tmp_path), "--no-impact"], capsys,
                                now=at(40))
    assert code == 0, err
    section = out.split("## Data quality\n", 1)[1].split("\n## ", 1)[0]
    [started, ended] = [line for line in section.splitlines() if line.startswith("- ")]
    assert started.startswith("- 09:00:12 (T+00:07) - eu-west (eu-west) PARTIAL: receive "
                              "eu-west-store-1:10901: rpc error")
    assert "s3cr3t-t0ken" not in out and "Bearer" in started
    assert ended == "- 09:00:20 (T+00:15) - eu-west (eu-west) complete again"


def test_partial_data_already_journaled_is_not_journaled_again_after_a_restart(tmp_path):
    rows = [row("eu-west", O, 5)]
    partial = [health("eu-west", SourceStatus.PARTIAL, ["store eu-west-1 down"])]
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=FakeClock(T0))
    IncidentTracker(journal).feed(snap(10, rows, [tr("eu-west", C, O, 5)], partial))
    journal.close()
    again = Journal.open_or_resume(tmp_path, actor="alice", clock=FakeClock(at(30)))
    tracker = IncidentTracker(again)
    tracker.feed(snap(30, rows, sources=partial))
    again.close()
    assert [e.kind for e in again.events].count(EventKind.DATA_PARTIAL) == 1
