"""The acknowledging silences an incident's journal says this console made
and still holds (issue 19): a console restarted during the incident takes
its own silence back from here, then reads it back from Alertmanager."""

from __future__ import annotations

from typing import Iterable

from console.incident.store import EventKind, JournalEvent
from console.mitigations.recorder import Stage
from console.mitigations.silence import ACTION, EXPIRE, EXTEND

_MADE = (ACTION, EXTEND)


def journaled_silences(events: Iterable[JournalEvent]) -> dict[str, str]:
    """service -> the id of the last silence made or extended for it that was
    not expired afterwards (a dry run made none)."""
    held: dict[str, str] = {}
    for e in events:
        d = e.details
        if e.kind != EventKind.ACTION or not e.service or d.get("stage") != Stage.SUCCEEDED.value:
            continue
        if d.get("dry_run") == "true" or not d.get("silence_id"):
            continue
        if d.get("action") in _MADE:
            held[e.service] = str(d["silence_id"])
        elif d.get("action") == EXPIRE and held.get(e.service) == str(d["silence_id"]):
            del held[e.service]
    return held
