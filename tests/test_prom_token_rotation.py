"""Prometheus credentials that rotate: a projected service-account token
(`bearer_token_file`) replaced while the console runs, as the kubelet does it
(a new `..<timestamp>` directory, then the `..data` symlink swapped).

An auth proxy (tests/faultproxy.py with `token_file`) in front of one real
Prometheus accepts only the file's token of the moment, like the proxy a
Prometheus without auth of its own is run behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.ui.app import CBConsoleApp
from console.sources.base import SourceError
from console.sources.prometheus.auth import PrometheusAuth
from console.sources.prometheus.source import PrometheusSource
from tests.faultproxy import FaultProxy
from tests.fxprom import INTERVAL, header
from tests.screen import screen_text, wait_until
from tests.tokenfiles import ProjectedToken

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]


class PollOutcomes:
    """The app's polls of `source`, good and failed (with why)."""

    def __init__(self, source: PrometheusSource) -> None:
        self.good = 0
        self.failed: list[str] = []
        self._poll = source.poll
        source.poll = self

    def __call__(self):
        try:
            snapshot = self._poll()
        except Exception as exc:
            self.failed.append(str(exc))
            raise
        self.good += 1
        return snapshot


@pytest.fixture
def sa(tmp_path):
    return ProjectedToken(tmp_path / "sa")


@pytest.fixture
def proxy(fx_prometheus, sa):
    with FaultProxy("127.0.0.1", fx_prometheus.port) as p:
        p.token_file = sa.path
        yield p


# Generous: a poll that times out on a loaded machine would count as failed,
# and this test is about refusals, not speed (a loaded CI run timed out at 1 s).
TIMEOUT = 10.0


def source_for(proxy: FaultProxy, token_file: Path) -> PrometheusSource:
    return PrometheusSource(proxy.url, profile="runbook", backfill_minutes=5, timeout=TIMEOUT,
                            auth=PrometheusAuth(bearer_token_file=token_file))


async def test_a_token_rotated_under_a_running_console_never_fails_a_poll(proxy, sa, tmp_path):
    from console.incident import export
    from console.incident.tracker import IncidentTracker, TrackerConfig
    from console.incident.journal import Journal

    journal = Journal.open_or_resume(tmp_path / "state", actor="alice")
    source = source_for(proxy, sa.path)
    polls = PollOutcomes(source)
    app = CBConsoleApp(source, tracker=IncidentTracker(journal, TrackerConfig()),
                       poll_interval=INTERVAL)
    screens: list[str] = []

    async def polls_after(start: int, what: str) -> None:
        def done():
            screens.append(screen_text(app) + "\n" + header(app))
            return polls.good >= start + 2 or polls.failed
        await wait_until(pilot, done, what)

    async with app.run_test(size=(140, 40)) as pilot:
        await polls_after(0, "the first polls through the auth proxy")
        for _ in range(3):
            sa.rotate()  # between two polls: the next request sees the new file
            await polls_after(polls.good, "polls after a rotation")
            # The file replaced while a request is on its way: the proxy
            # refuses the token the request carries, the console reads the
            # file again and sends once more.
            raced = len(proxy.requests("unauthorized"))
            proxy.before_next(sa.rotate)
            await wait_until(pilot, lambda: len(proxy.requests("unauthorized")) > raced,
                             "a request refused after the file changed under it")
            await polls_after(polls.good, "polls after a rotation mid-request")
        assert polls.failed == [], polls.failed
    journal.close()
    assert len(sa.tokens) == 7 and len(proxy.requests("unauthorized")) >= 3
    # (A STALE from a slow poll on a loaded machine is not this test's business;
    # one from a 401 would say "refused".)
    assert not any("refused" in s or "HTTP 401" in s for s in screens), \
        next(s for s in screens if "refused" in s or "HTTP 401" in s)
    written = "".join(p.read_text() for p in (tmp_path / "state").rglob("*.jsonl"))
    out = tmp_path / "pm.md"
    assert export.main(["--state-dir", str(tmp_path / "state"), "--no-impact",
                        "-o", str(out)]) == 0
    for where, text in (("screen", "\n".join(screens)), ("journal", written),
                        ("export", out.read_text())):
        assert not any(token in text for token in sa.tokens), where


def test_a_token_the_proxy_never_accepts_is_an_error_naming_the_file(proxy, sa, tmp_path):
    """Read again and sent once more, then refused again: an error in plain
    words naming the file, never the token."""
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token-0123456789\n")
    source = source_for(proxy, wrong)
    try:
        with pytest.raises(SourceError) as caught:
            source.poll()
    finally:
        source.close()
    words = str(caught.value)
    assert f"also after reading the bearer token file {wrong} again" in words, words
    assert "not-the-token" not in words and sa.tokens[0] not in words
    refused = proxy.requests("unauthorized")
    # Each request (the version check the poll tolerates failing, then the
    # query) sent again once, not more.
    assert refused and all(refused.count(line) == 2 for line in refused), refused


def test_a_rotation_between_polls_is_seen_before_sending(proxy, sa):
    """The file is checked per request (a stat): a token swapped in between
    two polls is the one the next request carries, no 401 first."""
    source = source_for(proxy, sa.path)
    try:
        source.poll()
        first = len(proxy.requests("pass"))
        sa.rotate()
        source.poll()
        assert len(proxy.requests("pass")) > first
        assert proxy.requests("unauthorized") == []  # the change was seen before sending
        # ...and the new token is masked wherever the console writes text, from then on.
        from console import secrets
        assert secrets.redact(f"echoed {sa.tokens[-1]}!") == "echoed ***!"
    finally:
        source.close()
