"""The production lock (issue 18): a kube context configured as production
(`[contexts.NAME] production = true`, or `[sites.X] production = true` for
the site's context) or named like production (a token `prod`, `production`
or `prd` in its name split on `- _ . : / @`, any case) takes no mutating
mitigation until the operator unlocks it by typing the context's name.
An unlock lasts as long as this console runs: it is kept in memory only,
never written to disk, and journaled (who, when, which context).

`config` is read by shape (its `contexts` and `sites` tables): the core
imports no console.config."""

from __future__ import annotations

import getpass
import logging
import re
from datetime import datetime
from typing import Any, Iterable

from console.clock import Clock, system_clock
from console.mitigations.recorder import ActionEvent, ActionRecorder, Stage

log = logging.getLogger(__name__)

#: The tokens that make a context's name a production one.
PRODUCTION_TOKENS = frozenset({"prod", "production", "prd"})
_SEPARATORS = re.compile(r"[-_.:/@]")
ACTION = "unlock"  # the journal's action name of an unlock


def named_like_production(context: str) -> bool:
    """`prod-eu-west`, `gke_shop_europe-west1_prd`, `arn:...:cluster/production`:
    yes; `preprod`, `product-x`, `staging`: no."""
    return any(t.casefold() in PRODUCTION_TOKENS for t in _SEPARATORS.split(context))


def lock_words(context: str) -> str:
    """How a locked context is refused, and how to unlock it."""
    return (f"{context} is a production context, locked: type {context} in the "
            "confirmation dialog to unlock it for this session; nothing sent")


def _operator() -> str:
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 - no USER/LOGNAME and no passwd entry (containers)
        return "unknown"


class ProductionLocks:
    """Which contexts are production and which of them this console has
    unlocked. `current_context`: the context a site without one uses (the
    kubeconfig's current); `recorder`: where each unlock is journaled (may be
    set later: the UI's own recorder)."""

    def __init__(self, config: Any = None, *, current_context: str | None = None,
                 operator: str | None = None, clock: Clock = system_clock,
                 recorder: ActionRecorder | None = None) -> None:
        self.operator = operator or _operator()
        self.clock = clock
        self.recorder = recorder
        self._configured: dict[str, bool] = {}  # context -> production, as configured
        for name, entry in (getattr(config, "contexts", None) or {}).items():
            if getattr(entry, "production", None) is not None:
                self._configured[name] = bool(entry.production)
        self._sites: set[str] = set()  # contexts of sites configured production
        for site in (getattr(config, "sites", None) or {}).values():
            context = getattr(site, "context", None) or current_context
            if getattr(site, "production", False) and context:
                self._sites.add(context)
        #: context -> when it was unlocked (this process only).
        self._unlocked: dict[str, datetime] = {}

    def is_production(self, context: str | None) -> bool:
        """Configured so (a site's `production = true` wins over its context's
        `production = false`), else by its name."""
        if not context:
            return False
        if context in self._sites:
            return True
        if context in self._configured:
            return self._configured[context]
        return named_like_production(context)

    def locked(self, context: str | None) -> bool:
        return self.is_production(context) and context not in self._unlocked

    def unlock(self, context: str, typed: str, *, service: str = "") -> bool:
        """True once `context` is unlocked: `typed` must be its name exactly
        (no case folding, no trimming of what is inside). Journaled through
        the recorder the first time; `service`: the row the dialog was for."""
        if not self.is_production(context):
            return True
        if typed != context:
            return False
        if context in self._unlocked:
            return True
        at = self._unlocked[context] = self.clock()
        message = (f"production context {context} unlocked by {self.operator} for as long as "
                   "this console runs (not written to disk)")
        log.info(message)
        if self.recorder is not None:
            self.recorder.record(ActionEvent(
                at=at, action=ACTION, stage=Stage.SUCCEEDED, service=service,
                target=f"context {context}",
                details={"context": context, "operator": self.operator, "message": message,
                         "said": "true"}))  # the timeline says it in these words
        return True

    def unlocked(self) -> tuple[str, ...]:
        """The contexts unlocked so far, in the order they were."""
        return tuple(self._unlocked)

    def states(self, contexts: Iterable[str | None] = ()) -> tuple[tuple[str, bool], ...]:
        """For the header: each production context among `contexts` and each
        unlocked one, with True when it is unlocked."""
        names = dict.fromkeys([c for c in contexts if c and self.is_production(c)]
                              + list(self._unlocked))
        return tuple((name, name in self._unlocked) for name in names)

    def refusal(self, context: str | None) -> str | None:
        """The refusal's words while `context` is locked, else None."""
        return lock_words(context) if context and self.locked(context) else None
