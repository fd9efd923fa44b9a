"""The collector paused while polls read (console/gcpause.py): off for as
long as any poll reads, back on when the last one ends, and cyclic garbage
still collected, also when polls leave it no gap."""

from __future__ import annotations

import gc
import threading

import pytest

from console import gcpause

pytestmark = pytest.mark.unit


class Cycle:
    def __init__(self) -> None:
        self.me = self


def cycles_alive() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Cycle)


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


def test_garbage_in_cycles_made_during_a_poll_is_collected_when_it_ends():
    gc.collect()
    before = cycles_alive()
    with gcpause.paused():
        for _ in range(50_000):  # far past any threshold: nothing collects them now
            Cycle()
        assert cycles_alive() >= before + 50_000
    # The young collection at the end takes them (they were never promoted).
    assert cycles_alive() == before


def test_polls_back_to_back_leave_it_paused_and_the_tick_collects_anyway(monkeypatch):
    gc.collect()
    before = cycles_alive()
    clock = [1000.0]
    monkeypatch.setattr(gcpause.time, "monotonic", lambda: clock[0])
    with gcpause.paused():
        for _ in range(1000):
            Cycle()
        gcpause.collect_if_overdue(30)
        assert cycles_alive() == before + 1000  # not overdue yet
        clock[0] += 31
        assert gcpause.overdue(30)
        gcpause.collect_if_overdue(30)
        assert cycles_alive() == before
        assert not gcpause.overdue(30)  # counted again from now
        assert not gc.isenabled()  # still paused for the poll
    assert gc.isenabled()
