"""The postmortem export: a fixed incident, recorded through the tracker and
the journal as the console would, rendered against a golden file (RUNBOOK-004's
template heading by heading), as JSON, and through `cbconsole export`.

Regenerate the golden file after an intended change with
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_postmortem.py
and read the diff against the runbook's template before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from console import cli
from console.incident import export
from console.incident import postmortem
from console.clock import FakeClock
from console.incident.tracker import IncidentTracker
from console.incident.journal import Journal, load_incident
from console.model.fleet import Alert, BreakerState, FleetSnapshot, InstanceStatus, Revision
from console.model.fleet import ServiceStatus, Transition
from console.mitigations.recorder import ActionEvent, Stage
from console.sources.prometheus.impact import Impact
from tests.promserver import free_port

GOLDEN = Path(__file__).parent / "golden" / "postmortem.md"
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


def test_postmortem_matches_the_golden_file(tmp_path):
    journal = record_incident(tmp_path)
    journal.close()
    loaded = load_incident(tmp_path, journal.incident_id)
    assert loaded.problems == ()
    text = postmortem.render(loaded.events, IMPACT, now=at(30))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_the_template_headings_in_order():
    template = ["# Incident: Circuit Breaker Open - ", "**Date:** ", "**Duration:** ",
                "**Severity:** ", "## Timeline", "## Root Cause", "## Impact",
                "## Resolution", "## Prevention", "## Lessons Learned"]
    text = GOLDEN.read_text()
    positions = [text.index(h) for h in template]
    assert positions == sorted(positions)
    rows = ["Alert fired", "On-call engineer acknowledged", "Mitigation applied",
            "Service recovered", "Root cause identified", "Incident resolved"]  # time order
    positions = [text.index(f" - {r}") for r in rows]
    assert positions == sorted(positions)
    assert "- Users affected: (to be filled in)" in text
    assert "- Revenue impact: (to be filled in)" in text
    assert text.count("- [ ] ") >= 3


def test_a_draft_says_so_and_invents_nothing(tmp_path):
    journal = record_incident(tmp_path, resolve=False)
    text = postmortem.render(journal.events, None, now=at(20), tz="Europe/Paris")
    journal.close()
    assert text.startswith("> **DRAFT**: the incident is not resolved (generated "
                           "2025-01-02 11:35 Europe/Paris).")
    assert "**Duration:** ongoing (draft)" in text
    assert "- not recorded - Incident resolved" in text
    assert "- 11:15:00 (T+00:00) - Alert fired" in text  # shown in the chosen zone
    assert "- Requests failed: unknown (no Prometheus recorded for this incident)" in text
    assert "- Not resolved yet." in text


def test_empty_incident_is_unknown_everywhere(tmp_path):
    with Journal.open_or_resume(tmp_path, clock=FakeClock(T0)) as journal:
        journal.open_incident("orders")
        text = postmortem.render(journal.events, "Prometheus unreachable: refused", now=at(1))
    assert "**Severity:** unknown" in text
    for row in ("Alert fired (no alert seen: first OPEN observed)",
                "not recorded - On-call engineer acknowledged",
                "not recorded - Root cause identified", "not recorded - Mitigation applied",
                "not recorded - Service recovered"):
        assert row in text
    assert "## Root Cause\n\nunknown (not recorded)" in text
    assert "- Requests failed: unknown (Prometheus unreachable: refused)" in text
    assert "- No mitigation recorded." in text


def test_json_has_the_same_content(tmp_path):
    journal = record_incident(tmp_path)
    doc = postmortem.render_json(journal.events, IMPACT, now=at(30))
    journal.close()
    json.dumps(doc)  # JSON-able as is
    assert doc["draft"] is False and doc["title"] == "Circuit Breaker Open - payment-api"
    assert doc["severity"] == "P0" and doc["duration"] == "00:16"
    assert [(r["time"], r["event"]) for r in doc["timeline"]] == [
        ("10:15:00", "Alert fired"), ("10:17:10", "On-call engineer acknowledged"),
        ("10:21:30", "Mitigation applied"), ("10:23:15", "Service recovered"),
        ("10:26:00", "Root cause identified"), ("10:31:00", "Incident resolved")]
    assert doc["timeline"][0]["t_plus"] == "T+00:00"
    assert doc["root_cause"]["category"] == "downstream timeout"
    assert doc["impact"]["requests_failed_share"] == pytest.approx((1240 + 760) / 10000)
    assert doc["impact"]["users_affected"] is None
    # The cancelled fallback is no mitigation: it is in the event list only.
    assert [(m["action"], m["outcome"]) for m in doc["resolution"]] == [("restart", "verified")]
    assert doc["response"]["overdue"] is False
    assert any("timeout" in p for p in doc["prevention"])


# --- cbconsole export --------------------------------------------------------------


def run_export(argv, capsys, now=at(30)):
    code = cli.export(argv, clock=lambda: now)
    out, err = capsys.readouterr()
    return code, out, err


def test_export_latest_as_markdown_while_a_console_holds_the_journal(tmp_path, capsys):
    journal = record_incident(tmp_path)  # still open and locked: export reads anyway
    code, out, err = run_export(["--state-dir", str(tmp_path), "--no-impact"], capsys)
    journal.close()
    assert code == 0, err
    assert out.startswith("# Incident: Circuit Breaker Open - payment-api\n")
    assert "- Requests failed: unknown (not counted (--no-impact))" in out


def test_export_json_to_a_file_by_id(tmp_path, capsys):
    journal = record_incident(tmp_path)
    journal.close()
    target = tmp_path / "out" / "pm.json"
    target.parent.mkdir()
    target.write_text("old")
    code, out, err = run_export(["--incident", journal.incident_id, "--format", "json",
                                 "-o", str(target), "--state-dir", str(tmp_path)], capsys)
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["incident"] == journal.incident_id
    assert [p.name for p in target.parent.iterdir()] == ["pm.json"]  # no temp file left


def test_export_without_an_incident_fails_clearly(tmp_path, capsys):
    code, out, err = run_export(["--state-dir", str(tmp_path)], capsys)
    assert code == 1 and out == ""
    assert err == f"cbconsole export: no incident in {tmp_path}\n"
    record_incident(tmp_path).close()
    code, out, err = run_export(["--state-dir", str(tmp_path), "--incident", "nope"], capsys)
    assert code == 1 and "no incident nope in" in err


def test_export_with_prometheus_unreachable_still_exports(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    record_incident(tmp_path, prometheus_url=url).close()
    code, out, err = run_export(["--state-dir", str(tmp_path)], capsys)
    assert code == 0, err
    assert (f"- Requests failed: unknown (Prometheus unreachable: Prometheus at {url} "
            "unreachable: connection refused)") in out


def test_export_demo_and_bad_zone(tmp_path, capsys):
    record_incident(tmp_path / "demo").close()
    code, out, _ = run_export(["--state-dir", str(tmp_path), "--demo", "--no-impact",
                               "--tz", "America/New_York"], capsys)
    assert code == 0 and "- 05:15:00 (T+00:00) - Alert fired" in out
    with pytest.raises(SystemExit):
        export.main(["--tz", "Mars/Olympus"])


def test_export_reports_a_damaged_journal_and_exports_the_rest(tmp_path, capsys):
    journal = record_incident(tmp_path)
    journal.close()
    raw = journal.path.read_bytes().split(b"\n")
    journal.path.write_bytes(b"\n".join([*raw[:3], b"{garbage", *raw[3:]]) + b'{"id": 99')
    code, out, err = run_export(["--state-dir", str(tmp_path), "--no-impact"], capsys)
    assert code == 0
    assert "line 4: not a journal event, skipped" in err and "torn last line" in err
    assert out.count("\n- ", out.index("Journal problems")) == 2
    assert "- 10:31:00 (T+16:00) - Incident resolved (alice)" in out


def test_a_flapping_breaker_is_summed_up_in_the_markdown_not_dropped(tmp_path):
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    flips = [("p1", C if i % 2 == 0 else O, O if i % 2 == 0 else C, i * 0.1)
             for i in range(40)]
    tracker.feed(fleet(0.05, {"p1": (O, 0)}, flips[:1]))
    tracker.feed(fleet(5, {"p1": (C, 3.9)}, flips[1:]))
    events = list(journal.events)
    assert sum(e.kind.value == "breaker_transition" for e in events) == 40
    text = postmortem.render(events, None, now=at(6))
    shown = [line for line in text.splitlines() if "payment-api p1:" in line]
    assert len(shown) == 2 * postmortem.FLAP_KEEP
    assert f"{40 - 2 * postmortem.FLAP_KEEP} more breaker transitions of payment-api" in text
    # The JSON keeps every one of them.
    doc = postmortem.render_json(events, None, now=at(6))
    assert sum(e["kind"] == "breaker_transition" for e in doc["events"]) == 40
