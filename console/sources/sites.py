"""Many sites, one board: a BreakerSource over one BreakerSource per site
(or one global source serving several), every one asked at once.

Each poll asks every member that is not still busy with an earlier one, in
its own thread, and waits for them up to `wait` seconds (the poll
interval): a poll's wall time is the slowest member's, not the sum. A member
that has not answered by then does not hold the others back: the merged
snapshot goes out with its last good rows, and those are STALE once older
than `stale_after` (its answer, when it comes, is taken at the next poll).
A member whose poll failed keeps its last good rows, STALE with the reason.
Every row, transition and alert carries its site; `snapshot.sources` says
each member's health (ok, PARTIAL with the API's warnings, STALE)."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, wait as wait_for
from dataclasses import dataclass, field
from datetime import datetime

from console import gcpause
from console.clock import Clock, system_clock
from console.errors import SourceError, describe_error
from console.model.fleet import FleetSnapshot, SourceHealth, SourceStatus
from console.ports import BreakerSource
from console.sources.threads import in_thread

log = logging.getLogger(__name__)

#: Rows older than this many waits are STALE (the poller's own rule: three polls).
STALE_AFTER_WAITS = 3


@dataclass
class Member:
    """One source and the sites its rows are."""

    name: str  # on its header entry: the site's name, or the global source's
    source: BreakerSource
    sites: tuple[str, ...]
    #: The site stamped on rows that carry none (a per-site source); None:
    #: the source stamps its own (the global one, split by cluster label).
    stamp: str | None = None


@dataclass
class _State:
    last: FleetSnapshot | None = None  # its last good answer, stamped
    error: str | None = None  # why its latest poll failed
    running: Future | None = None
    started: datetime | None = None
    #: Transitions answered but not yet delivered (each exactly once).
    transitions: list = field(default_factory=list)


class MultiSiteSource:
    def __init__(self, members: list[Member], *, wait: float, clock: Clock = system_clock,
                 stale_after: float | None = None, first_wait: float | None = None) -> None:
        if not members:
            raise ValueError("no sites")
        self.members = list(members)
        self.wait = wait
        self.stale_after = stale_after or STALE_AFTER_WAITS * wait
        #: Until some member has answered once (a first poll reads history
        #: too): the wait for the first answer, then `wait` for the others.
        self.first_wait = first_wait or STALE_AFTER_WAITS * wait
        self._answered = False
        self.clock = clock
        names = [s or "the cluster" for m in members for s in m.sites]
        self.label = f"{len(names)} sites: {', '.join(names)}"
        self._states = {m.name: _State() for m in members}

    @property
    def starts_after_first_frame(self) -> bool:
        """Its members are poll processes: they start after the first frame."""
        return any(getattr(m.source, "starts_after_first_frame", False) for m in self.members)

    @property
    def primary(self) -> BreakerSource:
        """The first member's source (what an incident records for its export)."""
        return self.members[0].source

    def poll(self) -> FleetSnapshot:
        asked = []
        for member in self.members:
            state = self._states[member.name]
            if state.running is None:
                state.started = self.clock()
                state.running = in_thread(gcpause.pausing(member.source.poll), f"poll {member.name}")
                asked.append(state.running)
        if not self._answered:
            running = [s.running for s in self._states.values() if s.running is not None]
            wait_for(running, timeout=self.first_wait, return_when=FIRST_COMPLETED)
        # Only for those asked now: one already late (a hung server) would
        # otherwise stretch every poll to the full wait.
        wait_for(asked, timeout=self.wait)
        for member in self.members:
            self._harvest(member)
        self._answered = self._answered or any(s.last for s in self._states.values())
        return self._merged(self.clock())

    def _harvest(self, member: Member) -> None:
        state = self._states[member.name]
        future = state.running
        if future is None or not future.done():
            return
        state.running = None
        try:
            snapshot = future.result()
            if not isinstance(snapshot, FleetSnapshot):
                raise SourceError(f"answered {type(snapshot).__name__}, not a snapshot")
        except Exception as error:  # noqa: BLE001 - any failure is shown as STALE, never fatal
            log.warning("site source %s failed", member.name, exc_info=True)
            state.error = describe_error(error)
            return
        snapshot = _stamped(snapshot, member.stamp)
        # A source that says its rows are its last good ones (a poll
        # process's) is STALE with its reason, its rows kept.
        state.last, state.error = snapshot, snapshot.error
        state.transitions += snapshot.transitions

    def _merged(self, now: datetime) -> FleetSnapshot:
        healths = [self._health(m, now) for m in self.members]
        if all(h.status == SourceStatus.STALE for h in healths):
            raise SourceError("; ".join(f"{h.name}: {h.reason}" for h in healths))
        services, transitions, alerts, notices = [], [], [], []
        half_open_note, pager, totals = None, None, {}
        several = len(self.members) > 1
        for member in self.members:
            state = self._states[member.name]
            last = state.last
            transitions += state.transitions
            state.transitions = []
            if last is None:
                continue
            services += last.services
            alerts += last.alerts
            notices += [f"{member.name}: {n}" if several else n for n in last.notices]
            half_open_note = half_open_note or last.half_open_note
            pager = pager or last.pager
            totals |= last.totals
        return FleetSnapshot(
            fetched_at=now,
            services=tuple(services),
            transitions=tuple(sorted(transitions, key=lambda t: t.at)),
            alerts=tuple(alerts),
            notices=tuple(notices),
            half_open_note=half_open_note,
            totals=totals,
            pager=pager,
            sources=tuple(healths),
        )

    def _health(self, member: Member, now: datetime) -> SourceHealth:
        state = self._states[member.name]
        last = state.last
        as_of = last.fetched_at if last is not None else None
        base = dict(name=member.name, sites=member.sites, as_of=as_of)
        if state.error is not None:
            return SourceHealth(**base, status=SourceStatus.STALE, reason=state.error)
        if state.running is not None:  # still busy with a poll, past this one's wait
            waited = (now - (as_of or state.started or now)).total_seconds()
            if last is None:
                return SourceHealth(**base, status=SourceStatus.STALE,
                                    reason=f"no answer yet (waiting {waited:.0f} s)")
            if waited > self.stale_after:
                return SourceHealth(**base, status=SourceStatus.STALE,
                                    reason=f"no answer for {waited:.0f} s")
        warnings = tuple(w for h in (last.sources if last else ()) for w in h.warnings)
        if warnings:
            return SourceHealth(**base, status=SourceStatus.PARTIAL, warnings=warnings)
        return SourceHealth(**base)

    def close(self) -> None:
        for member in self.members:
            close = getattr(member.source, "close", None)
            if close is not None:
                close()


def _stamped(snapshot: FleetSnapshot, site: str | None) -> FleetSnapshot:
    """The snapshot with `site` on every row, transition and alert that has
    none (a source that already stamps its own costs nothing here)."""
    if not site:
        return snapshot

    def stamp(items):
        return tuple(i if i.site else i.model_copy(update={"site": site}) for i in items)

    if all(s.site for s in snapshot.services) and all(t.site for t in snapshot.transitions) \
            and all(a.site for a in snapshot.alerts):
        return snapshot
    return snapshot.model_copy(update={
        "services": stamp(snapshot.services), "transitions": stamp(snapshot.transitions),
        "alerts": stamp(snapshot.alerts)})
