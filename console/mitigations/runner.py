"""The runbook's mitigations as plans and their execution.

A Plan is built first (blocking reads only), shown in the confirmation
dialog exactly as it will be sent, and executed only after the operator's
`y`: sent once, never retried blindly, then verified. Every step goes to the
one ActionRecorder. Blocking: plan and execute in thread workers.

Restart plans carry the other deployment in `alternative` (the caller for
Option 1, the downstream for Option 2); that alternative's own `alternative`
is the first plan without one, so a dialog can toggle between `plan` and
`plan.alternative`, or call `swap()` any number of times. `execute()` ignores
`alternative`: it runs the plan it is given.
"""

from __future__ import annotations

import logging

import time
from dataclasses import replace
from typing import Callable

from console.clock import Clock, system_clock
from console.diagnosis.findings import Diagnosis, WorkloadView
from console.errors import first_line
from console.mitigations import fallback, flag, restart, smoke
from console.mitigations.base import READ_ONLY_REFUSAL, Step
from console.mitigations.plan import Mode, Outcome, Plan, Progress
from console.mitigations.prodlock import ProductionLocks
from console.mitigations.recorder import ActionEvent, ActionRecorder, Stage
from console.mitigations.registry import BY_NAME
from console.mitigations.restart import ALREADY_RESTARTED, PAUSED
from console.mitigations.words import short
from console.model.probe import HealthResult
from console.model.servicemap import ServiceTarget
from console.ports import ClusterSource, FlagSource, Probe

log = logging.getLogger(__name__)

__all__ = ["ALREADY_RESTARTED", "PAUSED", "READ_ONLY_REFUSAL", "ActionRunner", "Mode", "Outcome",
           "Plan", "Progress", "swap"]


def swap(plan: Plan) -> Plan:
    """The plan's alternative, pointing back at the plan: toggles for ever."""
    if plan.alternative is None:
        return plan
    return replace(plan.alternative, alternative=replace(plan, alternative=None))


class ActionRunner:
    """Builds and executes the runbook's mitigations. Holds no state of its
    own besides its configuration: plan and execute may run in several
    thread workers at once (the UI keeps one in flight per action)."""

    def __init__(
        self,
        *,
        cluster: ClusterSource | None,
        flags: FlagSource | None,
        probe: Probe | None,
        recorder: ActionRecorder,
        clock: Clock = system_clock,
        mode: Mode = Mode.LIVE,
        context: str | None = None,
        cluster_unavailable: str = "no cluster",
        flags_unavailable: str = "no flag service configured",
        sleep: Callable[[float], None] = time.sleep,
        rollout_timeout_s: float = 600,
        poll_s: float = 1.0,
        verify_timeout_s: float = 60,
        locks: ProductionLocks | None = None,
        site: str = "",
    ) -> None:
        self.site = site  # the site it acts on ("": the implicit one; SiteRouter.runner)
        self.production = False  # the site's context is production (the dialog's colour)
        self.cluster = cluster
        self.flags = flags
        self.probe = probe
        self.recorder = recorder
        self.clock = clock
        self.mode = Mode(mode)
        self.context = context
        self.cluster_unavailable = cluster_unavailable
        self.flags_unavailable = flags_unavailable
        self.sleep = sleep
        self.rollout_timeout_s = rollout_timeout_s
        self.poll_s = poll_s
        # How long new pods get to log "fallback" after their rollout.
        self.verify_timeout_s = verify_timeout_s
        self.locks = locks  # a production context takes nothing until unlocked

    # --- plans: each mitigation's own (console.mitigations.registry) --------------

    def plan(self, action: str, target: ServiceTarget, diagnosis: Diagnosis | None = None) -> Plan:
        """The plan of mitigation `action` for `target`, recorded as ASKED."""
        return self.stamped(BY_NAME[action].plan(self, target, diagnosis))

    def stamped(self, plan: Plan) -> Plan:
        """The plan (its alternative and revisions too) says which site it is for."""
        if plan.site == self.site and plan.production == self.production:
            return plan
        # A flag or smoke plan names no kube context: the site's says which cluster.
        return replace(plan, site=self.site, production=self.production,
                       context=plan.context if plan.context is not None else self.context,
                       alternative=plan.alternative and self.stamped(plan.alternative),
                       revisions=tuple(self.stamped(p) for p in plan.revisions))

    # The runbook's four by name, as the tests and tools call them.
    def plan_restart(self, target: ServiceTarget, health: HealthResult | None,
                     downstream: WorkloadView | None = None,
                     rollbacks: tuple[str, ...] = ()) -> Plan:
        return restart.plan_restart(self, target, health, downstream, rollbacks)

    def plan_fallback(self, target: ServiceTarget) -> Plan:
        return fallback.plan_fallback(self, target)

    def plan_flag(self, target: ServiceTarget) -> Plan:
        return flag.plan_flag(self, target)

    def plan_smoke(self, target: ServiceTarget, requests: int = 100) -> Plan:
        return smoke.plan_smoke(self, target, requests)


    def cancel(self, plan: Plan) -> None:
        self.record(plan, Stage.CANCELLED, {})

    def guarded(self, plan: Plan) -> Plan:
        """Read-only refuses every mutating plan, whatever else it says."""
        if self.mode is Mode.READ_ONLY and plan.mutating:
            return replace(plan, refusal=READ_ONLY_REFUSAL)
        return plan

    def asked(self, plan: Plan) -> Plan:
        details = {"title": plan.title, "request": plan.request,
                   "equivalent": plan.equivalent, "reason": plan.reason, "mode": self.mode.value}
        if plan.refusal:
            details["refusal"] = plan.refusal
        self.record(plan, Stage.ASKED, details)
        return plan

    # --- execution ---------------------------------------------------------------

    def execute(self, plan: Plan, report: Callable[[Progress], None]) -> Outcome:
        """Send the plan once, watch it take effect, verify. Never raises:
        every end is an Outcome and a FAILED or SUCCEEDED event."""
        self.record(plan, Stage.CONFIRMED, {"mode": self.mode.value})
        step = Step(self, plan, report)
        try:
            return self._execute(plan, step)
        except Exception as exc:  # a bug or a library surprise: still close the record
            log.exception("the %s of %s failed unexpectedly", plan.action, plan.target)
            return step.failed(f"unexpected error: {type(exc).__name__}: {short(first_line(exc))}")

    def _execute(self, plan: Plan, step: Step) -> Outcome:
        # Checked again here, before any request: the plan may come from
        # another runner or be older than the mode.
        if plan.mutating and self.mode is Mode.READ_ONLY:
            return step.failed(f"refused: {READ_ONLY_REFUSAL}")
        locked = self.locks.refusal(self.context) if self.locks and plan.mutating else None
        if locked and self.mode is Mode.LIVE:
            return step.failed(f"refused: {locked}")
        if plan.refusal:
            return step.failed(f"refused: {plan.refusal}")
        if plan.mutating and self.mode is Mode.DRY_RUN:
            message = f"dry run: nothing sent; equivalent: {plan.equivalent}"
            self.record(plan, Stage.SUCCEEDED, {"dry_run": "true", "message": message})
            return Outcome(ok=True, message=message, details={"dry_run": "true"})
        mitigation = BY_NAME.get(plan.action)
        if mitigation is None:
            return step.failed(f"unknown action {plan.action!r}")
        return mitigation.execute(self, plan, step)

    # --- recording ---------------------------------------------------------------------

    def record(self, plan: Plan, stage: Stage, details: dict) -> None:
        self.recorder.record(ActionEvent(
            at=self.clock(), action=plan.action, stage=stage, service=plan.service,
            target=plan.target, site=plan.site or self.site, details={str(k): str(v) for k, v in details.items()},
        ))
