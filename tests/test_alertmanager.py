"""Issue 19 on real servers: the Debian package's Alertmanager (alone and as
an HA pair), fed by a real Prometheus's `alerting:` section. The page as
Alertmanager holds it on the board and in the header, `a` `y` silencing it,
`R` `y` expiring it, a silence made outside the console shown within a poll.
Silences are read back from Alertmanager's API, never from cbconsole."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from console.incident import postmortem
from console.mitigations.plan import Mode
from console.sources.alertmanager import Alertmanagers
from tests.alertmanager import SERVICE, breaker_fleet, ha_pair
from tests.amconsole import am, board_row, console, firing, header, overlay, single  # noqa: F401
from tests.screen import flat, keep_notifications, wait_until, wait_until_sync

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]


async def test_a_y_silences_the_page_and_R_y_expires_it(am, tmp_path):
    manager, backend = am
    app = console(tmp_path, backend, manager)
    async with app.run_test(size=(200, 50)) as pilot:
        said = keep_notifications(app)
        await firing(app, pilot)
        incident = app.tracker.journal.incident_id
        assert "PAGE CircuitBreakerOpen" in header(app) and "receivers pager" in header(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "the silence dialog")
        dialog = flat(" ".join(str(s.content) for s in app.screen.query("Static")))
        assert "POST " + manager.url + "/api/v2/silences" in dialog
        assert '"createdBy": "alice"' in dialog and "amtool silence add" in dialog
        assert "alertname=CircuitBreakerOpen service=payment-api" in dialog
        assert manager.silences("active") == []  # nothing sent before y
        await pilot.press("y")
        await wait_until(pilot, lambda: manager.silences("active"), "a silence in Alertmanager")
        [silence] = manager.silences("active")
        assert {(m["name"], m["value"], m["isRegex"], m["isEqual"])
                for m in silence["matchers"]} == {
            ("alertname", "CircuitBreakerOpen", False, True),
            ("service", SERVICE, False, True)}
        assert silence["createdBy"] == "alice"
        assert incident in silence["comment"] and "cbconsole" in silence["comment"]
        await wait_until(pilot, lambda: "SILENCED" in board_row(app), "SILENCED on the board")
        assert "SILENCED by alice" in header(app)
        # The postmortem: "Alert fired" at the page's startsAt, the silence in the events.
        starts = datetime.fromisoformat(manager.alerts()[0]["startsAt"].replace("Z", "+00:00"))
        text = postmortem.render_json(list(app.tracker.journal.events), now=app.poller.clock())
        [fired] = [r for r in text["timeline"] if r["event"] == "Alert fired"]
        assert datetime.fromisoformat(fired["at"]) == starts
        assert any("silence" in e["text"] and "for 60m" in e["text"] and e["actor"] == "alice"
                   for e in text["events"]), text["events"]

        await pilot.press("R")  # first: expire the silence? then the resolve prompt
        await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo",
                         "the expire dialog")
        assert "DELETE " in flat(" ".join(str(s.content) for s in app.screen.query("Static")))
        await pilot.press("y")
        await wait_until(pilot, lambda: any(s["id"] == silence["id"]
                                            for s in manager.silences("expired")),
                         "the silence expired in Alertmanager")
        await wait_until(pilot, lambda: "FIRING" in board_row(app), "FIRING again")
        await wait_until(pilot, lambda: any(
            e.details.get("action") == "silence_expire" and e.details.get("stage") == "succeeded"
            for e in app.tracker.journal.events), "the expiry journaled")
        steps = [(e.details.get("action"), e.details.get("stage"))
                 for e in app.tracker.journal.events if e.kind.value == "action"]
        assert type(app.screen).__name__ == "TextPrompt"  # then the resolve prompt
    assert steps == [("silence", "asked"), ("silence", "confirmed"), ("silence", "sent"),
                     ("silence", "succeeded"), ("silence_expire", "confirmed"),
                     ("silence_expire", "sent"), ("silence_expire", "succeeded")]
    assert any("expired" in s for s in said)


async def test_a_silence_made_outside_shows_with_its_author_within_one_poll(am, tmp_path):
    manager, backend = am
    source = overlay(backend, [manager.url])
    wait_until_sync(lambda: any(a.pager for a in source.poll().alerts), "the page read", 60)
    manager.silence({"alertname": "CircuitBreakerOpen", "service": SERVICE}, "bob",
                    "looking into it")
    alert = next(a for a in source.poll().alerts if a.service == SERVICE)  # the next poll
    assert alert.pager.word == "SILENCED"
    assert [(s.created_by, s.comment) for s in alert.pager.silenced_by] == [
        ("bob", "looking into it")]
    app = console(tmp_path, backend, manager)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: "SILENCED by bob" in header(app), "bob's silence")
        assert "looking into it" in header(app)
        assert "SILENCED" in board_row(app)


async def test_read_only_refuses_and_dry_run_sends_nothing(am, tmp_path):
    manager, backend = am
    for mode in (Mode.READ_ONLY, Mode.DRY_RUN):
        app = console(tmp_path / mode.value, backend, manager, mode)
        async with app.run_test(size=(200, 50)) as pilot:
            said = keep_notifications(app)
            await firing(app, pilot)
            await pilot.press("a")
            if mode == Mode.DRY_RUN:
                await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "the dialog")
                await pilot.press("y")
            await wait_until(pilot, lambda: any("silence" in s.lower() for s in said),
                             "the console says what became of the silence")
        assert manager.silences() == [] or all(
            s["status"]["state"] == "expired" for s in manager.silences())


def test_ha_pair_merges_duplicates_and_names_a_member_down():
    first, second = ha_pair()
    fleet = None
    try:
        first.wait_ready(), second.wait_ready()
        fleet = breaker_fleet([first, second], cluster="ci")
        ex, backend = next(fleet)
        source = overlay(backend, [first.url, second.url])
        snapshot = source.poll()
        pages = [a for a in snapshot.pager.alerts if a.labels.get("service") == SERVICE]
        assert len(pages) == 1 and pages[0].labels["cluster"] == "ci"
        assert snapshot.pager.rule.for_s == 2 and "circuit_breaker_state" in snapshot.pager.rule.expr
        first.kill()
        snapshot = source.poll()
        assert [url for url, _ in snapshot.pager.down] == [first.url]
        assert "unreachable" in snapshot.pager.down[0][1]
        assert any(a.pager for a in snapshot.alerts if a.service == SERVICE)  # the other one
    finally:
        if fleet is not None:
            fleet.close()
        first.stop(), second.stop()


def test_matchers_are_checked_before_anything_is_sent():
    from console.mitigations.silence import SilenceRefused, check_matchers
    from console.model.alertmanager import Matcher

    for matchers in ((Matcher(name="service", value=""),),
                     (Matcher(name="service", value="a"), Matcher(name="service", value="b")),
                     (Matcher(name="service", value=".*", is_regex=True),), ()):
        with pytest.raises(SilenceRefused):
            check_matchers(matchers)
    check_matchers((Matcher(name="alertname", value="CircuitBreakerOpen"),
                    Matcher(name="cluster", value="", is_equal=False)))


def test_the_silence_is_extended_with_its_id_before_it_ends(am):
    """kthxbye's extension: a POST with the silence's id moves its end."""
    from console.clock import FakeClock
    from console.mitigations.recorder import MemoryRecorder
    from console.mitigations.silence import Silencer, due_for_extension, plan_silence

    manager, backend = am
    managers = Alertmanagers([manager.url])
    page = next(a for a in managers.read().alerts if a.labels.get("service") == SERVICE)
    now = datetime.now(page.starts_at.tzinfo)
    plan = plan_silence(page, service=SERVICE, service_label="service", incident_id="INC-1",
                        operator="alice", now=now, length_s=120)
    silencer = Silencer(managers, MemoryRecorder(), mode=Mode.LIVE)
    silence_id, _ = silencer.send(plan, lambda: now)
    plan = replace(plan, silence_id=silence_id)
    clock = FakeClock(now + (plan.ends_at - now) * 0.9)  # 12 s left of 120
    assert due_for_extension(plan, clock()) and not due_for_extension(plan, now)
    longer = silencer.extend(plan, clock)
    [silence] = manager.silences("active")
    ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
    assert silence["id"] == longer.silence_id and ends > plan.ends_at
    assert silence["createdBy"] == "alice"


def test_a_pending_alert_counts_down_to_firing():
    from datetime import timedelta

    from console.model.fleet import Alert
    from widgets.pager import cell

    now = datetime(2025, 1, 2, 10, 0, tzinfo=datetime.now().astimezone().tzinfo)
    alert = Alert(name="CircuitBreakerOpen", state="pending", service=SERVICE,
                  active_at=now, fires_at=now + timedelta(seconds=90))
    assert cell(alert, now + timedelta(seconds=30)).plain == "in 1m00s"


def test_a_silence_goes_to_the_other_member_only_if_the_first_was_never_reached(am):
    """A refused connection sent nothing: the other member is asked. A member
    that took the request and did not answer may have made the silence: a
    second POST elsewhere would be a duplicate, so none is sent."""
    import socket

    from console.mitigations.recorder import MemoryRecorder
    from console.mitigations.silence import Silencer, plan_silence

    manager, _ = am
    page = next(a for a in Alertmanagers([manager.url]).read().alerts
                if a.labels.get("service") == SERVICE)
    now = datetime.now(page.starts_at.tzinfo)
    plan = plan_silence(page, service=SERVICE, service_label="service", incident_id="INC-2",
                        operator="alice", now=now, length_s=120)
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    refused_url = f"http://127.0.0.1:{refused.getsockname()[1]}"
    refused.close()  # nothing listens there
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(8)  # the kernel accepts the connection; nobody ever answers
    stalled_url = f"http://127.0.0.1:{stalled.getsockname()[1]}"
    try:
        before = len(manager.silences("active"))
        sent, _ = Silencer(Alertmanagers([refused_url, manager.url], timeout=1),
                           MemoryRecorder(), mode=Mode.LIVE).send(plan, lambda: now)
        assert sent is not None and len(manager.silences("active")) == before + 1
        lost, words = Silencer(Alertmanagers([stalled_url, manager.url], timeout=1),
                               MemoryRecorder(), mode=Mode.LIVE).send(plan, lambda: now)
        assert lost is None and stalled_url in words, words
        assert len(manager.silences("active")) == before + 1  # not sent to the other
    finally:
        stalled.close()


async def test_a_poll_near_the_silences_end_extends_it_while_the_alert_fires(am, tmp_path):
    """kthxbye's job done by the console: the poll that finds the page still
    firing near the end of its silence moves the end, journaled."""
    from console.clock import FakeClock

    manager, backend = am
    clock = FakeClock(datetime.now().astimezone())
    app = console(tmp_path, backend, manager, clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await firing(app, pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "the silence dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: manager.silences("active"), "a silence in Alertmanager")
        [made] = manager.silences("active")
        clock.advance(3600 - 120)  # two minutes left of the hour: due (five or less)
        await wait_until(pilot, lambda: [s["endsAt"] for s in manager.silences("active")]
                         != [made["endsAt"]], "the silence extended by a poll", 60)
        [longer] = manager.silences("active")
        # Alertmanager moved the first one's start to its own clock at creation,
        # so it cannot update it in place: it expires it and makes a new one
        # (silences.go, canUpdate). The console follows the new id.
        assert longer["id"] == made["id"] or made["id"] in {
            s["id"] for s in manager.silences("expired")}
        assert (longer["createdBy"], longer["comment"]) == (made["createdBy"], made["comment"])
        ends = datetime.fromisoformat(longer["endsAt"].replace("Z", "+00:00"))
        assert ends - clock() > timedelta(minutes=59)
        await wait_until(pilot, lambda: any(
            e.details.get("action") == "silence_extend" and e.details.get("stage") == "succeeded"
            for e in app.tracker.journal.events), "the extension journaled")
