"""The detail pane says why a breaker went OPEN -> CLOSED with no HALF-OPEN
seen, when its source knows why (opossum-prometheus drops halfOpen unless the
application listens for it), once, not per transition."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.ui.app import CBConsoleApp
from console.model.fleet import BreakerState as S, FleetSnapshot, Transition
from console.sources.prometheus.profiles import opossum_profile, runbook_profile
from tests.fakes import T0, ScriptedSource, clock, service
from tests.screen import screen_text

pytestmark = [pytest.mark.ui, pytest.mark.slow]

NOTE = opossum_profile().half_open_note


class WithTransitions(ScriptedSource):
    def __init__(self, c, services, transitions, note):
        super().__init__(c, services)
        self.transitions, self.note = transitions, note

    def poll(self) -> FleetSnapshot:
        snap = super().poll()
        out = snap.model_copy(update={"transitions": tuple(self.transitions),
                                      "half_open_note": self.note})
        self.transitions = []  # each transition is reported by one poll
        return out


def flips(*pairs):
    return [Transition(service="checkout", instance="checkout-pod-0", from_state=a, to_state=b,
                       at=T0 + timedelta(seconds=10 * i))
            for i, (a, b) in enumerate(pairs)]


async def detail_text(transitions, note) -> str:
    c = clock()
    app = CBConsoleApp(WithTransitions(c, [service("checkout")], transitions, note),
                       poll_interval=3600, clock=c)
    async with app.run_test(size=(160, 40)) as pilot:
        for _ in range(200):  # until the first poll is on screen
            await pilot.pause()
            if app.poller.snapshot is not None and "checkout-pod-0" in screen_text(app):
                break
        await pilot.pause()
        return screen_text(app)


async def test_open_to_closed_without_half_open_is_explained_once():
    text = await detail_text(flips((S.CLOSED, S.OPEN), (S.OPEN, S.CLOSED),
                                   (S.CLOSED, S.OPEN), (S.OPEN, S.CLOSED)), NOTE)
    assert text.count("with no HALF-OPEN seen") == 1, text
    assert "halfOpen listener" in text, text


async def test_no_note_when_half_open_was_seen_or_the_source_has_no_reason():
    seen = await detail_text(flips((S.CLOSED, S.OPEN), (S.OPEN, S.HALF_OPEN),
                                   (S.HALF_OPEN, S.CLOSED)), NOTE)
    assert "with no HALF-OPEN seen" not in seen, seen
    other = await detail_text(flips((S.CLOSED, S.OPEN), (S.OPEN, S.CLOSED)),
                              runbook_profile().half_open_note)
    assert "with no HALF-OPEN seen" not in other, other
