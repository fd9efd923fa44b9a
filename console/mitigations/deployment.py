"""The path the deployment mitigations (restart, fallback) share: read the
deployment as kubectl does, PATCH it once, watch its rollout, and say whether
a change whose answer was lost landed. Each step is the mitigation's own
where they differ (DeploymentChange's hooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.errors import SourceError, no_answer
from console.mitigations.base import Mitigation, Runner, Step
from console.mitigations.plan import Outcome, Plan
from console.mitigations.recorder import Stage
from console.model import kubectl as ops
from console.model.fleet import Deployment

READ_RETRIES = 5  # consecutive failed reads while watching, before giving up


class DeploymentChange(Mitigation):
    """A mitigation that PATCHes a deployment and verifies its rollout."""

    def execute(self, runner: Runner, plan: Plan, step: Step) -> Outcome:
        return send_patch(runner, self, plan, step)

    def paused_refusal(self, name: str) -> str:
        return f"deployment/{name} is paused: the change would not roll out"

    def before_send(self, runner: Runner, plan: Plan) -> Any:
        """What verify() needs from before the change (e.g. the pods)."""
        return None

    def landed(self, plan: Plan, dep: Deployment) -> bool:
        """Whether `dep` has the change (after a lost answer)."""
        raise NotImplementedError

    def verify(self, runner: Runner, plan: Plan, step: Step, dep: Deployment, words: str,
               seen: Any) -> Outcome:
        raise NotImplementedError


def read(runner: Runner, namespace: str, name: str) -> tuple[Deployment | None, str | None]:
    """The deployment a plan is about, or why it cannot be read (the refusal)."""
    if runner.cluster is None:
        return None, runner.cluster_unavailable
    try:
        return runner.cluster.deployment(namespace, name), None
    except SourceError as exc:
        return None, str(exc)


def send_patch(runner: Runner, mitigation: DeploymentChange, plan: Plan, step: Step) -> Outcome:
    """Read, PATCH once, watch the rollout, then the mitigation verifies."""
    cluster = runner.cluster
    if cluster is None:
        return step.failed(runner.cluster_unavailable)
    if plan.patch is None or not plan.deployment or not plan.namespace:
        return step.failed("nothing to send")
    ns, name = plan.namespace, plan.deployment
    # Read first, as kubectl does: a deployment paused since the plan is refused.
    try:
        before = cluster.deployment(ns, name)
    except SourceError as exc:
        return step.failed(f"nothing sent: {exc}")
    if before.paused:
        return step.failed(f"refused: {mitigation.paused_refusal(name)}")
    seen = mitigation.before_send(runner, plan)
    runner.record(plan, Stage.SENT, {"request": plan.request,
                                    "field_manager": plan.field_manager or ""})
    step.report(0.0, f"sending PATCH deployment/{name}")
    try:
        cluster.patch_deployment(ns, name, plan.patch, plan.field_manager or "")
    except SourceError as exc:
        if not no_answer(exc):
            return step.failed(str(exc))  # answered: refused, nothing applied
        # No answer (reset, timeout): the PATCH may have landed all the
        # same. A read is safe; it says so before anyone sends it again.
        return lost_answer(runner, mitigation, plan, step, exc)
    done, words, dep = watch(runner, ns, name, step)
    if not done:
        return step.failed(words)
    return mitigation.verify(runner, plan, step, dep, words, seen)


def lost_answer(runner: Runner, mitigation: DeploymentChange, plan: Plan, step: Step,
                exc: SourceError) -> Outcome:
    name = plan.deployment
    try:
        dep = runner.cluster.deployment(plan.namespace, name)
    except SourceError:
        return step.failed(f"{exc}; whether the change reached deployment/{name} is "
                           "unknown: check it before sending it again")
    if mitigation.landed(plan, dep):
        return step.failed(f"{exc}; the change did reach deployment/{name}: do not send it "
                           f"again, follow `kubectl rollout status deployment/{name}`",
                           {"applied": "yes"})
    return step.failed(f"{exc}; deployment/{name} does not have the change: nothing "
                       "was applied", {"applied": "no"})


def watch(runner: Runner, ns: str, name: str, step: Step) -> tuple[bool, str, Deployment | None]:
    """`kubectl rollout status`, polled: (done, its words, last deployment)."""
    started = runner.clock()
    polls = errors = 0
    dep = None
    while True:
        try:
            dep = runner.cluster.deployment(ns, name)
        except SourceError as exc:
            errors += 1
            if errors > READ_RETRIES:
                return False, f"lost sight of the rollout: {exc}", dep
            step.report(None, f"reading deployment/{name} failed ({exc}); retrying")
        else:
            errors = 0
            status = ops.rollout_status(dep)
            step.report(status.progress, status.message)
            if status.done:
                return True, status.message, dep
            if status.failed:
                return False, status.message, dep
        if elapsed(runner, started, polls) >= runner.rollout_timeout_s:
            return False, (f"rollout still in progress after {runner.rollout_timeout_s:g} s: "
                           f"check `kubectl rollout status deployment/{name}`"), dep
        runner.sleep(runner.poll_s)
        polls += 1


def elapsed(runner: Runner, started: datetime, polls: int) -> float:
    # The clock, or the sleeps' sum when the clock does not move (tests).
    return max((runner.clock() - started).total_seconds(), polls * runner.poll_s)
