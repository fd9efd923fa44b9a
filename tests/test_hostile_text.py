"""Hostile text everywhere it can reach the screen: service and instance
labels, alert names, notices, poll errors, pod logs, change-causes, API error
messages, flag names and flag service error bodies. Each is driven onto the
screen with Pilot; what the terminal would receive must show the text
literally (markup as brackets, escapes as \\x1b), never act on it (no ESC,
BEL, C1, NUL or RLO), and the rest of the layout must stay readable.

The postmortem export escapes the same characters the same way (see
console.incident.postmortem.visible): a markdown file is read with cat and less."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Button

from console.incident import export
from console.incident import postmortem
from console.ui.app import CBConsoleApp
from console.incident.tracker import IncidentTracker, TrackerConfig
from console.incident.journal import Journal
from console.model.fleet import Alert
from console.model.fleet import BreakerState as S
from console.mitigations.plan import Mode
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.base import SourceError
from console.sources.flags import HttpFlagService
from console.sources.kube import KubernetesCluster
from tests.fakes import T0, ScriptedSource, clock, service
from tests.flagserver import FlagServer
from tests.hostile import (
    CONTROLS,
    CSI,
    EMOJI,
    EVERYTHING,
    HOSTILE,
    LINK,
    LONG,
    MARKUP,
    OSC_LINK,
    OSC_TITLE,
    RTL,
    SHOWN,
)
from tests.kubeserver import KubeServer
from tests.screen import (assert_inert, flat, keep_notifications, line_with, quiesce, screen_text,
                          settle, toasts_text)
from widgets.board import BreakerBoard
from widgets.confirm import ConfirmDialog

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

async def poll(app, pilot) -> None:
    app.poller.start()
    await settle(app, pilot)


def select(app, name: str) -> None:
    board = app.query_one(BreakerBoard)
    board.move_cursor(row=board.get_row_index(name))


# --- Labels from the breaker source ----------------------------------------------------


async def test_hostile_labels_on_board_detail_header_and_dialog():
    c = clock()
    names = [f"s{i}-{value}" for i, value in enumerate(HOSTILE)]
    source = ScriptedSource(
        c, [service(n, S.OPEN) for n in names]
        + [service("ok-svc"), service("half-svc", S.HALF_OPEN, S.CLOSED)])
    source.label = f"prom {OSC_TITLE}{MARKUP}"
    source.alerts = (
        Alert(name=f"Fleet{MARKUP}{OSC_TITLE}", state="firing"),
        Alert(name=f"Svc{LINK}{CSI}", state="firing", service=names[0], active_at=T0),
    )
    source.notices = (f"notice {OSC_LINK}{MARKUP}",)
    app = CBConsoleApp(source, poll_interval=3600, clock=c)
    async with app.run_test(size=(200, 60), notifications=True) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert_inert(text)
        for shown in SHOWN:
            assert shown in text, f"{shown!r} not on the board"
        # The header: source label, fleet-wide alert, notice, all literal.
        assert "source: prom \\x1b]0;pwned\\x07[bold red]x[/]" in text
        assert "ALERT Fleet[bold red]x[/]\\x1b]0;pwned\\x07 FIRING" in text
        assert "note: notice \\x1b]8;;http://evil\\x1b\\\\[bold red]x[/]" in text
        # The layout stays: every row still shows its state, the 10,000
        # character name is cut and its own state is on its line too.
        assert "CLOSED" in line_with(text, "ok-svc")
        assert "HALF-OPEN" in line_with(text, "half-svc")
        long_row = line_with(text, "LLLLLLLLLL")
        assert "…" in long_row and "OPEN" in long_row
        for name in names[:-1]:
            assert "OPEN" in line_with(text, name[:3]), name

        # The detail pane of each, with its hostile instance names.
        for name, shown in zip(names, SHOWN):
            select(app, name)
            await pilot.pause()
            text = screen_text(app)
            assert_inert(text, f"the detail of {name[:20]!r}")
            if value_is_long := shown == "LLLLLLLLLL":
                # Cut in the summary and the instance table, its state beside it.
                rows = [line for line in text.splitlines() if shown in line and "OPEN" in line]
                assert len(rows) >= 3, text
            assert value_is_long or shown in line_with(text, "-pod-0"), name[:20]
        select(app, names[0])
        await pilot.pause()
        assert "ALERT Svc[link=http://evil]click[/link]\\x1b[2J FIRING" in screen_text(app)

        # The restart dialog names the deployment after the hostile service.
        select(app, names[3])  # OSC title
        await pilot.pause()
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        text = screen_text(app)
        assert_inert(text, "the confirmation dialog")
        assert "Restart deployment/s3-\\x1b]0;pwned\\x07" in text
        await pilot.press("n")
        await settle(app, pilot)
        assert "CLOSED" in line_with(screen_text(app), "ok-svc")
        await quiesce(app, pilot)


@pytest.mark.parametrize("name", [
    "a [/] b",  # markup that does not parse: a notification once crashed the app
    f"x{LINK}{MARKUP}",
    f"t{OSC_TITLE}{CSI}{RTL}",
])
async def test_notifications_quote_hostile_names_literally(name):
    c = clock()
    source = ScriptedSource(c, [service(name, S.OPEN), service("ok-svc")])
    app = CBConsoleApp(source, poll_interval=3600, clock=c, mode=Mode.READ_ONLY)
    keep_notifications(app)  # on screen until read, however slow the machine
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        select(app, name)
        await pilot.press("r")  # refused in read-only, naming the service
        await settle(app, pilot)
        text = screen_text(app)
        assert_inert(text)
        toast = toasts_text(app)
        assert toast, "no notification shown"
        assert "READ-ONLY" in toast
        # Literal, with its brackets: "[/]" and "[link=" are visible text.
        visible_name = (name.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
                        .replace("\u202e", "\\u202e"))
        assert visible_name[:18] in toast.replace("\n", "")
        assert app.is_running
        await quiesce(app, pilot)


async def test_hostile_poll_errors_in_the_header():
    c = clock()
    source = ScriptedSource(c, [service("payment-api", S.OPEN), service("ok-svc")])
    app = CBConsoleApp(source, poll_interval=2, clock=c)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        source.error = SourceError(f"upstream said {EVERYTHING}")
        await poll(app, pilot)
        text = screen_text(app)
        assert_inert(text)
        assert "last poll failed, retrying: upstream said [bold red]x[/][link=http://evil]" in flat(text)
        c.advance(60)  # STALE, carrying the same reason
        app.views.refresh()
        await pilot.pause()
        text = screen_text(app)
        assert_inert(text)
        assert "STALE" in text and "upstream said [bold red]x[/]" in flat(text)
        assert "CLOSED" in line_with(text, "ok-svc")
        await quiesce(app, pilot)


# --- Text from the cluster and the flag service --------------------------------------

TOKEN = "flag-admin-token-hostile"
FLAG = f"flag{MARKUP}{OSC_TITLE}"


@pytest.fixture
def kube():
    with KubeServer() as server:
        server.add_deployment("api", "shop", replicas=1)
        server.add_deployment("payment-api", "shop", replicas=2, revisions=2,
                              change_cause=f"deploy {MARKUP} {OSC_TITLE} {RTL} {EMOJI}")
        for pod in server.pods("shop", "payment-api"):
            server.set_log("shop", pod["metadata"]["name"],
                           f"ERROR pool {CSI}{MARKUP} exhausted\n"
                           f"ERROR {OSC_LINK}{LINK} {CONTROLS}\nERROR {LONG}\n")
        for pod in server.pods("shop", "api"):
            server.set_log("shop", pod["metadata"]["name"], f"circuit OPEN {OSC_TITLE}{RTL}\n")
        yield server


@pytest.fixture
def flags(monkeypatch):
    server = FlagServer(token=TOKEN)
    server.put(FLAG, True)
    monkeypatch.setenv("HOSTILE_FLAGS_TOKEN", TOKEN)
    yield server
    server.close()


async def test_hostile_cluster_and_flag_text_in_diagnosis_dialogs_and_action_log(
        kube, flags, tmp_path):
    c = clock()
    cluster = KubernetesCluster(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace="shop")), timeout=2)
    flag_service = HttpFlagService(flags.url, token_env="HOSTILE_FLAGS_TOKEN", timeout=2)
    smap = ServiceMap({"payment-api": ServiceEntry(flag=FLAG)}, namespace="shop")
    source = ScriptedSource(c, [service("payment-api", S.OPEN), service("ok-svc")])
    app = CBConsoleApp(source, cluster=cluster, flags=flag_service, service_map=smap,
                       poll_interval=3600, clock=c)
    app.mitigations.runner.verify_timeout_s = 0.2
    keep_notifications(app)
    try:
        async with app.run_test(size=(200, 60), notifications=True) as pilot:
            await settle(app, pilot)
            select(app, "payment-api")
            await pilot.press("2", "g")
            await settle(app, pilot)
            text = screen_text(app)
            assert_inert(text, "the diagnosis pane")
            assert "deploy [bold red]x[/] \\x1b]0;pwned\\x07 مرحبا" in text  # change-cause
            assert "pool \\x1b[2J[bold red]x[/] exhausted" in text  # a log line
            assert "\\x1b]8;;http://evil\\x1b\\\\[link=http://evil]click[/link]" in text
            assert "circuit OPEN \\x1b]0;pwned\\x07" in text  # the caller's log
            assert "flag[bold red]x[/]\\x1b]0;pwned\\x07 enabled" in text
            # The 10,000-character line is cut: the caller's logs stay in view.
            assert "LLLL… (+9606" in text

            # An API error message quoting hostile text, in the action log
            # and the notification.
            kube.fail("PATCH", "/apis/apps/v1/namespaces/shop/deployments/*", 500,
                      message=f"admission webhook: {EVERYTHING}")
            await pilot.press("f")
            await settle(app, pilot)
            assert isinstance(app.screen, ConfirmDialog)
            assert_inert(screen_text(app), "the fallback dialog")
            await pilot.press("y")
            await settle(app, pilot)
            assert app.mitigations.recorder.events[-1].stage.value == "failed"
            text = screen_text(app)
            assert_inert(text, "the action log")
            assert "admission webhook: [bold red]x[/][link=http://evil]click[/link]" in flat(text)
            toast = flat(toasts_text(app))  # as shown: escaped by the app
            assert "admission webhook: [bold red]x[/]" in toast and "\x1b" not in toast

            # The flag dialog shows the hostile flag name; the service's
            # error body comes back quoted.
            await pilot.press("d")
            await settle(app, pilot)
            box = app.screen
            assert isinstance(box, ConfirmDialog)
            text = screen_text(app)
            assert_inert(text, "the flag dialog")
            assert "flag[bold red]x[/]\\x1b]0;pwned\\x07" in text
            assert not box.query_one("#confirm", Button).disabled
            flags.fail(500, f"boom {EVERYTHING}", times=5)
            await pilot.press("y")
            await settle(app, pilot)
            text = screen_text(app)
            assert_inert(text, "the action log")
            assert "answered 500: boom [bold red]x[/][link=http://evil]" in flat(text)
            assert "CLOSED" in line_with(text, "ok-svc")
            await quiesce(app, pilot)
    finally:
        cluster.close()
        flag_service.close()


# --- The timeline and the postmortem ---------------------------------------------------

ALERT = f"CB{MARKUP}{OSC_TITLE}"


async def test_hostile_text_in_the_timeline_and_the_postmortem(tmp_path):
    c = clock()
    name = f"pay{MARKUP}{OSC_TITLE}{RTL}"
    journal = Journal.open_or_resume(tmp_path / "state", actor=f"al{CSI}ice", clock=c)
    tracker = IncidentTracker(journal, TrackerConfig(alert_name=ALERT))
    source = ScriptedSource(c, [service(name, S.OPEN), service("ok-svc")])
    source.alerts = (Alert(name=ALERT, state="firing", service=name, active_at=T0),)
    app = CBConsoleApp(source, tracker=tracker, poll_interval=3600, clock=c)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await settle(app, pilot)
        assert journal.is_open
        tracker.note(f"saw {EVERYTHING}", c())
        tracker.root_cause(f"cause {OSC_LINK}{LINK}", "other", c())
        await pilot.press("4")
        app.views.refresh()
        await settle(app, pilot)
        text = screen_text(app)
        assert_inert(text, "the timeline")
        assert "Note #" in text and "saw [bold red]x[/][link=http://evil]click[/link]" in text
        assert "cause \\x1b]8;;http://evil\\x1b\\\\[link=http://evil]click[/link]" in text
        assert "pay[bold red]x[/]\\x1b]0;pwned\\x07" in text
        await quiesce(app, pilot)

    events = list(journal.events)
    md = postmortem.render(events, None, now=c())
    assert_inert(md, "the markdown postmortem")
    # Escaped as the console shows them, not removed: the reader sees what was there.
    assert "saw [bold red]x[/][link=http://evil]click[/link]\\x1b[2J\\x1b]0;pwned\\x07" in md
    # A name's markdown characters are escaped too (a service name is no markup).
    assert "pay\\[bold red\\]x\\[/\\]\\x1b\\]0;pwned\\x07مرحبا שלום \\u202eevil" in md
    assert "(al\\x1b\\[2Jice)" in md
    # (A note is one line: CR, like any whitespace, folds into a space.)
    assert "nul\\x00bs\\x08cr del\\x7fc1\\x9b31m" in md

    # `cbconsole export` to files, markdown and JSON.
    for fmt in ("md", "json"):
        out = tmp_path / f"pm.{fmt}"
        code = export.main(["--state-dir", str(tmp_path / "state"), "--format", fmt,
                            "--no-impact", "-o", str(out)], clock=c)
        assert code == 0
        raw = out.read_text(encoding="utf-8")
        assert_inert(raw, f"the {fmt} export")
    doc = json.loads((tmp_path / "pm.json").read_text(encoding="utf-8"))
    assert name in doc["services"]  # JSON escapes, losslessly
    assert any(f"saw {MARKUP}{LINK}{CSI}{OSC_TITLE}{OSC_LINK}{RTL}" in e["text"]
               for e in doc["events"])
