"""The poll process under a running console, as the operator sees it, on a
real Prometheus (behind the fault proxy, which holds a poll mid-flight): the
process killed mid-poll is restarted, the header says so, polling resumes
and the journal loses nothing; the errors it meets keep their types and
words; its secrets never reach a command line."""

from __future__ import annotations

import json
import os
import signal

import pytest

from console import secrets
from console.errors import SourceError, TimedOut, Unreachable, describe_error
from console.incident.journal import Journal
from console.incident.tracker import IncidentTracker
from console.sources.pollproc.proxy import ProcessSource
from console.sources.prometheus.auth import PrometheusAuth
from console.sources.prometheus.source import PrometheusSource
from console.ui.app import CBConsoleApp
from tests.faultproxy import FaultProxy
from tests.fxprom import header
from tests.promserver import RUNBOOK_STATES, Backend, Exporter
from tests.screen import rendered, row, wait_until, wait_until_sync
from widgets.board import BreakerBoard

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

PODS = "abc"


def states(service: str, state_of: dict[str, str]) -> list:
    return [("circuit_breaker_state", {"service": service, "pod": f"{service}-{p}", "state": s},
             1 if s == state_of[p] else 0) for p in PODS for s in RUNBOOK_STATES]


@pytest.fixture(scope="module")
def fleet():
    """pp-pay OPEN on 3 pods, pp-users CLOSED, on a Prometheus of its own
    (the tests change the exporter's states)."""
    ex = Exporter()
    ex.update(states("pp-pay", dict.fromkeys(PODS, "open"))
              + states("pp-users", dict.fromkeys(PODS, "closed")))
    backend = Backend("prometheus", ex.target)
    try:
        backend.wait_ready('circuit_breaker_state{service="pp-users"}', timeout=40)
        yield ex, backend
    finally:
        backend.stop()
        ex.close()


@pytest.fixture
def proxy(fleet):
    _, backend = fleet
    with FaultProxy("127.0.0.1", int(backend.url.rsplit(":", 1)[1])) as p:
        yield p


def on_disk(journal: Journal) -> list[dict]:
    """The journal's events as written to its file (none before it exists)."""
    path = journal.path
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_the_poll_process_killed_mid_poll_is_restarted_and_nothing_is_lost(
        fleet, proxy, tmp_path):
    ex, _ = fleet
    source = ProcessSource(proxy.url, backfill_minutes=5, timeout=5.0)
    journal = Journal.open_or_resume(tmp_path / "state", actor="test")
    app = CBConsoleApp(source, tracker=IncidentTracker(journal), poll_interval=0.5)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            board = app.query_one(BreakerBoard)
            await wait_until(pilot, lambda: "OPEN" in row(board, "pp-pay")
                             and on_disk(journal) and not journal.pending,
                             "pp-pay OPEN and the incident's opening written")
            before = on_disk(journal)
            first_child = source.pid
            proxy.set("stall")  # the next poll's requests are held: the child is mid-poll
            await wait_until(pilot, lambda: proxy.requests("stall"), "a poll held mid-flight")
            os.kill(first_child, signal.SIGKILL)
            await wait_until(pilot, lambda: "the poll process was killed by SIGKILL mid-poll"
                             in header(app), "the header saying the poll process died")
            # While it was down, a breaker moved: the new process must find it.
            ex.update(states("pp-pay", {"a": "closed", "b": "open", "c": "open"}))
            proxy.clear()
            await wait_until(pilot, lambda: "2/3" in row(board, "pp-pay")
                             and "STALE" not in header(app) and "poll process" not in header(app),
                             "polling resumed with the new state")
            assert source.pid not in (None, first_child)
            await wait_until(pilot, lambda: any(
                e["kind"] == "breaker_transition" and e["details"]["instance"] == "pp-pay-a"
                for e in on_disk(journal)), "the transition in the gap journalled")
    finally:
        source.close()
    after = on_disk(journal)
    assert after[:len(before)] == before  # nothing written before the death is lost
    assert [e["id"] for e in after] == list(range(after[0]["id"], after[0]["id"] + len(after)))
    gap = [e for e in after if e["kind"] == "data_gap"]
    assert gap and "poll process was killed by SIGKILL" in gap[0]["details"]["error"]
    assert any(e["kind"] == "data_back" for e in after)
    moved = [e for e in after if e["kind"] == "breaker_transition"
             and e["details"]["instance"] == "pp-pay-a"]
    assert [(m["details"]["from"], m["details"]["to"]) for m in moved] == [("open", "closed")]
    assert not os.path.exists(f"/proc/{first_child}/cmdline") or not open(
        f"/proc/{first_child}/cmdline").read()


@pytest.mark.parametrize("fault, kind", [("refuse", Unreachable), ("trickle", TimedOut)])
def test_a_failed_poll_says_the_same_words_with_the_same_type_as_in_process(proxy, fault, kind):
    proxy.trickle_bytes, proxy.trickle_interval = 1, 0.5
    far = ProcessSource(proxy.url, backfill_minutes=0, timeout=1.0)
    near = PrometheusSource(proxy.url, backfill_minutes=0, timeout=1.0)
    try:
        far.poll(), near.poll()
        proxy.set(fault)
        errors = []
        for source in (far, near):
            with pytest.raises(kind) as caught:
                source.poll()
            errors.append(caught.value)
        assert type(errors[0]) is type(errors[1])
        assert describe_error(errors[0]) == describe_error(errors[1])
        far.close()  # as at the console's exit: no poll process started again
        with pytest.raises(SourceError, match="stopped"):
            far.poll()
        assert far.pid is None
    finally:
        far.close()
        near.close()


def test_the_token_reaches_the_poll_process_by_no_command_line(fleet, tmp_path, monkeypatch):
    _, backend = fleet
    token = "pp-token-" + "x" * 24
    token_file = tmp_path / "token"
    token_file.write_text(token)
    with FaultProxy("127.0.0.1", int(backend.url.rsplit(":", 1)[1])) as auth_proxy:
        auth_proxy.token_file = token_file
        source = ProcessSource(auth_proxy.url, backfill_minutes=0,
                               auth=PrometheusAuth(bearer_token_file=token_file))
        try:
            assert [s.service for s in source.poll().services] == ["pp-pay", "pp-users"]
            cmdline = open(f"/proc/{source.pid}/cmdline", "rb").read()
            environ = open(f"/proc/{source.pid}/environ", "rb").read()
            assert token.encode() not in cmdline and token.encode() not in environ
            rotated = "pp-rotated-" + "y" * 24
            token_file.write_text(rotated)  # the child reads it again; the console masks it
            wait_until_sync(lambda: source.poll() and auth_proxy.requests("pass"), "a poll")
            assert secrets.redact(f"see {rotated}") == "see ***"
        finally:
            source.close()


def test_what_the_poll_process_logs_reaches_the_consoles_log(caplog):
    from tests.promserver import free_port
    source = ProcessSource(f"http://127.0.0.1:{free_port()}", backfill_minutes=0, timeout=1.0)
    try:
        with caplog.at_level("INFO"), pytest.raises(Unreachable, match="connection refused"):
            source.poll()
    finally:
        source.close()
    forwarded = [r for r in caplog.records if r.getMessage().startswith("[poll process]")]
    assert forwarded and "Traceback" in forwarded[0].getMessage()
    assert "connection refused" in forwarded[0].getMessage()


def test_sites_poll_at_once_from_threads_each_in_its_own_process(fleet):
    """As the multi-site source polls: one ProcessSource per site (as
    console.sites_cli.poll_process builds them), polled from threads at
    once, two threads on one of them taking turns."""
    import threading

    _, backend = fleet
    sources = [ProcessSource(backend.url, profile="runbook", site=site, backfill_minutes=0,
                             timeout=5.0) for site in ("eu-west", "us-east")]
    seen: list[tuple[int, list[str]]] = []
    failed: list[BaseException] = []

    def poll(source) -> None:
        try:
            for _ in range(3):
                names = [s.service for s in source.poll().services]
                seen.append((source.pid, names))
        except BaseException as error:  # noqa: BLE001 - the test says which
            failed.append(error)

    threads = [threading.Thread(target=poll, args=(s,)) for s in (*sources, sources[0])]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failed
        assert len(seen) == 9 and all(names == ["pp-pay", "pp-users"] for _, names in seen)
        assert {pid for pid, _ in seen} == {s.pid for s in sources}
        assert sources[0].pid != sources[1].pid and sources[0].restarts == 0
    finally:
        for s in sources:
            s.close()


def test_sites_through_one_host_poll_in_one_process_and_a_death_restarts_it_once(fleet, proxy):
    """As cbconsole builds a multi-site console's sources with poll_process
    (console.sites_cli.source_kind): every site's ProcessSource in one poll
    process. Both polls held mid-flight when it is killed fail with the
    reason, one new process is started for both, and both carry on."""
    import threading

    from console.sources.pollproc.proxy import PollHost, PollProcessLost

    host = PollHost()
    sources = [ProcessSource(proxy.url, profile="runbook", site=site, backfill_minutes=0,
                             timeout=5.0, host=host) for site in ("eu-west", "us-east")]
    outcomes: dict[str, object] = {}

    def poll(source) -> None:
        try:
            outcomes[source.sites[0]] = [s.service for s in source.poll().services]
        except BaseException as error:  # noqa: BLE001 - the test says which
            outcomes[source.sites[0]] = error

    try:
        threads = [threading.Thread(target=poll, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert outcomes == {"eu-west": ["pp-pay", "pp-users"], "us-east": ["pp-pay", "pp-users"]}
        first = host.pid
        assert first is not None and {s.pid for s in sources} == {first}
        outcomes.clear()
        held = len(proxy.requests("stall"))
        proxy.set("stall")
        threads = [threading.Thread(target=poll, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        wanted = held + sum(s.queries_per_poll for s in sources)
        wait_until_sync(lambda: len(proxy.requests("stall")) >= wanted,
                        "both sites' queries held in the poll process")
        os.kill(first, signal.SIGKILL)
        for t in threads:
            t.join(120)
        for site in ("eu-west", "us-east"):
            assert isinstance(outcomes[site], PollProcessLost), outcomes[site]
            assert "the poll process was killed by SIGKILL mid-poll" in describe_error(
                outcomes[site])
        assert host.restarts == 1 and host.pid not in (None, first)
        proxy.clear()
        for source in sources:
            assert [s.service for s in source.poll().services] == ["pp-pay", "pp-users"]
        assert {s.pid for s in sources} == {host.pid} and host.restarts == 1
        second = host.pid
        sources[0].close()
        assert host.pid == second  # the other site still polls through it
    finally:
        for s in sources:
            s.close()
    assert host.pid is None  # the last source closed ends the process
    assert not os.path.exists(f"/proc/{second}")
