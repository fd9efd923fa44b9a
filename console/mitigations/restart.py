"""Runbook Options 1 and 2: restart the caller or the downstream deployment
(`kubectl rollout restart`), the one the breaker's state points at first."""

from __future__ import annotations

import logging

from dataclasses import replace
from typing import Any

from console.diagnosis.decide import downstream_failing, health_unknown

from console.diagnosis.findings import Diagnosis, WorkloadView
from console.mitigations.base import Runner, Step, fresh
from console.mitigations.blast import also_calls
from console.mitigations.deployment import DeploymentChange, read
from console.mitigations.plan import Outcome, Plan
from console.mitigations.recorder import Stage
from console.mitigations.rollback import Rollback
from console.mitigations.words import health_words, patch_request, yes
from console.model import kubectl as ops
from console.model.fleet import Deployment
from console.model.probe import HealthResult
from console.model.servicemap import ServiceTarget

log = logging.getLogger(__name__)

# kubectl's words (pkg/polymorphichelpers/objectrestarter.go), after its usual prefix.
PAUSED = 'deployments.apps "{name}" can\'t restart paused deployment (run rollout resume first)'
ALREADY_RESTARTED = "restart has already been triggered within the past second"

class Restart(DeploymentChange):
    name = "restart"
    key = "r"
    label = "Restart"
    tooltip = "Restart the downstream or the caller deployment (runbook Options 2, 1)"
    words = "restart"
    waiting_for = "the restart's rollout to be verified"

    def plan(self, runner: Runner, target: ServiceTarget, diagnosis: Diagnosis | None) -> Plan:
        recent = fresh(diagnosis, runner.clock())
        health = recent.health if recent else None
        if health is None and runner.probe is not None and target.health_url:
            health = runner.probe.check(target.health_url)
        return plan_restart(runner, target, health, recent.downstream if recent else None,
                            recent.next_step.rollbacks if recent else ())

    def paused_refusal(self, name: str) -> str:
        return PAUSED.format(name=name)

    def landed(self, plan: Plan, dep: Deployment) -> bool:
        sent = plan.patch["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
        return dep.template_annotations.get(ops.RESTARTED_AT) == sent

    def verify(self, runner: Runner, plan: Plan, step: Step, dep: Deployment, words: str,
               seen: Any) -> Outcome:
        return _verify_restart(runner, plan, step, dep, words)

def plan_restart(runner: Runner, target: ServiceTarget, health: HealthResult | None,
                 downstream: WorkloadView | None = None,
                 rollbacks: tuple[str, ...] = ()) -> Plan:
    """Option 2 (the downstream) when something shows it failing, Option 1
    (the caller) when it answers healthy; with its health unknown, the
    downstream, saying that nothing shows it failing. `downstream` and
    `rollbacks` come from a fresh diagnosis (its pods and rollout, and
    the rollbacks its NEXT line puts first)."""
    view = downstream or WorkloadView(role="downstream", name=target.downstream)
    failing = downstream_failing(health, view)
    said = health_words(target, health)
    if failing and health is not None and health.healthy is False:
        down_why = f"{said}: the downstream is failing (Option 2)"
    elif failing:
        down_why = f"{failing}; {said} (Option 2)"
    else:
        unread = "" if view.deployment is not None or view.pods else (
            f" ({target.downstream}'s pods and rollout not read)")
        down_why = (f"{health_unknown(target, health)} Nothing shows {target.downstream} "
                    f"failing either{unread}: the downstream is preselected as the smaller "
                    f"restart (the breaker rejects its calls already); t switches to the "
                    f"caller (Option 1), which the runbook restarts when "
                    f"{target.downstream} is healthy.")
    caller_why = (f"{said}: the downstream is healthy but the breaker in {target.caller} "
                  "has not recovered (Option 1; the runbook first waits up to 5 min "
                  "for HALF_OPEN)")
    if rollbacks:
        undo = "; ".join(f"`{c}`" for c in rollbacks)
        # The key first: the rollback is one dialog away (kubectl's words beside it).
        first_undo = (". A restart does not undo a deploy (its new pods run the same "
                      f"template): roll back first: {Rollback.key} ({undo}).")
        down_why = down_why.rstrip(".") + first_undo
        caller_why = caller_why.rstrip(".") + first_undo
    if not failing and health is not None and health.healthy is True:
        first = _restart(runner, target, target.caller, 1, caller_why)
        other_why = (f"Option 2 instead: restart {target.downstream}, for when it is "
                     f"failing ({said})")
        other = _restart(runner, target, target.downstream, 2, other_why)
    else:
        first = _restart(runner, target, target.downstream, 2, down_why)
        other_why = (f"Option 1 instead: restart the caller {target.caller}, for when "
                     f"{target.downstream} is healthy but the breaker has not recovered")
        other = _restart(runner, target, target.caller, 1, other_why)
    if target.caller != target.downstream:
        first = replace(first, alternative=replace(other, alternative=first))
    runner.asked(first)
    return first


def _restart(runner: Runner, target: ServiceTarget, name: str, option: int, reason: str) -> Plan:
    ns = target.namespace
    patch = ops.restart_patch(runner.clock())
    details = {"option": str(option)}
    if option == 2 and target.health_url:
        details["health_url"] = target.health_url
    dep, refusal = read(runner, ns, name)
    if dep is not None:
        details["replicas"] = f"{dep.ready_replicas}/{dep.replicas} ready"
        stamp = patch["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
        if dep.paused:
            refusal = PAUSED.format(name=name)
        elif dep.template_annotations.get(ops.RESTARTED_AT) == stamp:
            refusal = ALREADY_RESTARTED
    return runner.guarded(Plan(
        action="restart",
        service=target.service,
        title=f"Restart deployment/{name} (runbook Option {option})",
        target=f"{ns}/deployment/{name}",
        request=patch_request(ns, name, patch, ops.RESTART_MANAGER),
        equivalent=ops.restart_command(runner.context, ns, name),
        namespace=ns,
        context=runner.context,
        reason=reason,
        refusal=refusal,
        deployment=name,
        patch=patch,
        field_manager=ops.RESTART_MANAGER,
        details=details,
        touches=(("Also", also_calls(target, dep)),) if name == target.caller else (),
    ))


def _verify_restart(runner: Runner, plan: Plan, step: Step, dep: Deployment, words: str) -> Outcome:
    name = plan.deployment
    sent = plan.patch["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
    details = {"rollout": words, "restartedAt": sent}
    health = _health_after(runner, plan)
    if health:
        details["health"] = health
    step.succeeded(f"deployment/{name} restarted: {words}", details)
    now = dep.template_annotations.get(ops.RESTARTED_AT)
    if now == sent:
        verified, check = True, f"pod template restartedAt {sent}, rollout complete"
    else:
        verified, check = False, (f"pod template restartedAt is {now or 'absent'}, not the "
                                  f"{sent} sent: restarted again meanwhile?")
    runner.record(plan, Stage.VERIFIED, {"verified": yes(verified), "check": check})
    if plan.details.get("option") == "2":
        next_ = f"watch {plan.service}'s breaker: OPEN -> HALF_OPEN -> CLOSED"
    else:
        next_ = f"watch {plan.service}'s breaker go HALF_OPEN"
    message = f"deployment/{name} restarted and rolled out; {next_}"
    if health:
        message += f" (health check now: {health})"
    if not verified:
        message = f"{message}. Not verified: {check}"
    return Outcome(ok=True, message=message, verified=verified, details={**details,
                                                                        "check": check})


def _health_after(runner: Runner, plan: Plan) -> str | None:
    """Option 2 step 3, for the log: the downstream's health after its restart."""
    url = plan.details.get("health_url")
    if not url or runner.probe is None:
        return None
    try:
        result = runner.probe.check(url)
    except Exception as exc:  # the probe is informative here, never fatal
        log.warning("health check after the restart failed", exc_info=True)
        return f"not checked: {type(exc).__name__}"
    return health_words(None, result)
