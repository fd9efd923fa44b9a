"""Which recorded actions were mitigations. A dry run, a cancelled dialog and
a refused action are recorded step by step like any other, but nothing
reached the fleet: the postmortem's template rows, its Resolution section and
the console's mitigation count leave them out, and the event list names
them for what they were."""

from __future__ import annotations

from typing import Iterable

from console.incident.store import EventKind, JournalEvent
from console.mitigations.recorder import Stage

_FINAL = {Stage.CANCELLED.value, Stage.FAILED.value, Stage.VERIFIED.value,
          Stage.UNKNOWN.value}
REFUSED = "refused: "  # how ActionRunner words a refusal; the app's own too


def chains(events: Iterable[JournalEvent]) -> list[list[JournalEvent]]:
    """Action events grouped into one chain per action: a chain starts at
    `asked` (or the first step seen) and ends at a final stage. A refusal
    the app recorded on its own (no dialog) is a chain by itself."""
    found: list[list[JournalEvent]] = []
    open_chain: dict[tuple, list[JournalEvent]] = {}
    for e in events:
        if e.kind != EventKind.ACTION:
            continue
        if e.details.get("refused") == "true":
            found.append([e])
            continue
        key = (e.details.get("action"), e.service, e.details.get("target"))
        chain = open_chain.get(key)
        if chain is None or e.details.get("stage") == Stage.ASKED.value:
            chain = open_chain[key] = []
            found.append(chain)
        chain.append(e)
        if e.details.get("stage") in _FINAL:
            open_chain.pop(key, None)
    return found


def _message(e: JournalEvent) -> str:
    return str(e.details.get("message") or e.details.get("error") or "")


def not_applied(chain: list[JournalEvent]) -> str | None:
    """Why the chain is no mitigation ("dry run: nothing sent", "cancelled",
    "refused: why"), or None when something was sent."""
    stages = [e.details.get("stage") for e in chain]
    for e in chain:
        if _message(e).startswith(REFUSED):
            return " ".join(_message(e).split())
    refusal = next((e.details.get("refusal") for e in chain if e.details.get("refusal")), None)
    if refusal:
        return f"{REFUSED}{' '.join(str(refusal).split())}"
    if any(e.details.get("dry_run") == "true" for e in chain):
        return "dry run: nothing sent"
    if Stage.CANCELLED.value in stages:
        return "cancelled"
    if str(chain[0].details.get("action", "")).startswith("silence"):
        return "a silence in Alertmanager: the page, not the fleet"  # issue 19

    if Stage.SENT.value not in stages:
        return "nothing sent"
    return None


def applied(events: Iterable[JournalEvent]) -> list[list[JournalEvent]]:
    """The chains that sent something (whatever their outcome)."""
    return [c for c in chains(events) if not_applied(c) is None]


def step_words(e: JournalEvent) -> str:
    """One action step as the event list says it: a dry run's or a refusal's
    end step says so instead of "succeeded" / "failed"."""
    stage = str(e.details.get("stage"))
    if e.details.get("said") == "true":  # a step in its own words (a silence left, taken back)
        return " ".join(_message(e).split())
    if e.details.get("dry_run") == "true":
        return "dry run: nothing sent"
    if _message(e).startswith(REFUSED):
        return " ".join(_message(e).split())
    return stage


def count(events: Iterable[JournalEvent]) -> int:
    """Mitigations that sent something and succeeded (the console's count)."""
    return sum(1 for c in applied(events)
               if any(e.details.get("stage") == Stage.SUCCEEDED.value for e in c))
