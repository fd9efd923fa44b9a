"""The postmortem's Prevention items: RUNBOOK-004's Prevention and Fix Root
Cause sections for the recorded root cause, the rollback of a likely-cause
rollout, and what the incident itself showed (no alert, data gaps, a late
acknowledgement, the mitigations carried out)."""

from __future__ import annotations

from datetime import datetime

from console.incident import applied as mitigations
from console.incident.events import alert_time, first, start_time
from console.incident.store import EventKind, JournalEvent, RootCauseCategory
from console.mitigations.registry import BY_NAME
from console.model.fleet import BreakerState
from console.text import one_line

# Prevention items, from RUNBOOK-004's Prevention and Fix Root Cause sections.
_TIMEOUT = ("Lower the request timeout for {svc} well below the 30 s that tripped the "
            "breaker (runbook Prevention 1: `timeout: 5.0`)")
_RETRY = ("Add retry with exponential backoff around calls to {svc} (runbook Prevention 2: "
          "RetryPolicy max_attempts=3, initial_delay=1.0, max_delay=10.0)")
_READY = ("Add a readiness check covering {svc} (runbook Prevention 3: `/ready` answers 503 "
          "while a downstream is down)")
_FALLBACK = ("Enable fallback for {svc} (runbook Prevention 1: `fallback_enabled: True`)")
_ERRORS = ("Review error handling around calls to {svc} (runbook Fix Root Cause: "
           "error rate issues)")
_CONFIG = ("Review the breaker configuration of {svc} (runbook Prevention 1: "
           "failure_threshold 5, success_threshold 2, recovery_timeout 60)")
_NETWORK = ("Check network policies and service discovery for {svc} (runbook Fix Root "
            "Cause: `kubectl get networkpolicies`, `kubectl get services {names}`)")
_DATABASE = ("Add database and Redis connectivity to the readiness check of {svc} (runbook "
             "Prevention 3; Diagnosis 5: postgres 5432, redis 6379)")
_ROLLOUT = ("Review recent changes before and after each rollout of {svc} (runbook "
            "Diagnosis 3: `kubectl rollout history deployment/<name>`)")
_SMOKE = ("Run the smoke test after each deployment of {svc} (runbook Load Test: "
          "`scripts/smoke_test.py`, expect 100% success)")
_MONITOR = ("Export breaker state changes as metrics for {svc} and alert on them (runbook "
            "Prevention 4 and 5)")

PREVENTION = {
    RootCauseCategory.DOWNSTREAM_TIMEOUT: (_TIMEOUT, _RETRY, _FALLBACK),
    RootCauseCategory.DOWNSTREAM_ERROR_RATE: (_ERRORS, _FALLBACK, _READY),
    RootCauseCategory.NETWORK: (_NETWORK, _READY, _RETRY),
    RootCauseCategory.DATABASE_CONNECTION: (_DATABASE, _CONFIG, _FALLBACK),
    RootCauseCategory.RATE_LIMITING: (_RETRY, _FALLBACK, _CONFIG),
    RootCauseCategory.RECENT_DEPLOYMENT: (_READY, _SMOKE, _ROLLOUT),
    RootCauseCategory.OTHER: (_CONFIG, _RETRY, _READY),
}


def _opened_at(events: list[JournalEvent], service: str | None) -> datetime | None:
    """When `service`'s breaker was first seen OPEN (else the incident's start)."""
    opened = next((e.at for e in events if e.kind == EventKind.BREAKER_TRANSITION
                   and e.service == service and e.details.get("to") == BreakerState.OPEN.value),
                  None)
    return opened or start_time(events)


def likely_causes(events: list[JournalEvent]) -> list[tuple[JournalEvent, datetime]]:
    """Rollouts seen that finished within the diagnosis' likely-cause window
    before their service's breaker opened (what it marks LIKELY CAUSE), with
    that opening time."""
    from console.diagnosis.findings import LIKELY_CAUSE_WINDOW

    found = []
    for e in events:
        if e.kind != EventKind.ROLLOUT_SEEN:
            continue
        opened = _opened_at(events, e.service)
        if opened is not None and opened - LIKELY_CAUSE_WINDOW <= e.at <= opened:
            found.append((e, opened))
    return found


def _undo(rollout: JournalEvent, opened: datetime, name, text) -> str:
    d = rollout.details
    ns, _, deployment = str(d.get("deployment") or "").rpartition("/")
    cause = text(d["change_cause"]) if d.get("change_cause") else "no change-cause recorded"
    undo = f"kubectl rollout undo deployment/{deployment}" + (f" -n {ns}" if ns else "")
    minutes = opened - rollout.at
    return (f"Fix or roll back the change of {name(d.get('deployment'))} revision "
            f"{d.get('revision')} (change-cause: {cause}), the likely cause: it rolled out "
            f"{minutes.total_seconds() / 60:.1f} min before the breaker of "
            f"{name(rollout.service)} opened (`{undo}`)")


def prevention(events, category: RootCauseCategory | None, services: list[str],
                overdue: bool, response_s: float | None, name=str, text=one_line) -> list[str]:
    names = [name(s) for s in services] or ["the service"]
    svc = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    fill = dict(svc=svc, names=" ".join(names))
    causes = likely_causes(events)
    items = [_undo(r, opened, name, text) for r, opened in causes]
    suspects = {r.id for r, _ in causes}
    items += [t.format(**fill) for t in PREVENTION[category or RootCauseCategory.OTHER]]
    if alert_time(events) is None:
        items.append("Create the CircuitBreakerOpen alert where this incident had none "
                     "(runbook Prevention 5)")
    if first(events, EventKind.DATA_GAP):
        items.append(_MONITOR.format(**fill) + ": the data had gaps during this incident")
    if overdue and response_s:
        items.append(f"Review paging: acknowledged after the {response_s / 60:g}-minute "
                     "response time (runbook Escalation)")
    t0 = start_time(events)
    for rollout in (e for e in events if e.kind == EventKind.ROLLOUT_SEEN
                    and e.id not in suspects):
        # A rollout after T+0 is a mitigation (ours or someone's), not a suspect.
        if category != RootCauseCategory.RECENT_DEPLOYMENT and (t0 is None or rollout.at <= t0):
            items.append(f"Check whether the rollout of {name(rollout.details.get('deployment'))} "
                         f"(revision {rollout.details.get('revision')}) contributed")
    for chain in mitigations.applied(events):
        # What a mitigation carried out calls for, in its own words (the registry's).
        mitigation = BY_NAME.get(str(chain[0].details.get("action")))
        if mitigation is not None and mitigation.prevention:
            items.append(mitigation.prevention.format(svc=name(chain[0].service)))
    return list(dict.fromkeys(items))
