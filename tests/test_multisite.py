"""The multi-site source (issue 18) over in-process sources: every row,
transition and alert carries its site; a failing site keeps its last rows,
STALE with its reason; a stalled one never holds the others' rows back;
warnings make a site PARTIAL. (The same over real Prometheus servers:
tests/test_sites_real.py.)"""

import threading

import pytest

from console.errors import SourceError
from console.model.fleet import Alert, BreakerState, FleetSnapshot, SourceHealth, SourceStatus, Transition
from console.sources.sites import Member, MultiSiteSource
from tests.fakes import ScriptedSource, T0, clock, service
from tests.promserver import poll_until

pytestmark = [pytest.mark.unit, pytest.mark.slow]

OPEN, CLOSED = BreakerState.OPEN, BreakerState.CLOSED


class Gated(ScriptedSource):
    """Answers only once `gate` is set: a stalled server."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.gate = threading.Event()

    def poll(self):
        assert self.gate.wait(300), "never released"
        return super().poll()


class WithTransitions(ScriptedSource):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.transitions: list = []
        self.sources: tuple = ()

    def poll(self):
        snap = super().poll().model_copy(update={
            "transitions": tuple(self.transitions), "sources": self.sources})
        self.transitions = []
        return snap


def two_sites(wait=5.0, eu_class=WithTransitions):
    c = clock()
    eu = eu_class(c, [service("payment-api", OPEN, OPEN, OPEN)])
    us = WithTransitions(c, [service("payment-api", CLOSED), service("users", CLOSED)])
    source = MultiSiteSource([Member("eu-west", eu, ("eu-west",), stamp="eu-west"),
                              Member("us-east", us, ("us-east",), stamp="us-east")],
                             wait=wait, clock=c)
    return c, eu, us, source


def rows(snap: FleetSnapshot):
    return sorted((s.site, s.service, s.state.name) for s in snap.services)


def health(snap: FleetSnapshot) -> dict[str, tuple]:
    return {h.name: (h.status, h.reason) for h in snap.sources}


def test_every_row_transition_and_alert_carries_its_site():
    c, eu, us, source = two_sites()
    eu.alerts = (Alert(name="CircuitBreakerOpen", state="firing", service="payment-api"),)
    eu.transitions = [Transition(service="payment-api", instance="p-0", from_state=CLOSED,
                                 to_state=OPEN, at=T0)]
    snap = source.poll()
    assert rows(snap) == [("eu-west", "payment-api", "OPEN"), ("us-east", "payment-api", "CLOSED"),
                          ("us-east", "users", "CLOSED")]
    assert [(a.site, a.service) for a in snap.alerts] == [("eu-west", "payment-api")]
    assert [(t.site, t.service) for t in snap.transitions] == [("eu-west", "payment-api")]
    assert health(snap) == {"eu-west": (SourceStatus.OK, None), "us-east": (SourceStatus.OK, None)}
    assert snap.source_of("us-east").sites == ("us-east",)
    assert source.poll().transitions == ()  # delivered once
    source.close()


def test_a_failing_site_keeps_its_last_rows_stale_with_the_reason():
    c, eu, us, source = two_sites()
    source.poll()
    eu.error = SourceError("Prometheus at http://eu:9090 unreachable: connection refused")
    us.services = [service("payment-api", OPEN)]
    snap = source.poll()
    assert rows(snap) == [("eu-west", "payment-api", "OPEN"), ("us-east", "payment-api", "OPEN")]
    assert health(snap)["eu-west"] == (
        SourceStatus.STALE, "Prometheus at http://eu:9090 unreachable: connection refused")
    assert health(snap)["us-east"] == (SourceStatus.OK, None)
    us.error = SourceError("us down")
    with pytest.raises(SourceError, match="eu-west: .*refused; us-east: us down"):
        source.poll()  # nothing fresh at all: the poll fails, as one source's would
    source.close()


def test_a_stalled_site_never_holds_the_others_rows_back():
    c, eu, us, source = two_sites(wait=1.0, eu_class=Gated)
    snap = source.poll()
    assert rows(snap) == [("us-east", "payment-api", "CLOSED"), ("us-east", "users", "CLOSED")]
    assert health(snap)["eu-west"][0] == SourceStatus.STALE
    assert health(snap)["eu-west"][1].startswith("no answer yet")
    us.services = [service("payment-api", OPEN)]
    assert rows(source.poll()) == [("us-east", "payment-api", "OPEN")]  # the next poll's rows
    eu.gate.set()
    # Its answer, when it comes, is taken (at a next poll).
    snap = poll_until(source, lambda s: health(s)["eu-west"][0] == SourceStatus.OK,
                      "eu-west's late answer taken")
    assert ("eu-west", "payment-api", "OPEN") in rows(snap)
    source.close()


def test_rows_of_a_site_slow_for_longer_than_three_waits_are_stale():
    c, eu, us, source = two_sites(wait=0.5, eu_class=Gated)
    eu.gate.set()
    assert health(source.poll())["eu-west"] == (SourceStatus.OK, None)
    eu.gate.clear()
    source.poll()  # eu's poll now hangs
    c.advance(1.0)
    assert health(source.poll())["eu-west"][0] == SourceStatus.OK  # a poll late: still fresh
    c.advance(1.0)
    snap = source.poll()
    assert health(snap)["eu-west"] == (SourceStatus.STALE, "no answer for 2 s")
    assert ("eu-west", "payment-api", "OPEN") in rows(snap)  # its last rows, kept
    eu.gate.set()
    source.close()


def test_warnings_make_a_site_partial():
    c, eu, us, source = two_sites()
    us.sources = (SourceHealth(name="Prometheus", status=SourceStatus.PARTIAL,
                               warnings=("partial response: store eu-2 unreachable",)),)
    snap = source.poll()
    partial = snap.source_of("us-east")
    assert (partial.status, partial.warnings) == (
        SourceStatus.PARTIAL, ("partial response: store eu-2 unreachable",))
    assert snap.source_of("eu-west").status == SourceStatus.OK
    us.sources = ()
    assert source.poll().source_of("us-east").status == SourceStatus.OK  # per poll
    source.close()


def test_the_first_poll_waits_for_a_first_answer_then_not_for_the_rest():
    c = clock()
    eu, us = Gated(c, [service("payment-api", OPEN)]), Gated(c, [service("users", CLOSED)])
    source = MultiSiteSource([Member("eu-west", eu, ("eu-west",), stamp="eu-west"),
                              Member("us-east", us, ("us-east",), stamp="us-east")],
                             wait=0.1, first_wait=60, clock=c)
    timer = threading.Timer(0.3, eu.gate.set)  # a first poll slower than the wait
    timer.start()
    try:
        snap = source.poll()
        assert rows(snap) == [("eu-west", "payment-api", "OPEN")]
        assert health(snap)["us-east"][0] == SourceStatus.STALE
        assert health(snap)["us-east"][1].startswith("no answer yet")
    finally:
        us.gate.set()
        timer.join()
        source.close()


def test_a_site_already_late_does_not_stretch_the_next_polls():
    c, eu, us, source = two_sites(wait=0.2, eu_class=Gated)
    eu.gate.set()
    source.poll()
    eu.gate.clear()
    source.poll()  # eu's poll hangs past this poll's wait
    source.wait = 600  # were the next poll to wait for eu again, it would take 10 minutes
    us.services = [service("users", OPEN)]
    done: list = []
    poller = threading.Thread(target=lambda: done.append(source.poll()), daemon=True)
    poller.start()
    poller.join(60)
    try:
        assert done, "the poll waited for the site already late"
        assert rows(done[0]) == [("eu-west", "payment-api", "OPEN"), ("us-east", "users", "OPEN")]
    finally:
        eu.gate.set()
        source.close()
