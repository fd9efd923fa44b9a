"""The demo breaker follows RUNBOOK-004: 5 failures open it, 60 s later it is
half-open, 2 good probes close it, a bad probe re-opens it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.demo.breaker import SimBreaker
from console.model.fleet import BreakerState as S

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make(**kw) -> tuple[SimBreaker, list[tuple]]:
    seen: list[tuple] = []
    breaker = SimBreaker(T0, on_transition=lambda f, t, when: seen.append((f, t, when)), **kw)
    return breaker, seen


def fail(breaker: SimBreaker, times: int, when: datetime = T0) -> None:
    for _ in range(times):
        breaker.record_failure(when)


def test_starts_closed_since_creation():
    breaker, seen = make()
    assert breaker.state is S.CLOSED
    assert breaker.since == T0
    assert breaker.allow(at(1000))
    assert seen == []


def test_four_failures_stay_closed_the_fifth_opens():
    breaker, seen = make()
    fail(breaker, 4)
    assert breaker.state is S.CLOSED
    assert seen == []
    breaker.record_failure(at(2))
    assert breaker.state is S.OPEN
    assert breaker.since == at(2)
    assert seen == [(S.CLOSED, S.OPEN, at(2))]


def test_a_success_resets_the_consecutive_failure_count():
    breaker, _ = make()
    fail(breaker, 4)
    breaker.record_success(T0)
    fail(breaker, 4)
    assert breaker.state is S.CLOSED
    breaker.record_failure(T0)
    assert breaker.state is S.OPEN


def test_open_rejects_calls_until_the_recovery_timeout():
    breaker, seen = make()
    fail(breaker, 5, at(10))
    assert not breaker.allow(at(10))
    assert not breaker.allow(at(69.999))
    assert breaker.state is S.OPEN
    assert breaker.half_open_at == at(70)
    assert len(seen) == 1


def test_half_open_exactly_at_opened_plus_recovery_timeout():
    breaker, seen = make()
    fail(breaker, 5, at(10))
    breaker.advance(at(70) - timedelta(microseconds=1))
    assert breaker.state is S.OPEN
    breaker.advance(at(70))
    assert breaker.state is S.HALF_OPEN
    assert breaker.since == at(70)
    assert seen[-1] == (S.OPEN, S.HALF_OPEN, at(70))


def test_the_timer_fires_without_traffic_and_is_dated_when_due():
    breaker, seen = make()
    fail(breaker, 5, at(10))
    # Noticed late (no calls, a coarse tick): still dated at opened_at + 60 s.
    breaker.advance(at(95))
    assert breaker.state is S.HALF_OPEN
    assert seen[-1] == (S.OPEN, S.HALF_OPEN, at(70))


def test_allow_moves_an_expired_open_breaker_to_half_open():
    breaker, _ = make()
    fail(breaker, 5, at(10))
    assert breaker.allow(at(70))
    assert breaker.state is S.HALF_OPEN


def test_two_good_probes_close_it():
    breaker, seen = make()
    fail(breaker, 5, at(10))
    breaker.advance(at(70))
    breaker.record_success(at(71))
    assert breaker.state is S.HALF_OPEN
    breaker.record_success(at(72))
    assert breaker.state is S.CLOSED
    assert breaker.since == at(72)
    assert [(f, t) for f, t, _ in seen] == [
        (S.CLOSED, S.OPEN),
        (S.OPEN, S.HALF_OPEN),
        (S.HALF_OPEN, S.CLOSED),
    ]


def test_closed_again_needs_five_fresh_failures():
    breaker, _ = make()
    fail(breaker, 5, at(10))
    breaker.advance(at(70))
    breaker.record_success(at(71))
    breaker.record_success(at(71))
    fail(breaker, 4, at(72))
    assert breaker.state is S.CLOSED


def test_a_failed_probe_reopens_and_restarts_the_timer():
    breaker, seen = make()
    fail(breaker, 5, at(10))
    breaker.advance(at(70))
    breaker.record_success(at(71))
    breaker.record_failure(at(72))
    assert breaker.state is S.OPEN
    assert breaker.since == breaker.opened_at == at(72)
    assert seen[-1] == (S.HALF_OPEN, S.OPEN, at(72))
    assert not breaker.allow(at(131.9))
    assert breaker.allow(at(132))
    # The earlier good probe does not count towards closing after the re-open.
    breaker.record_success(at(133))
    assert breaker.state is S.HALF_OPEN


def test_calls_finishing_while_open_change_nothing():
    breaker, seen = make()
    fail(breaker, 5, at(10))
    breaker.record_success(at(11))
    breaker.record_failure(at(12))
    assert breaker.state is S.OPEN
    assert breaker.opened_at == at(10)
    assert len(seen) == 1


def test_custom_thresholds():
    breaker, seen = make(failure_threshold=2, recovery_timeout=5.0, success_threshold=3)
    breaker.record_failure(T0)
    assert breaker.state is S.CLOSED
    breaker.record_failure(T0)
    assert breaker.state is S.OPEN
    assert not breaker.allow(at(4.9))
    assert breaker.allow(at(5))
    breaker.record_success(at(6))
    breaker.record_success(at(6))
    assert breaker.state is S.HALF_OPEN
    breaker.record_success(at(6))
    assert breaker.state is S.CLOSED
    assert len(seen) == 3


def test_works_without_a_callback():
    breaker = SimBreaker(T0)
    fail(breaker, 5)
    assert breaker.state is S.OPEN
