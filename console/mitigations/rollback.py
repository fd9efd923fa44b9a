"""Roll back the rollout that is the likely cause: `kubectl rollout undo
deployment/X --to-revision=N`, request for request (console.model.rollback
computes what kubectl's rollback.go computes). Offered for the downstream and
the caller (t), each at every older revision ([ and ]); preselected: the
deployment whose rollout the diagnosis marks LIKELY CAUSE, at the revision
that ran before it. Followed like the restart: rollout status, then the
template checked against the revision's."""

from __future__ import annotations

import logging
from dataclasses import replace

from console.diagnosis.findings import Diagnosis, WorkloadView
from console.errors import SourceError, no_answer
from console.mitigations.base import Mitigation, Runner, Step, fresh
from console.mitigations.deployment import watch
from console.mitigations.plan import Outcome, Plan
from console.mitigations.recorder import Stage
from console.mitigations.words import yes
from console.model import kubectl as ops
from console.model import rollback, templatediff
from console.model.servicemap import ServiceTarget
from console.ports import RollbackSource

log = logging.getLogger(__name__)

CANNOT = "this cluster source cannot roll back a deployment"


class Rollback(Mitigation):
    name = "rollback"
    key = "u"
    label = "Roll back"
    tooltip = ("Roll back the likely-cause rollout (kubectl rollout undo); in the dialog "
               "t: the other deployment, [ ]: older / newer revision")
    words = "rollback"
    waiting_for = "the rollback's rollout to be verified"

    def plan(self, runner: Runner, target: ServiceTarget, diagnosis: Diagnosis | None) -> Plan:
        views = {target.downstream: None, target.caller: None}
        diagnosis = fresh(diagnosis, runner.clock())  # an old one preselects nothing
        if diagnosis is not None:
            views = {diagnosis.downstream.name: diagnosis.downstream,
                     diagnosis.caller.name: diagnosis.caller}
        names = list(views)
        # The likely cause's deployment first; else the downstream.
        names.sort(key=lambda n: _restore_to(views[n]) is None)
        plans = [_deployment_plans(runner, target, n, _restore_to(views[n])) for n in names]
        first = plans[0]
        if len(plans) > 1 and names[0] != names[1]:
            first = replace(first, alternative=replace(plans[1], alternative=first))
        runner.asked(first)
        return first

    def execute(self, runner: Runner, plan: Plan, step: Step) -> Outcome:
        cluster = runner.cluster
        if cluster is None:
            return step.failed(runner.cluster_unavailable)
        if not isinstance(cluster, RollbackSource):
            return step.failed(f"refused: {CANNOT}")
        ns, name = plan.namespace or "", plan.deployment or ""
        to = int(plan.details.get("to_revision", "-1"))
        # Computed again from what the cluster holds now, as kubectl does at
        # send time; sent only if it is what the dialog showed.
        try:
            dep, rss = cluster.rollout_objects(ns, name)
        except SourceError as exc:
            return step.failed(f"nothing sent: {exc}")
        undo = rollback.undo(dep, rss, to)
        if undo.refusal or undo.skipped:
            return step.failed(f"refused: {undo.refusal or undo.skipped}")
        if undo.operations != plan.operations:
            return step.failed(f"refused: deployment/{name} changed since the dialog showed "
                               f"it; nothing sent: press {self.key} again to see the new request")
        runner.record(plan, Stage.SENT, {"request": plan.request})
        step.report(0.0, f"sending PATCH deployment/{name} (rollback to revision {to})")
        try:
            cluster.json_patch_deployment(ns, name, plan.operations)
        except SourceError as exc:
            if not no_answer(exc):
                return step.failed(str(exc))  # answered: refused, nothing applied
            return _lost_answer(cluster, plan, step, exc)
        done, words, _ = watch(runner, ns, name, step)
        if not done:
            return step.failed(words)
        return _verify(cluster, runner, plan, step, words)


def _restore_to(view: WorkloadView | None) -> int | None:
    """The revision that ran before the first likely-cause rollout of
    `view` (by creation time: an undo renumbers what it restores), if it
    is not the one running."""
    if view is None:
        return None
    causes = sorted((r.revision for r in view.revisions if r.likely_cause),
                    key=lambda r: r.created_at)
    before = [r for r in view.revisions
              if causes and r.revision.created_at < causes[0].created_at]
    if not before:
        return None
    previous = max(before, key=lambda r: r.revision.created_at)
    return None if previous.current else previous.revision.revision


def _deployment_plans(runner: Runner, target: ServiceTarget, name: str,
                      preferred: int | None) -> Plan:
    """The plan for `name` at the preselected revision, carrying the plans of
    every older revision."""
    ns = target.namespace
    base = Plan(action="rollback", service=target.service,
                title=f"Roll back deployment/{name}", target=f"{ns}/deployment/{name}",
                request="nothing to send",
                equivalent=ops.rollback_command(runner.context, ns, name, preferred),
                namespace=ns, context=runner.context, deployment=name)
    cluster = runner.cluster
    if cluster is None or not isinstance(cluster, RollbackSource):
        return runner.guarded(replace(base, refusal=runner.cluster_unavailable
                                      if cluster is None else CANNOT))
    try:
        dep, rss = cluster.rollout_objects(ns, name)
    except SourceError as exc:
        return runner.guarded(replace(base, refusal=str(exc)))
    entries = rollback.history(dep, rss)
    current = next((e for e in entries if e.current), None)
    older = [e for e in entries if not e.current
             and (current is None or e.revision < current.revision)]
    if not older:
        default = rollback.pick(dep, rss, 0)
        why = default if isinstance(default, str) else "no revision older than the running one"
        return runner.guarded(replace(base, refusal=why))
    if any(e.revision == preferred for e in older):
        why = (f"the diagnosis marks a rollout of deployment/{name} LIKELY CAUSE; revision "
               f"{preferred} ran before it")
    else:
        preferred = older[0].revision
        why = f"revision {preferred} is the newest before the running one (kubectl's default)"
    plans = tuple(_one(runner, base, dep, rss, current, e, why if e.revision == preferred
                       else f"an older revision ({preferred} is preselected)")
                  for e in older)
    chosen = next(p for p in plans if p.details["to_revision"] == str(preferred))
    return replace(chosen, revisions=plans)


def _one(runner: Runner, base: Plan, dep: dict, rss: list[dict],
         current: rollback.Entry | None, entry: rollback.Entry, why: str) -> Plan:
    name, ns = base.deployment or "", base.namespace or ""
    undo = rollback.undo(dep, rss, entry.revision)
    now = f"revision {current.revision}" if current else "the running template"
    now_cause = (current.change_cause or "<none>") if current else "<none>"
    reason = (f"{why}. {now} ({now_cause}) -> revision {entry.revision} "
              f"({entry.change_cause or '<none>'})")
    changes = templatediff.changes((dep.get("spec") or {}).get("template") or {},
                                   entry.template)
    details = {"to_revision": str(entry.revision),
               "from_revision": str(current.revision) if current else "unknown",
               "change_cause": entry.change_cause or "<none>"}
    return runner.guarded(replace(
        base,
        title=f"Roll back deployment/{name}: {now} -> revision {entry.revision}",
        request=(rollback.request_text(ns, name, undo.operations) if undo.operations
                 else "nothing to send"),
        equivalent=ops.rollback_command(runner.context, ns, name, entry.revision),
        reason=reason,
        refusal=undo.refusal or undo.skipped,
        operations=undo.operations,
        changes=tuple(changes) or ("no difference in images, env names or resources",),
        details=details,
    ))


def _template_now(cluster: RollbackSource, plan: Plan) -> tuple[bool | None, str]:
    """Whether the deployment's template is the revision's now, and why not."""
    try:
        dep, _ = cluster.rollout_objects(plan.namespace or "", plan.deployment or "")
    except SourceError as exc:
        return None, f"deployment/{plan.deployment} not read again: {exc}"
    sent = (plan.operations or [{}])[0].get("value") or {}
    same = rollback.same_template((dep.get("spec") or {}).get("template") or {}, sent)
    return same, ("pod template is revision "
                  f"{plan.details.get('to_revision')}'s" if same else
                  "pod template is no longer the one sent: changed again meanwhile?")


def _lost_answer(cluster: RollbackSource, plan: Plan, step: Step, exc: SourceError) -> Outcome:
    landed, _ = _template_now(cluster, plan)
    name = plan.deployment
    if landed is None:
        return step.failed(f"{exc}; whether the rollback reached deployment/{name} is "
                           "unknown: check it before sending it again")
    if landed:
        return step.failed(f"{exc}; the rollback did reach deployment/{name}: do not send it "
                           f"again, follow `kubectl rollout status deployment/{name}`",
                           {"applied": "yes"})
    return step.failed(f"{exc}; deployment/{name} does not have the rollback: nothing "
                       "was applied", {"applied": "no"})


def _verify(cluster: RollbackSource, runner: Runner, plan: Plan, step: Step,
            words: str) -> Outcome:
    name, to = plan.deployment, plan.details.get("to_revision")
    summary = (f"deployment/{name} rolled back from revision {plan.details.get('from_revision')}"
               f" to revision {to} ({plan.details.get('change_cause')})")
    details = {"rollout": words, "to_revision": str(to), "summary": summary}
    step.succeeded(f"{summary}: {words}", details)
    verified, check = _template_now(cluster, plan)
    verified = bool(verified)
    if verified:
        check += ", new pods ready (rollout complete)"
    runner.record(plan, Stage.VERIFIED, {"verified": yes(verified), "check": check})
    message = (f"{summary}; new pods ready. Watch {plan.service}'s breaker: "
               "OPEN -> HALF_OPEN -> CLOSED")
    if not verified:
        message = f"{message}. Not verified: {check}"
    return Outcome(ok=True, message=message, verified=verified,
                   details={**details, "check": check})
