"""The data of a mitigation: what will be sent (Plan), how far it has got
(Progress), how it ended (Outcome). Data only: the dialogs show it, the
action runner (console.mitigations.runner) builds and executes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Mode(str, Enum):
    LIVE = "live"
    DRY_RUN = "dry-run"  # dialogs and equivalents, nothing sent
    READ_ONLY = "read-only"  # mutating actions refused before any request


@dataclass(frozen=True)
class Plan:
    action: str  # "restart", "fallback", "flag", "smoke"
    service: str  # the breaker service it is for
    title: str  # "Restart deployment/payment-api (runbook Option 2)"
    target: str  # "shop/deployment/payment-api", or the flag's URL
    request: str  # the exact request: method, path, headers (token masked), body
    equivalent: str  # the kubectl / curl command doing the same, token masked
    namespace: str | None = None
    context: str | None = None  # kube context, for the dialog
    site: str = ""  # the site (cluster) it is for; "" the implicit one
    production: bool = False  # its context is production (the dialog's red)
    reason: str = ""  # why this target was preselected / what the state is now
    mutating: bool = True
    refusal: str | None = None  # set: the action cannot be done, and why
    alternative: Plan | None = None  # restart: the other deployment (caller/downstream)
    # What execute() sends; the request text above is rendered from these.
    deployment: str | None = None
    patch: dict | None = None
    field_manager: str | None = None
    flag: str | None = None
    enable: bool | None = None
    url: str | None = None  # smoke test URL
    operations: list | None = None  # rollback: the JSON patch (application/json-patch+json)
    changes: tuple[str, ...] = ()  # what it changes, lines for the dialog (rollback)
    # Rollback: the plans of this deployment's other revisions, newest first,
    # this one among them; the dialog's [ and ] step through them.
    revisions: tuple[Plan, ...] = ()
    details: dict[str, str] = field(default_factory=dict)
    # (row, words) for the dialog: what else it touches (the caller's blast radius)
    touches: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Progress:
    fraction: float | None  # 0..1, None for indeterminate
    message: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # for the action log, plain words
    verified: bool | None = None  # None: nothing to verify or not verifiable
    details: dict[str, str] = field(default_factory=dict)
