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
from pathlib import Path

import pytest

from console import cli
from console.incident import export
from console.incident import postmortem
from console.clock import FakeClock
from console.incident.tracker import IncidentTracker
from console.incident.journal import Journal, load_incident
from console.model.fleet import Alert, BreakerState
from console.model.impact import Impact
from tests.incidents import IMPACT, T0, at, fleet, record_incident, run_export
from tests.promserver import free_port

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden" / "postmortem.md"
O, C, H = BreakerState.OPEN, BreakerState.CLOSED, BreakerState.HALF_OPEN


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
