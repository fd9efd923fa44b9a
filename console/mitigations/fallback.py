"""Runbook Option 3: the caller's fallback variables on (or off again) in
its pod template (`kubectl set env`), verified by the new pods' logs."""

from __future__ import annotations

from typing import Any

from console.diagnosis.findings import Diagnosis
from console.errors import SourceError
from console.mitigations.base import Runner, Step
from console.mitigations.blast import also_calls, fallback_words
from console.mitigations.deployment import DeploymentChange, elapsed, read
from console.mitigations.plan import Outcome, Plan
from console.mitigations.recorder import Stage
from console.mitigations.words import patch_request, short, yes
from console.model import kubectl as ops
from console.model.fleet import Deployment
from console.model.servicemap import ServiceTarget

LOG_TAIL = 200
LOG_PODS = 3

class Fallback(DeploymentChange):
    name = "fallback"
    key = "f"
    label = "Fallback"
    tooltip = "Turn the caller's fallback on, or off again (runbook Option 3)"
    words = "fallback"
    waiting_for = "the fallback's rollout to be verified"
    prevention = ("Enable fallback for {svc} (runbook Prevention 1: `fallback_enabled: True`): "
                  "fallback was needed during this incident")

    def plan(self, runner: Runner, target: ServiceTarget, diagnosis: Diagnosis | None) -> Plan:
        return plan_fallback(runner, target)

    def before_send(self, runner: Runner, plan: Plan) -> set[str] | None:
        """The pods before the change: the new ones are those to log "fallback"."""
        try:
            return {p.name for p in runner.cluster.pods(plan.namespace, plan.deployment)}
        except SourceError:
            return None  # the change still goes; the log check cannot tell new pods

    def landed(self, plan: Plan, dep: Deployment) -> bool:
        return ops.fallback_enabled(dep, plan.details.get("env_prefix", "")) == plan.enable

    def verify(self, runner: Runner, plan: Plan, step: Step, dep: Deployment, words: str,
               seen: Any) -> Outcome:
        return _verify_fallback(runner, plan, step, dep, words, seen)

def plan_fallback(runner: Runner, target: ServiceTarget) -> Plan:
    """Option 3: the caller's fallback variables on, or off again when
    they are on."""
    ns, name, prefix = target.namespace, target.caller, target.env_prefix
    dep, refusal = read(runner, ns, name)
    on = dep is not None and ops.fallback_enabled(dep, prefix)
    changes = ops.fallback_env(prefix, target.fallback_mode, not on)
    patch = ops.set_env_patch(dep, changes) if dep is not None else None
    if dep is not None and patch is None:
        refusal = "nothing to change"
    elif dep is not None and dep.paused:
        # kubectl would send it, but a paused deployment does not roll
        # out: the change would sit unapplied while the breaker stays open.
        refusal = (f"deployment/{name} is paused: the change would not roll out "
                   "(kubectl rollout resume first)")
    rolls = (f"Changing the pod template starts a rollout of deployment/{name} by "
             "itself: no separate restart.")
    title = (f"Turn fallback {'OFF' if on else 'ON'} for {target.service} in "
             f"deployment/{name} (runbook Option 3)")
    if on:
        reason = (f"fallback is on in deployment/{name} ({prefix}_FALLBACK_ENABLED=true): "
                  f"removing both variables makes {name} call {target.downstream} "
                  f"again. {rolls}")
    else:
        reason = (f"{name} answers with its {target.fallback_mode} fallback instead of "
                  f"calling {target.downstream}, for when it cannot be recovered at once. "
                  f"{rolls}")
    request = (patch_request(ns, name, patch, ops.SET_ENV_MANAGER) if patch is not None
               else "(none: nothing to send)")
    return runner.asked(runner.guarded(Plan(
        action="fallback",
        service=target.service,
        title=title,
        target=f"{ns}/deployment/{name}",
        request=request,
        equivalent=ops.set_env_command(runner.context, ns, name, changes),
        namespace=ns,
        context=runner.context,
        reason=reason,
        refusal=refusal,
        deployment=name,
        patch=patch,
        field_manager=ops.SET_ENV_MANAGER,
        enable=not on,  # the fallback's new state
        details={"env_prefix": prefix, "fallback_mode": target.fallback_mode},
        touches=((("Users", fallback_words(target)),) if not on else ())
        + (("Also", also_calls(target, dep)),),
    )))


def _verify_fallback(runner: Runner, plan: Plan, step: Step, dep: Deployment, words: str,
                     pods_before: set[str] | None) -> Outcome:
    name, prefix = plan.deployment, plan.details.get("env_prefix", "")
    state = "ON" if plan.enable else "OFF"
    step.succeeded(f"fallback {state} in deployment/{name}: {words}", {"rollout": words})
    if plan.enable:
        verified, check = _fallback_logged(runner, plan, step, pods_before)
    else:
        key = f"{prefix}_FALLBACK_ENABLED"
        left = [k for c in dep.containers for k in c.env
                if k in (key, f"{prefix}_FALLBACK_MODE")]
        verified = not left
        check = ("the fallback variables are gone from the pod template" if verified
                 else f"still in the pod template: {', '.join(sorted(set(left)))}")
    runner.record(plan, Stage.VERIFIED, {"verified": yes(verified), "check": check})
    message = f"fallback {state} in deployment/{name}, rolled out; {check}"
    return Outcome(ok=True, message=message, verified=verified,
                   details={"rollout": words, "check": check})


def _fallback_logged(runner: Runner, plan: Plan, step: Step,
                     pods_before: set[str] | None) -> tuple[bool | None, str]:
    """Option 3 step 3: the new pods log "fallback" (kubectl logs | grep fallback)."""
    ns, name = plan.namespace, plan.deployment
    if pods_before is None:
        return None, (f"pods before the change unknown: check `kubectl logs -l app={name} "
                      "--tail=20 | grep fallback` by hand")
    started = runner.clock()
    polls = 0
    checked: list[str] = []
    trouble = ""
    while True:
        try:
            pods = [p for p in runner.cluster.pods(ns, name)
                    if p.name not in pods_before and p.phase != "Terminating"]
            pods.sort(key=lambda p: p.created_at, reverse=True)
            checked = [p.name for p in pods[:LOG_PODS]]
            for pod in checked:
                for line in runner.cluster.logs(ns, pod, tail=LOG_TAIL):
                    if "fallback" in line.lower():
                        return True, f"pod {pod} logs: {short(line)}"
        except SourceError as exc:
            trouble = f" (last read failed: {exc})"
        step.report(None, f"waiting for the new pods of deployment/{name} to log fallback")
        if elapsed(runner, started, polls) >= runner.verify_timeout_s:
            which = ", ".join(checked) or "no new pods found"
            return False, (f"the new pods of deployment/{name} do not log fallback after "
                           f"{runner.verify_timeout_s:g} s ({which}){trouble}: check "
                           f"`kubectl logs -l app={name} --tail=20 | grep fallback`")
        runner.sleep(runner.poll_s)
        polls += 1
