"""The runbook's next step from what a diagnosis found: which option, and
the rollback to do first when a recent rollout is the likely cause."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.diagnosis.clusterview import ClusterView, next_notes
from console.diagnosis.urldeps import failing
from console.diagnosis.findings import (
    CALLER_STILL_OPEN,
    DependencyCheck,
    NO_HEALTH_URL,
    NextStep,
    Press,
    WorkloadView,
    joined,
)
from console.model.fleet import BreakerState, Flag
from console.model.kubectl import rollback_command
from console.model.probe import HealthResult
from console.model.servicemap import ServiceTarget


def _minutes(delta: timedelta) -> str:
    return f"{max(0, round(delta.total_seconds() / 60))} min"


def downstream_failing(health: HealthResult | None, downstream: WorkloadView,
                       cluster: ClusterView | None = None) -> str | None:
    """Why the downstream counts as failing, or None when nothing says so.
    Health counts only when it answered: no answer to the console's host is
    unknown, not failing. No ready endpoint comes first: it is why callers fail."""
    from_cluster, _ = next_notes(cluster)
    if from_cluster:
        return from_cluster
    if health is not None and health.healthy is False:
        return f"{downstream.name} is failing (health {health.status})"
    if downstream.rollout is not None and downstream.rollout.failed:
        return f"{downstream.name} is failing ({downstream.rollout.message})"
    if downstream.pods and not any(p.ready for p in downstream.pods):
        return f"{downstream.name} is failing (no pod ready)"
    return None


def next_step(
    target: ServiceTarget,
    *,
    state: BreakerState | None,
    open_for: timedelta | None,
    health: HealthResult | None,
    downstream: WorkloadView,
    caller: WorkloadView,
    fallback_on: bool | None,
    flag: Flag | None,
    opened_at: datetime,
    context: str | None = None,
    cluster: ClusterView | None = None,
    dependencies: tuple[DependencyCheck, ...] = (),
) -> NextStep:
    """The runbook's Mitigation decision, from what the diagnosis found. A
    rollout that is the likely cause is rolled back first: a restart does
    not undo a deploy."""
    if state is BreakerState.CLOSED:
        return NextStep(None, None, ("breaker closed: nothing to do",))
    rollbacks, commands, hints = [], [], []
    for view in (downstream, caller):
        back, hint = rollback(view, target.namespace, opened_at, context)
        if back:
            rollbacks.append(back[0])
            commands.append(back[1])
        hints += [hint] if hint else []
    step = _runbook_option(target, state=state, open_for=open_for, health=health,
                           downstream=downstream, fallback_on=fallback_on, flag=flag,
                           cluster=cluster)
    _, first = next_notes(cluster)  # a blocking NetworkPolicy: said before anything
    first = [*first, *_dependency_notes(target, dependencies)]
    if not rollbacks:
        return NextStep(step.option, step.mitigation, joined(*first, step.said, *hints))
    head, *rest = step.said
    then = ("After that: " + head[0].lower() + head[1:], *rest)
    # The rollback mitigation (console.mitigations.rollback) does it.
    return NextStep(None, "rollback", joined(*first, *rollbacks, *hints, then),
                    rollbacks=tuple(commands))


def _dependency_notes(target: ServiceTarget,
                      checks: tuple[DependencyCheck, ...]) -> list[str]:
    """A URL dependency failing from inside the downstream's pod: what the
    downstream waits on, which none of its own mitigations mend."""
    notes = []
    for c in failing(checks):
        what = f"answers {c.status}" if c.status is not None else f"fails: {c.detail}"
        notes.append(f"{target.downstream}'s dependency {c.address} {what} (from inside "
                     f"pod/{c.pod}): a restart or rollback of {target.downstream} does not "
                     "mend it; check that service first.")
    return notes


def rollback(view: WorkloadView, namespace: str, opened_at: datetime,
             context: str | None = None) -> tuple[tuple[str, str] | None, str | None]:
    """((the rollback to do first, its command), a note) for a likely-cause
    rollout of `view`.
    It goes back to the revision that ran before the first likely cause: by
    creation time, as `rollout undo` renumbers the revision it restores, so
    one already restored is the current one and nothing is left to undo."""
    causes = [r for r in view.revisions if r.likely_cause]
    if not causes:
        return None, None
    cause = min(causes, key=lambda r: r.revision.created_at).revision
    rolled = (f"revision {cause.revision} rolled out {_minutes(opened_at - cause.created_at)} "
              "before the breaker opened")
    said = f"deployment/{view.name} {rolled}"
    before = [r for r in view.revisions if r.revision.created_at < cause.created_at]
    if not before:
        return None, f"{said}; no earlier revision to roll back to."
    previous = max(before, key=lambda r: r.revision.created_at)
    if previous.current:
        return None, f"{said}; already rolled back (revision {previous.revision.revision} runs)."
    command = rollback_command(context, namespace, view.name, previous.revision.revision)
    return (f"roll back deployment/{view.name} first: {rolled}, and a restart does not "
            f"undo a deploy: `{command}`.", command), None


def health_unknown(target: ServiceTarget, health: HealthResult | None) -> str:
    """Why health is unknown, and how to know it."""
    name = target.downstream
    if health is not None and health.unknown_from_here:
        return (f"{name} health unknown from here ({health.error}): no evidence about {name} "
                f"itself. Check it before acting; to check it from here, set health_url under "
                f"[services.{target.service}] in the config file to a URL this host reaches.")
    why = health.error if health is not None and health.error else "not checked"
    text = f"{name} health unknown ({why}): check it before acting"
    if health is not None and health.error == NO_HEALTH_URL:
        text += f"; set health_url under [services.{target.service}] in the config file"
    return text + "."


def _runbook_option(target: ServiceTarget, *, state: BreakerState | None,
                    open_for: timedelta | None, health: HealthResult | None,
                    downstream: WorkloadView, fallback_on: bool | None,
                    flag: Flag | None, cluster: ClusterView | None = None) -> NextStep:
    """The runbook's Options 1-4, from health, rollout, pods and endpoints."""
    failing = downstream_failing(health, downstream, cluster)
    if failing:
        said: list[str | tuple] = [(
            f"{failing}: restart the downstream deployment/{target.downstream} (Option 2",
            Press("restart", ", {}"), ").")]
        if fallback_on is False:
            said.append(("If it stays down: Option 3", Press("fallback", " ({})"),
                         f" turns on {target.caller}'s fallback (mode {target.fallback_mode})."))
        if flag is not None and flag.enabled:
            said.append(("Or Option 4", Press("flag", " ({})"),
                         f" disables the feature flag {flag.name}."))
        return NextStep(2, "restart", joined(*said))
    if health is None or health.healthy is None:
        return NextStep(None, None, (health_unknown(target, health),))
    if state is BreakerState.OPEN and open_for is not None and open_for > CALLER_STILL_OPEN:
        return NextStep(1, "restart", (
            f"{target.downstream} is healthy but the breaker has been open for "
            f"{_minutes(open_for)}: restart the caller deployment/{target.caller} (Option 1",
            Press("restart", ", {}"), ")."))
    if state is BreakerState.HALF_OPEN:
        text = f"{target.downstream} is healthy: the breaker is probing, wait for it to close."
    else:
        text = (f"{target.downstream} is healthy: the breaker should close at its next "
                f"half-open probe; restart the caller if it is still open after "
                f"{_minutes(CALLER_STILL_OPEN)}.")
    return NextStep(None, None, (text,))
