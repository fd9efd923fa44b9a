"""Partial data as the incident's data-quality events (issue 18): a source
answering with warnings (SourceHealth PARTIAL: Thanos' partial responses,
VictoriaMetrics' isPartial) is journaled once when it starts and once when
it answers complete again, never once per poll."""

from __future__ import annotations

from typing import Iterable

from console.incident.store import Detail, EventKind, JournalEvent
from console.model.fleet import FleetSnapshot, SourceHealth, SourceStatus


class PartialSources:
    """The sources the journal holds as PARTIAL now (rebuilt from it: a
    restarted console records nothing twice)."""

    def __init__(self) -> None:
        self.partial: set[str] = set()

    def rebuild(self, events: Iterable[JournalEvent]) -> None:
        self.partial = set()
        for e in events:
            source = str(e.details.get("source") or "")
            if e.kind == EventKind.DATA_PARTIAL:
                self.partial.add(source)
            elif e.kind == EventKind.DATA_COMPLETE:
                self.partial.discard(source)

    def changes(self, snapshot: FleetSnapshot) -> list[tuple[EventKind, str, dict[str, Detail]]]:
        """(kind, site, details) of each source that became PARTIAL or
        complete since the journal last said. A STALE source says nothing
        of its data: it stays as it was."""
        out = []
        told = {h.name: h for h in snapshot.sources}
        for h in snapshot.sources:
            if h.status is SourceStatus.PARTIAL and h.name not in self.partial:
                self.partial.add(h.name)
                out.append((EventKind.DATA_PARTIAL, _site(h), {
                    **_where(h), "warnings": "\n".join(h.warnings)}))
        for name in sorted(self.partial):
            h = told.get(name)
            if h is None or h.status is SourceStatus.OK:
                self.partial.discard(name)
                out.append((EventKind.DATA_COMPLETE, _site(h) if h else "",
                            _where(h) if h else {"source": name}))
        return out


def _site(h: SourceHealth) -> str:
    """The event's site: the source's one named site, else none."""
    return h.sites[0] if len(h.sites) == 1 else ""


def _where(h: SourceHealth) -> dict[str, Detail]:
    return {"source": h.name, "sites": ",".join(s for s in h.sites if s)}
