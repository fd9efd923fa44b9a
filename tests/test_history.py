from datetime import timedelta

import pytest

from console.model.history import FleetHistory
from console.model.fleet import BreakerState as S
from console.model.fleet import FleetSnapshot, Observed, Transition
from tests.fakes import T0, service

pytestmark = pytest.mark.unit


def t(seconds: float, to: S = S.OPEN, frm: S = S.CLOSED, observed=Observed.LIVE) -> Transition:
    return Transition(
        service="pay", instance="p-0", from_state=frm, to_state=to,
        at=T0 + timedelta(seconds=seconds), observed=observed,
    )


def test_backfill_and_live_overlap_without_duplicates_newest_first():
    h = FleetHistory()
    assert h.add_transitions([t(1, observed=Observed.BACKFILL), t(5, S.HALF_OPEN, S.OPEN)]) == 2
    # The live poll re-reports the same change: not added twice.
    assert h.add_transitions([t(5, S.HALF_OPEN, S.OPEN), t(9, S.CLOSED, S.HALF_OPEN)]) == 1
    assert [x.at for x in h.transitions("pay")] == [T0 + timedelta(seconds=s) for s in (9, 5, 1)]


def test_history_is_bounded_per_service():
    h = FleetHistory(max_transitions=10)
    h.add_transitions([t(i, S.OPEN if i % 2 else S.CLOSED) for i in range(50)])
    kept = h.transitions("pay")
    assert len(kept) == 10 and kept[0].at == T0 + timedelta(seconds=49)


def test_error_series_keeps_unknown_as_none_and_is_bounded():
    h = FleetHistory(spark_points=3)
    for fail, ok in ((1.0, 1.0), (None, None), (0.0, 0.0), (3.0, 1.0)):
        h.apply(FleetSnapshot(fetched_at=T0, services=(service("pay", fail=fail, ok=ok),)))
    assert h.error_series("pay") == [None, None, 75.0]


def test_the_fleet_wide_cap_drops_the_oldest_transitions_first():
    from datetime import timedelta

    from console.model.history import FleetHistory
    from console.model.fleet import BreakerState, Transition
    from tests.fakes import T0

    history = FleetHistory(max_transitions=5, max_fleet_transitions=12)
    for i in range(40):
        history.add_transitions([Transition(
            service=f"svc-{i % 4}", instance="p", from_state=BreakerState.CLOSED,
            to_state=BreakerState.OPEN, at=T0 + timedelta(seconds=i))])
    kept = [t for s in range(4) for t in history.transitions(f"svc-{s}")]
    assert len(kept) == 12
    assert min(t.at for t in kept) == T0 + timedelta(seconds=28)  # the newest twelve
    assert all(len(history.transitions(f"svc-{s}")) == 3 for s in range(4))
    # One already kept is not added twice.
    assert history.add_transitions([kept[0]]) == 0


def test_a_copy_with_other_rows_finds_its_own_rows_not_the_original_s():
    """The poller works a snapshot's lookups out on its thread (warm); the
    incident's part of it (opening.only, a copy with fewer rows) and a
    site's stamp (a copy with another site) must not inherit them."""
    from console.incident.opening import only

    snapshot = FleetSnapshot(fetched_at=T0, services=(service("pay", S.OPEN), service("cart")))
    snapshot.warm()
    part = only(snapshot, "pay", None)
    assert set(part.by_key) == {("", "pay")} and part.service("cart") is None
    row = snapshot.by_key[("", "pay")]
    stamped = row.model_copy(update={"site": "eu-west"})
    assert stamped.key == ("eu-west", "pay") and row.key == ("", "pay")
    assert stamped.state == S.OPEN  # worked out again, the same
