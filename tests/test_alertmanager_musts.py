"""Issue 19's promises not shown elsewhere, each on the Debian package's
Alertmanager: its token reaches Alertmanager and nothing else (screen,
journal, log, postmortem); read-only and dry-run send no silence request
(read off an auth proxy's request log); an inhibited page shows INHIBITED
and by which alert; a pending alert counts down to firing from the rule's
`for:` read from Prometheus; an HA member that does not answer is named in
the header while the other one is used, and the silence carries the
cluster label the page has and shows in the timeline pane."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from console import logfile
from console.config import load_config
from console.incident import postmortem
from console.incident.journal import Journal
from console.incident.tracker import IncidentTracker
from console.mitigations.plan import Mode
from console.sources.alertmanager_setup import with_alertmanager
from console.sources.prometheus.source import PrometheusSource
from console.ui.app import CBConsoleApp
from tests.alertmanager import RULES, SERVICE, Alertmanager, breaker_fleet, ha_pair
from tests.amconsole import board_row, console, firing, header, overlay
from tests.faultproxy import FaultProxy
from tests.promserver import Backend
from tests.screen import flat, keep_notifications, screen_text, wait_until

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack():
    """One Alertmanager fed by a Prometheus; the exporter too (for ServiceDown)."""
    manager = Alertmanager().wait_ready()
    fleet = breaker_fleet([manager])
    try:
        ex, backend = next(fleet)
        yield manager, ex, backend
    finally:
        fleet.close()
        manager.stop()


@pytest.fixture
def proxy(stack):
    """An auth proxy in front of the Alertmanager: what the console sends."""
    manager = stack[0]
    manager.expire_all()
    with FaultProxy("127.0.0.1", manager.port) as p:
        yield p
    manager.expire_all()


def app_from_config(tmp_path, backend, proxy, mode=Mode.LIVE, auth: str = "") -> CBConsoleApp:
    """As cbconsole builds it from a config file: the overlay and the silence settings."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(f'[prometheus]\nurl = "{backend.url}"\n[alertmanager]\n'
                    f'url = ["{proxy.url}"]\nack_silence = "1h"\n{auth}')
    config = load_config(path)
    source = with_alertmanager(PrometheusSource(backend.url, backfill_minutes=0), config)
    journal = Journal.open_or_resume(tmp_path / "state", actor="alice")
    return CBConsoleApp(source, tracker=IncidentTracker(journal), mode=mode, poll_interval=0.5,
                        silence=source.silence_settings)


def dialog_words(app) -> str:
    return flat(" ".join(str(s.content) for s in app.screen.query("Static")))


async def test_the_alertmanager_token_goes_to_alertmanager_and_nowhere_else(
        stack, proxy, tmp_path, caplog):
    manager, _, backend = stack
    token = "am-" + secrets.token_hex(16)
    (tmp_path / "am-token").write_text(token + "\n")
    proxy.token_file = tmp_path / "am-token"
    logfile.setup(tmp_path / "logs", "DEBUG")
    caplog.set_level("DEBUG")
    app = app_from_config(tmp_path, backend, proxy, auth=(
        f'[alertmanager.auth]\nbearer_token_file = "{tmp_path / "am-token"}"\n'))
    seen = []
    async with app.run_test(size=(200, 50)) as pilot:
        said = keep_notifications(app)
        await firing(app, pilot)
        seen.append(screen_text(app))
        await pilot.press("a")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "the dialog")
        seen.append(screen_text(app) + dialog_words(app))
        await pilot.press("y")
        await wait_until(pilot, lambda: manager.silences("active"), "the silence made")
        await wait_until(pilot, lambda: "SILENCED" in board_row(app), "SILENCED")
        seen.append(screen_text(app))
        await pilot.press("R")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "expire dialog")
        seen.append(screen_text(app) + dialog_words(app))
        await pilot.press("y")
        await wait_until(pilot, lambda: manager.silences("active") == [], "the silence expired")
        events = list(app.tracker.journal.events)
    app.tracker.journal.close()
    assert proxy.requests(method="POST") and proxy.requests(method="DELETE")
    assert proxy.requests("unauthorized") == []  # every request carried it
    now = datetime.now().astimezone()
    exported = postmortem.render(events, now=now) + str(postmortem.render_json(events, now=now))
    logfile.shutdown()
    files = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*")
                    if p.is_file() and p.name != "am-token" and p.name != "config.toml")
    assert "cbconsole" in files and "silence" in files  # the journal and the log were read
    for where, text in (("screen", "".join(seen)), ("notifications", "".join(said)),
                        ("journal and log files", files), ("postmortem", exported),
                        ("log records", caplog.text)):
        assert token not in text, f"the token reached the {where}"


async def test_read_only_and_dry_run_send_no_silence_request(stack, proxy, tmp_path):
    manager, _, backend = stack
    for mode in (Mode.READ_ONLY, Mode.DRY_RUN):
        app = app_from_config(tmp_path / mode.value, backend, proxy, mode)
        async with app.run_test(size=(200, 50)) as pilot:
            said = keep_notifications(app)
            await firing(app, pilot)
            await pilot.press("a")
            if mode == Mode.DRY_RUN:
                await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "dialog")
                assert "DRY RUN: nothing will be sent" in dialog_words(app)
                await pilot.press("y")
            last = "dry run: nothing sent" if mode == Mode.DRY_RUN else "refused: read-only"
            await wait_until(pilot, lambda: any(
                e.details.get("action") == "silence"
                and str(e.details.get("message", "")).startswith(last)
                for e in app.tracker.journal.events), f"journaled: {last}")
            if mode == Mode.READ_ONLY:
                assert type(app.screen).__name__ != "YesNo"  # refused before the dialog
                assert any("READ-ONLY" in s for s in said)
        app.tracker.journal.close()
        assert [r for r in proxy.requests() if not r.startswith("GET ")] == [], mode
        assert manager.silences("active") == []


async def test_a_pending_alert_counts_down_from_the_rules_for(stack, tmp_path):
    """A rule with `for: 1h`: the alert stays pending; its row counts down to
    the moment it fires, the header shows the rule read from Prometheus."""
    _, ex, _ = stack
    slow = Backend("prometheus", ex.target, rules=RULES.replace("for: 2s", "for: 1h"))
    try:
        slow.wait_ready('ALERTS{alertstate="pending",service="payment-api"}', timeout=60)
        app = CBConsoleApp(overlay(slow, []), poll_interval=0.5)
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_until(pilot, lambda: " in 59m" in board_row(app) or
                             " in 1h00m" in board_row(app), "the countdown to firing", 60)
            assert "FIRING" not in board_row(app)
            assert "rule sum by (service) (circuit_breaker_state" in header(app)
            assert "for 1h00m" in header(app)
    finally:
        slow.stop()


async def test_an_inhibited_page_shows_by_which_alert(stack, proxy, tmp_path):
    manager, ex, backend = stack
    app = app_from_config(tmp_path, backend, proxy)
    ex.set("service_down", 1, service=SERVICE)  # ServiceDown inhibits CircuitBreakerOpen
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_until(pilot, lambda: "INHIBITED" in board_row(app),
                             "INHIBITED on the board", 90)
            assert f"INHIBITED inhibited by ServiceDown{{service={SERVICE}" in header(app)
    finally:
        ex.set("service_down", 0, service=SERVICE)
        app.tracker.journal.close()


async def test_an_ha_member_not_answering_is_named_and_the_other_is_used(tmp_path):
    first, second = ha_pair()
    fleet = None
    try:
        first.wait_ready(), second.wait_ready()
        fleet = breaker_fleet([first, second], cluster="eu-west")
        _, backend = next(fleet)
        app = console(tmp_path, backend, first, urls=[first.url, second.url])
        async with app.run_test(size=(200, 50)) as pilot:
            said = keep_notifications(app)
            await firing(app, pilot)
            assert header(app).count("PAGE CircuitBreakerOpen") == 1  # the pair's copies: one
            first.kill()
            await wait_until(pilot, lambda: f"ALERTMANAGER DOWN {first.url}" in header(app),
                             "the member down named in the header")
            assert "(the other member is used)" in header(app)
            assert "PAGE CircuitBreakerOpen" in header(app) and "FIRING" in board_row(app)
            await pilot.press("a")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "YesNo", "the dialog")
            assert "cluster=eu-west" in dialog_words(app)
            await pilot.press("y")
            await wait_until(pilot, lambda: second.silences("active"), "the silence on the other")
            [made] = second.silences("active")
            assert {(m["name"], m["value"], m["isRegex"]) for m in made["matchers"]} == {
                ("alertname", "CircuitBreakerOpen", False), ("service", SERVICE, False),
                ("cluster", "eu-west", False)}
            starts, ends = (datetime.fromisoformat(made[k].replace("Z", "+00:00"))
                            for k in ("startsAt", "endsAt"))
            assert 3500 <= (ends - starts).total_seconds() <= 3600  # ack_silence = 1h from now
            await wait_until(pilot, lambda: "SILENCED" in board_row(app), "SILENCED")
            assert any("Silenced in Alertmanager" in s for s in said)
            await pilot.press("4")  # the silence in the timeline: what, how long, who
            await wait_until(pilot, lambda: "cluster=eu-west for 60m: succeeded (alice)"
                             in flat(screen_text(app)), "the silence in the timeline pane")
        app.tracker.journal.close()
    finally:
        if fleet is not None:
            fleet.close()
        first.stop(), second.stop()
