"""The collector paused while polls read (console/gcpause.py): off for as
long as any poll reads, back on when the last one ends; what a poll leaves
alive frozen, never walked by a collection, and cyclic garbage still
collected by the sweep, also when polls leave it no gap."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from console import gcpause

pytestmark = pytest.mark.unit


_cycles: weakref.WeakSet = weakref.WeakSet()  # gc.get_objects() leaves frozen ones out


class Cycle:
    def __init__(self) -> None:
        self.me = self
        _cycles.add(self)


def cycles_alive() -> int:
    return len(_cycles)


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_two_polls_at_once_share_one_pause_and_the_last_one_out_ends_it():
    first_in, first_may_go = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first():
        with gcpause.paused():
            first_in.set()
            first_may_go.wait(10)
            seen["first, after the second left"] = gc.isenabled()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with gcpause.paused():
        seen["second, inside"] = gc.isenabled()
    seen["between"] = gc.isenabled()  # the first still reads
    first_may_go.set()
    thread.join(10)
    assert seen == {"second, inside": False, "between": False,
                    "first, after the second left": False}
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_someone_else_turned_off_off():
    gc.disable()  # cli.main's start-up, say
    with gcpause.paused():
        pass
    assert not gc.isenabled()


class Row:
    """A snapshot's row: alive after the poll, in no cycle."""


def young() -> set[int]:
    return {id(o) for generation in (0, 1, 2) for o in gc.get_objects(generation)}


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(gcpause.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(gcpause, "_swept", now[0])
    return now


def test_what_a_poll_leaves_is_frozen_and_the_sweep_collects_its_cycles(clock):
    gc.collect()
    before = cycles_alive()
    with gcpause.paused():
        rows = [Row() for _ in range(20_000)]  # the new snapshot
        for _ in range(5_000):  # garbage in cycles, made meanwhile
            Cycle()
    # No collection walks the rows (the young ones after every poll did,
    # ~100 ms at 20,000 breakers), nor the cycles yet.
    assert not young() & {id(r) for r in rows}
    assert cycles_alive() == before + 5_000
    gc.collect()
    assert cycles_alive() == before + 5_000
    clock[0] += gcpause.SWEEP_S - 1
    with gcpause.paused():
        pass
    assert cycles_alive() == before + 5_000  # not due yet
    clock[0] += 2
    with gcpause.paused():
        pass
    assert cycles_alive() == before  # swept
    assert not young() & {id(r) for r in rows}  # alive, frozen again
    assert len(rows) == 20_000


def test_polls_back_to_back_leave_it_paused_and_the_tick_freezes_and_sweeps(clock):
    gc.collect()
    before = cycles_alive()
    with gcpause.paused():
        rows = [Row() for _ in range(1000)]
        for _ in range(1000):
            Cycle()
        gcpause.collect_if_overdue(30)
        assert young() & {id(r) for r in rows}  # not overdue yet
        clock[0] += 31
        assert gcpause.overdue(30)
        gcpause.collect_if_overdue(30)
        assert not young() & {id(r) for r in rows}  # frozen, though the poll goes on
        assert not gcpause.overdue(30)  # counted again from now
        assert cycles_alive() == before + 1000
        clock[0] += gcpause.SWEEP_S
        gcpause.collect_if_overdue(30)
        assert cycles_alive() == before  # the sweep, still mid-poll
        assert not gc.isenabled()  # still paused for the poll
    assert gc.isenabled()
