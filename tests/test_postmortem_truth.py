"""Issue 12: the journal and the postmortem record what happened, not what was
intended. Each test reproduces one defect as the issue states it, on the
fixed incident of tests/test_postmortem.py (recorded through the tracker and
the journal as the console records it)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.incident import export
from console.incident import postmortem
from console.clock import FakeClock
from console.incident.tracker import IncidentTracker
from console.incident.journal import Journal
from console.model.fleet import BreakerState
from console.mitigations.plan import Mode
from console.mitigations.recorder import ActionEvent, Stage
from tests.incidents import IMPACT, at, fleet, record_incident, run_export
from tests.screen import dialog, quiesce, screen_text, settle

pytestmark = [pytest.mark.ui, pytest.mark.integration]

O, C, H = BreakerState.OPEN, BreakerState.CLOSED, BreakerState.HALF_OPEN


def section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def template_rows(text: str) -> list[str]:
    """The six template rows of the Timeline section, as written."""
    timeline = section(text, "Timeline")
    rows = timeline.split("\n\n")[2]  # heading, the T+ line, then the rows
    return rows.splitlines()


# --- 3. The six rows in time order, to the second ----------------------------------


def test_template_rows_are_in_time_order_to_the_second(tmp_path):
    journal = record_incident(tmp_path)
    text = postmortem.render(journal.events, IMPACT, now=at(30))
    journal.close()
    assert template_rows(text) == [
        "- 10:15:00 (T+00:00) - Alert fired",
        "- 10:17:10 (T+02:10) - On-call engineer acknowledged (alice)",
        "- 10:21:30 (T+06:30) - Mitigation applied (restart on shop/deployment/payment-api)",
        "- 10:23:15 (T+08:15) - Service recovered",
        "- 10:26:00 (T+11:00) - Root cause identified (alice)",
        "- 10:31:00 (T+16:00) - Incident resolved (alice)",
    ]


def test_milestones_not_reached_read_not_recorded_at_the_end(tmp_path):
    journal = record_incident(tmp_path, resolve=False)
    text = postmortem.render(journal.events, None, now=at(20))
    journal.close()
    rows = template_rows(text)
    assert rows[-1] == "- not recorded - Incident resolved"
    assert [r.split(" - ", 1)[0] for r in rows[:-1]] == [
        "- 10:15:00 (T+00:00)", "- 10:17:10 (T+02:10)", "- 10:21:30 (T+06:30)",
        "- 10:23:15 (T+08:15)", "- 10:26:00 (T+11:00)"]


# --- 6. Exports, Markdown in names, probes failing ---------------------------------


def test_an_export_is_not_an_event_of_the_exported_postmortem(tmp_path):
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    tracker.feed(fleet(0.05, {"p1": (O, 0)}, [("p1", C, O, 0)]))
    clock.now = at(1)
    tracker.exported("md", "/tmp/pm.md")
    assert any(e.kind.value == "export" for e in journal.events)  # the journal keeps it
    text = postmortem.render(journal.events, None, now=at(2))
    doc = postmortem.render_json(journal.events, None, now=at(2))
    journal.close()
    assert "exported" not in text
    assert all(e["kind"] != "export" for e in doc["events"])


def test_markdown_characters_in_service_names_are_escaped(tmp_path):
    name = "pay_*api*[x](http://evil)`<b>|"
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    snapshot = fleet(0.05, {"p1": (O, 0)}, [("p1", C, O, 0)])
    renamed = snapshot.model_copy(update={
        "services": tuple(s.model_copy(update={"service": name}) for s in snapshot.services),
        "transitions": tuple(t.model_copy(update={"service": name})
                             for t in snapshot.transitions)})
    tracker.feed(renamed)
    text = postmortem.render(journal.events, None, now=at(2))
    doc = postmortem.render_json(journal.events, None, now=at(2))
    journal.close()
    escaped = r"pay\_\*api\*\[x\]\(http://evil\)\`\<b\>\|"
    assert f"# Incident: Circuit Breaker Open - {escaped}\n" in text
    assert f"- 10:15:00 (T+00:00) - {escaped} p1: CLOSED -> OPEN" in text
    assert name not in text
    assert doc["services"] == [name]  # the JSON keeps the name as it is


def test_failed_half_open_probes_are_probes_failing_not_flapping(tmp_path):
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    # OPEN -> HALF-OPEN -> OPEN, twenty times, never CLOSED in between.
    probes = [("p1", O if i % 2 == 0 else H, H if i % 2 == 0 else O, 1 + i * 0.1)
              for i in range(40)]
    tracker.feed(fleet(0.05, {"p1": (O, 0)}, [("p1", C, O, 0)]))
    tracker.feed(fleet(6, {"p1": (O, 4.9)}, probes))
    text = postmortem.render(journal.events, None, now=at(7))
    journal.close()
    assert "flapping" not in text
    assert "more breaker transitions of payment-api (probes failing:" in text


def test_open_closed_open_is_still_flapping(tmp_path):
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    flips = [("p1", C if i % 2 == 0 else O, O if i % 2 == 0 else C, i * 0.1)
             for i in range(40)]
    tracker.feed(fleet(0.05, {"p1": (O, 0)}, flips[:1]))
    tracker.feed(fleet(5, {"p1": (C, 3.9)}, flips[1:]))
    text = postmortem.render(journal.events, None, now=at(6))
    journal.close()
    assert "more breaker transitions of payment-api (flapping:" in text


# --- 1. A dry run, a cancel, a refusal are never a mitigation ----------------------


def record_non_mitigations(journal: Journal) -> None:
    """As ActionRunner records them: a dry-run restart confirmed with `y`, a
    fallback dialog cancelled, a restart refused (paused deployment)."""
    restart = dict(action="restart", service="payment-api", target="shop/deployment/payment-api")
    for minute, stage, details in (
        (5, Stage.ASKED, {"mode": "dry-run", "title": "Restart payment-api"}),
        (5.1, Stage.CONFIRMED, {"mode": "dry-run"}),
        (5.2, Stage.SUCCEEDED, {"dry_run": "true", "message": "dry run: nothing sent; "
                                "equivalent: kubectl rollout restart deployment/payment-api"}),
    ):
        journal.record(ActionEvent(at=at(minute), stage=stage, details=details, **restart))
    fallback = dict(action="fallback", service="payment-api", target="shop/deployment/api")
    journal.record(ActionEvent(at=at(6), stage=Stage.ASKED, details={"mode": "live"}, **fallback))
    journal.record(ActionEvent(at=at(6.1), stage=Stage.CANCELLED, **fallback))
    paused = "deployment/payment-api is paused: kubectl rollout resume it first"
    journal.record(ActionEvent(at=at(7), stage=Stage.ASKED, details={
        "mode": "live", "refusal": paused}, **restart))
    journal.record(ActionEvent(at=at(7.1), stage=Stage.CONFIRMED, details={"mode": "live"},
                               **restart))
    journal.record(ActionEvent(at=at(7.2), stage=Stage.FAILED, details={
        "message": f"refused: {paused}"}, **restart))


def test_dry_run_cancel_and_refusal_are_not_mitigations_in_the_export(tmp_path):
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    tracker.feed(fleet(0.05, {"p1": (O, 0)}, [("p1", C, O, 0)]))
    record_non_mitigations(journal)
    clock.now = at(9)
    tracker.resolve("closed by itself")
    text = postmortem.render(journal.events, None, now=at(10))
    doc = postmortem.render_json(journal.events, None, now=at(10))
    journal.close()
    assert "- not recorded - Mitigation applied" in template_rows(text)
    assert "succeeded" not in section(text, "Resolution")
    assert section(text, "Resolution").splitlines()[2] == "- No mitigation recorded."
    assert doc["resolution"] == []
    events = section(text, "Timeline")
    assert ("- 10:20:12 (T+05:12) - Action restart on shop/deployment/payment-api: "
            "dry run: nothing sent (alice)") in events
    assert ("- 10:21:06 (T+06:06) - Action fallback on shop/deployment/api: cancelled "
            "(alice)") in events
    assert ("- 10:22:12 (T+07:12) - Action restart on shop/deployment/payment-api: refused: "
            "deployment/payment-api is paused: kubectl rollout resume it first (alice)") in events
    assert "Enable fallback for payment-api (runbook Prevention 1: `fallback_enabled: True`): " \
           "fallback was needed" not in text


@pytest.mark.slow
async def test_dry_run_restart_counts_no_mitigation_on_screen(make_app, tmp_path):
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice")
    tracker = IncidentTracker(journal)
    app = make_app(mode=Mode.DRY_RUN, tracker=tracker)
    async with app.run_test(size=(160, 50)) as pilot:
        await dialog(app, pilot, "r")
        await pilot.press("y")
        await settle(app, pilot)
        assert any(e.details.get("dry_run") == "true" for e in journal.events)
        await pilot.press("4")
        app.views.refresh()
        await settle(app, pilot)
        assert "mitigations 0" in screen_text(app)
        await quiesce(app, pilot)
    text = postmortem.render(journal.events, None, now=journal.events[-1].at)
    journal.close()
    assert "- not recorded - Mitigation applied" in text
    assert "dry run: nothing sent" in section(text, "Timeline")


# --- 2. export --latest, --list, --incident ---------------------------------------


def record_later_incident(state_dir):
    """inventory-svc opens at 10:20, after payment-api's incident opened
    (10:14:30), and goes quiet at 10:20:05, before payment-api's is
    resolved (10:31)."""
    clock = FakeClock(at(5))
    journal = Journal.open_or_resume(state_dir, actor="bob", clock=clock)
    tracker = IncidentTracker(journal)
    snap = fleet(5.05, {"p1": (O, 5)}, [("p1", C, O, 5)])
    snap = snap.model_copy(update={
        "services": tuple(s.model_copy(update={"service": "inventory-svc"})
                          for s in snap.services),
        "transitions": tuple(t.model_copy(update={"service": "inventory-svc"})
                             for t in snap.transitions)})
    tracker.feed(snap)
    journal.close()
    return journal


def two_incidents(tmp_path):
    resolved = record_incident(tmp_path / "a")
    resolved.close()
    later = record_later_incident(tmp_path / "b")
    for journal in (resolved, later):
        (tmp_path / "state").mkdir(exist_ok=True)
        journal.path.rename(tmp_path / "state" / journal.path.name)
    return resolved.incident_id, later.incident_id


def test_export_latest_is_the_incident_last_active(tmp_path, capsys):
    resolved_id, later_id = two_incidents(tmp_path)
    code, out, err = run_export(["--state-dir", str(tmp_path / "state"), "--latest",
                                 "--no-impact"], capsys)
    assert code == 0, err
    assert out.startswith("# Incident: Circuit Breaker Open - payment-api\n")  # not a draft
    assert f"cbconsole export: {resolved_id}" in err  # says which one it picked


def test_export_help_says_what_latest_means(capsys):
    import pytest

    with pytest.raises(SystemExit):
        export.main(["--help"])
    assert "most recently active" in " ".join(capsys.readouterr().out.split())


def test_export_list_shows_every_incident_real_and_demo(tmp_path, capsys):
    resolved_id, later_id = two_incidents(tmp_path)
    demo = record_incident(tmp_path / "state" / "demo", resolve=False)
    demo.close()
    code, out, err = run_export(["--state-dir", str(tmp_path / "state"), "--list"], capsys)
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    real = next(i for i, line in enumerate(lines) if line.startswith("Incidents in "))
    demo_at = next(i for i, line in enumerate(lines) if line.startswith("Demo incidents in "))
    row = next(line for line in lines if line.startswith(resolved_id))
    assert "payment-api" in row and "opened 2025-01-02 10:14:30" in row
    assert "resolved 2025-01-02 10:31:00" in row
    assert "open" in next(line for line in lines if line.startswith(later_id))
    assert real < lines.index(row) < demo_at
    assert any(line.startswith(demo.incident_id) and "open" in line
               for line in lines[demo_at:])


def test_export_incident_finds_a_demo_incident_without_demo(tmp_path, capsys):
    demo = record_incident(tmp_path / "state" / "demo")
    demo.close()
    code, out, err = run_export(["--state-dir", str(tmp_path / "state"), "--incident",
                                 demo.incident_id, "--no-impact"], capsys)
    assert code == 0, err
    assert out.startswith("# Incident: Circuit Breaker Open - payment-api\n")
    assert "the demo's journal" in err


def test_export_unknown_incident_lists_the_known_ones(tmp_path, capsys):
    resolved_id, later_id = two_incidents(tmp_path)
    demo = record_later_incident(tmp_path / "state" / "demo")
    code, out, err = run_export(["--state-dir", str(tmp_path / "state"), "--incident",
                                 "nope"], capsys)
    assert code == 1 and out == ""
    assert "no incident nope" in err
    assert resolved_id in err and later_id in err
    assert f"demo (--demo): {demo.incident_id}" in err
    assert "Traceback" not in err


# --- 5. Prevention: every service; a likely-cause rollout first --------------------


def prevention(text: str) -> list[str]:
    return [line[len("- [ ] "):] for line in section(text, "Prevention").splitlines()
            if line.startswith("- [ ] ")]


def test_a_likely_cause_rollout_is_the_first_prevention_item(tmp_path):
    journal = record_incident(tmp_path)  # revision 12 rolled out 12.5 min before it opened
    text = postmortem.render(journal.events, IMPACT, now=at(30))
    journal.close()
    items = prevention(text)
    assert items[0].startswith("Fix or roll back the change of shop/payment-api revision 12 "
                               "(change-cause: image payment-api:2.4.0)")
    assert "kubectl rollout undo deployment/payment-api -n shop" in items[0]


def test_prevention_covers_every_affected_service(tmp_path):
    clock = FakeClock(at(0))
    journal = Journal.open_or_resume(tmp_path, actor="alice", clock=clock)
    tracker = IncidentTracker(journal)
    snap = fleet(0.05, {"p1": (O, 0)}, [("p1", C, O, 0)])
    other = snap.services[0].model_copy(update={"service": "inventory-svc"})
    moved = snap.transitions[0].model_copy(update={"service": "inventory-svc"})
    tracker.feed(snap.model_copy(update={"services": (*snap.services, other),
                                         "transitions": (*snap.transitions, moved)}))
    tracker.root_cause("pool exhausted", "database connection")
    text = postmortem.render(journal.events, None, now=at(2))
    journal.close()
    items = prevention(text)
    assert "Review payment-api's breaker configuration" not in text
    for item in items[:3]:  # the category's runbook items
        assert "payment-api" in item and "inventory-svc" in item, item


# --- 4. Impact: failed plus rejected over every call attempted ---------------------


def test_impact_counts_rejected_calls_as_not_served(tmp_path):
    journal = record_incident(tmp_path)
    text = postmortem.render(journal.events, IMPACT, now=at(30))
    doc = postmortem.render_json(journal.events, IMPACT, now=at(30))
    journal.close()
    line = next(x for x in section(text, "Impact").splitlines() if "Requests failed" in x)
    assert line.startswith("- Requests failed: 20.0% of the calls attempted failed or were "
                           "rejected (1,240 failed + 760 rejected of 10,000 attempted")
    assert doc["impact"]["requests_failed_share"] == 0.2


# --- 1b. The app's own refusals are journaled as refused, never mitigations -------


@pytest.mark.slow
async def test_read_only_refusals_are_journaled_as_refused_not_as_mitigations(make_app, tmp_path):
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice")
    tracker = IncidentTracker(journal)
    app = make_app(mode=Mode.READ_ONLY, tracker=tracker)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        for key in ("r", "y", "f", "y", "d", "y"):
            await pilot.press(key)
            await settle(app, pilot)
        await pilot.press("4")
        app.views.refresh()
        await settle(app, pilot)
        assert "mitigations 0" in screen_text(app)
        await quiesce(app, pilot)
    text = postmortem.render(journal.events, None, now=journal.events[-1].at)
    journal.close()
    events = section(text, "Timeline")
    for action, target in (("restart", "payment-api"), ("fallback", "payment-api"),
                           ("flag", "payment-api")):
        assert (f"Action {action} on {target}: refused: read-only mode: "
                "mutating actions are refused, nothing is sent (alice)") in events, events
    assert "- not recorded - Mitigation applied" in template_rows(text)
    assert section(text, "Resolution").splitlines()[2] == "- No mitigation recorded."


@pytest.mark.slow
async def test_a_second_press_while_in_flight_is_journaled_as_refused(make_app, kube, tmp_path):
    kube.auto_step = False  # the rollout never progresses: the restart stays in flight
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice")
    tracker = IncidentTracker(journal)
    app = make_app(tracker=tracker)
    async with app.run_test(size=(160, 50)) as pilot:
        await dialog(app, pilot, "r")
        await pilot.press("y")
        for _ in range(200):  # until the patch is sent
            await pilot.pause(0.05)
            if kube.requests_for("PATCH"):
                break
        await pilot.press("r")
        await pilot.pause()
        app.mitigations.runner.rollout_timeout_s = 0  # let the watch end so the test can
        kube.auto_step = True
        await quiesce(app, pilot)
    text = postmortem.render(journal.events, None, now=journal.events[-1].at)
    journal.close()
    assert ("Action restart on payment-api: refused: the restart of payment-api is already "
            "in progress (alice)") in section(text, "Timeline")
