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

import json
import shlex
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable

from console import kube_ops as ops
from console.clock import Clock, system_clock
from console.diagnosis import WorkloadView, downstream_failing, health_unknown
from console.errors import TimedOut, first_line
from console.model import Deployment
from console.plan import Mode, Outcome, Plan, Progress
from console.probe import HealthResult, Probe
from console.recorder import ActionEvent, ActionRecorder, Stage
from console.servicemap import ServiceTarget
from console.sources.base import ClusterSource, FlagSource, SourceError
from console.sources.flags import FLAGS_PATH, MASK, curl_equivalent, flag_url

__all__ = ["ActionRunner", "Mode", "Outcome", "Plan", "Progress", "swap"]

# The runbook's flag service, for flag sources that have no URL (the demo).
RUNBOOK_FLAGS_URL = "http://feature-flags:8080"
READ_ONLY_REFUSAL = "read-only mode: mutating actions are refused, nothing is sent"
# kubectl's words (pkg/polymorphichelpers/objectrestarter.go), after its usual prefix.
PAUSED = 'deployments.apps "{name}" can\'t restart paused deployment (run rollout resume first)'
ALREADY_RESTARTED = "restart has already been triggered within the past second"
READ_RETRIES = 5  # consecutive failed reads while watching, before giving up
LOG_TAIL = 200
LOG_PODS = 3
SMOKE_CONCURRENCY = 10
_DETAIL_LIMIT = 300


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
    ) -> None:
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

    # --- plans ---------------------------------------------------------------------

    def plan_restart(self, target: ServiceTarget, health: HealthResult | None,
                     downstream: WorkloadView | None = None,
                     rollbacks: tuple[str, ...] = ()) -> Plan:
        """Option 2 (the downstream) when something shows it failing, Option 1
        (the caller) when it answers healthy; with its health unknown, the
        downstream, saying that nothing shows it failing. `downstream` and
        `rollbacks` come from a fresh diagnosis (its pods and rollout, and
        the rollbacks its NEXT line puts first)."""
        view = downstream or WorkloadView(role="downstream", name=target.downstream)
        failing = downstream_failing(health, view)
        said = _health_words(target, health)
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
            first_undo = (". A restart does not undo a deploy: the diagnosis says roll back "
                          f"first: {undo}.")
            down_why = down_why.rstrip(".") + first_undo
            caller_why = caller_why.rstrip(".") + first_undo
        if not failing and health is not None and health.healthy is True:
            first = self._restart(target, target.caller, 1, caller_why)
            other_why = (f"Option 2 instead: restart {target.downstream}, for when it is "
                         f"failing ({said})")
            other = self._restart(target, target.downstream, 2, other_why)
        else:
            first = self._restart(target, target.downstream, 2, down_why)
            other_why = (f"Option 1 instead: restart the caller {target.caller}, for when "
                         f"{target.downstream} is healthy but the breaker has not recovered")
            other = self._restart(target, target.caller, 1, other_why)
        if target.caller != target.downstream:
            first = replace(first, alternative=replace(other, alternative=first))
        self._asked(first)
        return first

    def _read(self, namespace: str, name: str) -> tuple[Deployment | None, str | None]:
        """The deployment a plan is about, or why it cannot be read (the refusal)."""
        if self.cluster is None:
            return None, self.cluster_unavailable
        try:
            return self.cluster.deployment(namespace, name), None
        except SourceError as exc:
            return None, str(exc)

    def _restart(self, target: ServiceTarget, name: str, option: int, reason: str) -> Plan:
        ns = target.namespace
        patch = ops.restart_patch(self.clock())
        details = {"option": str(option)}
        if option == 2 and target.health_url:
            details["health_url"] = target.health_url
        dep, refusal = self._read(ns, name)
        if dep is not None:
            details["replicas"] = f"{dep.ready_replicas}/{dep.replicas} ready"
            stamp = patch["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
            if dep.paused:
                refusal = PAUSED.format(name=name)
            elif dep.template_annotations.get(ops.RESTARTED_AT) == stamp:
                refusal = ALREADY_RESTARTED
        return self._guarded(Plan(
            action="restart",
            service=target.service,
            title=f"Restart deployment/{name} (runbook Option {option})",
            target=f"{ns}/deployment/{name}",
            request=_patch_request(ns, name, patch, ops.RESTART_MANAGER),
            equivalent=ops.restart_command(self.context, ns, name),
            namespace=ns,
            context=self.context,
            reason=reason,
            refusal=refusal,
            deployment=name,
            patch=patch,
            field_manager=ops.RESTART_MANAGER,
            details=details,
        ))

    def plan_fallback(self, target: ServiceTarget) -> Plan:
        """Option 3: the caller's fallback variables on, or off again when
        they are on."""
        ns, name, prefix = target.namespace, target.caller, target.env_prefix
        dep, refusal = self._read(ns, name)
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
        request = (_patch_request(ns, name, patch, ops.SET_ENV_MANAGER) if patch is not None
                   else "(none: nothing to send)")
        return self._asked(self._guarded(Plan(
            action="fallback",
            service=target.service,
            title=title,
            target=f"{ns}/deployment/{name}",
            request=request,
            equivalent=ops.set_env_command(self.context, ns, name, changes),
            namespace=ns,
            context=self.context,
            reason=reason,
            refusal=refusal,
            deployment=name,
            patch=patch,
            field_manager=ops.SET_ENV_MANAGER,
            enable=not on,  # the fallback's new state
            details={"env_prefix": prefix, "fallback_mode": target.fallback_mode},
        )))

    def plan_flag(self, target: ServiceTarget) -> Plan:
        """Option 4: disable the feature flag, or re-enable a disabled one."""
        name = target.flag
        source = self.flags
        base = getattr(source, "url", None) or RUNBOOK_FLAGS_URL
        refusal = None
        enabled: bool | None = None
        since = ""
        if source is None:
            refusal = self.flags_unavailable
        else:
            try:
                flag = source.get_flag(name)
            except SourceError as exc:
                refusal = str(exc)
            else:
                enabled = flag.enabled
                if flag.updated_at is not None:
                    since = f" (changed {_when(flag.updated_at)})"
        enable = enabled is False  # enabled or unknown: the runbook disables
        try:
            url = flag_url(base, name)
        except SourceError as exc:
            url, refusal = base.rstrip("/") + FLAGS_PATH, refusal or str(exc)
        details = {}
        if enabled is None:
            reason = f"flag {name}: state unknown"
        elif enable:
            reason = (f"flag {name} is disabled{since}: re-enabling it sends "
                      f"{target.caller}'s calls to {target.downstream} again; do it once "
                      f"{target.downstream} is healthy")
        else:
            reason = (f"flag {name} is enabled{since}: disabling it stops {target.caller} "
                      f"calling {target.downstream}, so the breaker stops tripping (Option 4)")
        if source is not None and getattr(source, "url", None) is None:
            details["note"] = f"{source.label} has no URL: shown with the runbook's {base}"
        body = json.dumps({"enabled": enable}, separators=(",", ":"))
        equivalent = _flag_curl(source, base, name, enable)
        verb = "Re-enable" if enable else "Disable"
        return self._asked(self._guarded(Plan(
            action="flag",
            service=target.service,
            title=f"{verb} feature flag {name} (runbook Option 4)",
            target=url,
            request=(f"POST {url}\nAuthorization: Bearer {MASK}\n"
                     f"Content-Type: application/json\n\n{body}\n\n"
                     f"then GET {url} to read it back"),
            equivalent=equivalent,
            reason=reason,
            refusal=refusal,
            flag=name,
            enable=enable,
            details=details,
        )))

    def plan_smoke(self, target: ServiceTarget, requests: int = 100) -> Plan:
        """The runbook's load test. Read-only towards the cluster, so allowed
        in read-only mode too, though it does send `requests` GETs."""
        url = target.smoke_url
        refusal = None
        if url is None:
            refusal = (f"no smoke_url for {target.service} in the service map: set smoke_url "
                       f"under [services.{target.service}] to the endpoint users call through "
                       f"{target.caller} (the runbook's load test calls /api/v1/payments)")
        elif self.probe is None:
            refusal = "no HTTP probe available for the smoke test"
        shown = url or "(no URL)"
        # No backslash: the dialog shows a command a shell runs exactly as shown
        # (echo ends each line instead of curl's \n).
        loop = (f"for i in $(seq {requests}); do curl -s -o /dev/null -w "
                f"'%{{http_code}} %{{time_total}}' {shlex.quote(shown)}; echo; done")
        return self._asked(Plan(
            action="smoke",
            service=target.service,
            title=f"Smoke test {target.service}: {requests} requests (runbook Load Test)",
            target=shown,
            request=f"GET {shown}, {requests} times, {SMOKE_CONCURRENCY} at a time",
            equivalent=f"{loop}  # the same requests one at a time",
            reason=("expected: 100% success and no breaker trips; "
                    "read-only towards the cluster, but it does load the service"),
            mutating=False,
            refusal=refusal,
            url=url,
            details={"requests": str(requests)},
        ))

    def cancel(self, plan: Plan) -> None:
        self._record(plan, Stage.CANCELLED, {})

    def _guarded(self, plan: Plan) -> Plan:
        """Read-only refuses every mutating plan, whatever else it says."""
        if self.mode is Mode.READ_ONLY and plan.mutating:
            return replace(plan, refusal=READ_ONLY_REFUSAL)
        return plan

    def _asked(self, plan: Plan) -> Plan:
        details = {"title": plan.title, "request": plan.request,
                   "equivalent": plan.equivalent, "reason": plan.reason, "mode": self.mode.value}
        if plan.refusal:
            details["refusal"] = plan.refusal
        self._record(plan, Stage.ASKED, details)
        return plan

    # --- execution ---------------------------------------------------------------

    def execute(self, plan: Plan, report: Callable[[Progress], None]) -> Outcome:
        """Send the plan once, watch it take effect, verify. Never raises:
        every end is an Outcome and a FAILED or SUCCEEDED event."""
        self._record(plan, Stage.CONFIRMED, {"mode": self.mode.value})
        step = _Step(self, plan, report)
        try:
            return self._execute(plan, step)
        except Exception as exc:  # a bug or a library surprise: still close the record
            return step.failed(f"unexpected error: {type(exc).__name__}: {_short(first_line(exc))}")

    def _execute(self, plan: Plan, step: _Step) -> Outcome:
        # Checked again here, before any request: the plan may come from
        # another runner or be older than the mode.
        if plan.mutating and self.mode is Mode.READ_ONLY:
            return step.failed(f"refused: {READ_ONLY_REFUSAL}")
        if plan.refusal:
            return step.failed(f"refused: {plan.refusal}")
        if plan.mutating and self.mode is Mode.DRY_RUN:
            message = f"dry run: nothing sent; equivalent: {plan.equivalent}"
            self._record(plan, Stage.SUCCEEDED, {"dry_run": "true", "message": message})
            return Outcome(ok=True, message=message, details={"dry_run": "true"})
        if plan.action in ("restart", "fallback"):
            return self._patch(plan, step)
        if plan.action == "flag":
            return self._flag(plan, step)
        if plan.action == "smoke":
            return self._smoke(plan, step)
        return step.failed(f"unknown action {plan.action!r}")

    def _patch(self, plan: Plan, step: _Step) -> Outcome:
        cluster = self.cluster
        if cluster is None:
            return step.failed(self.cluster_unavailable)
        if plan.patch is None or not plan.deployment or not plan.namespace:
            return step.failed("nothing to send")
        ns, name = plan.namespace, plan.deployment
        # Read first, as kubectl does: a deployment paused since the plan is refused.
        try:
            before = cluster.deployment(ns, name)
        except SourceError as exc:
            return step.failed(f"nothing sent: {exc}")
        if before.paused:
            refusal = (PAUSED.format(name=name) if plan.action == "restart"
                       else f"deployment/{name} is paused: the change would not roll out")
            return step.failed(f"refused: {refusal}")
        pods_before: set[str] | None = None
        if plan.action == "fallback":
            try:
                pods_before = {p.name for p in cluster.pods(ns, name)}
            except SourceError:
                pods_before = None  # the change still goes; the log check cannot tell new pods
        self._record(plan, Stage.SENT, {"request": plan.request,
                                        "field_manager": plan.field_manager or ""})
        step.report(0.0, f"sending PATCH deployment/{name}")
        try:
            cluster.patch_deployment(ns, name, plan.patch, plan.field_manager or "")
        except SourceError as exc:
            if not isinstance(exc, TimedOut) and "unreachable" not in str(exc):
                return step.failed(str(exc))  # answered: refused, nothing applied
            # No (whole) answer (reset, timeout, the deadline): the PATCH may
            # have landed all the same. A read is safe; it says so before
            # anyone sends it again.
            return self._lost_answer(plan, step, exc)
        done, words, dep = self._watch(ns, name, step)
        if not done:
            return step.failed(words)
        if plan.action == "restart":
            return self._verify_restart(plan, step, dep, words)
        return self._verify_fallback(plan, step, dep, words, pods_before)

    def _lost_answer(self, plan: Plan, step: _Step, exc: SourceError) -> Outcome:
        name = plan.deployment
        try:
            dep = self.cluster.deployment(plan.namespace, name)
        except SourceError:
            return step.failed(f"{exc}; whether the change reached deployment/{name} is "
                               "unknown: check it before sending it again")
        if plan.action == "restart":
            sent = plan.patch["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
            landed = dep.template_annotations.get(ops.RESTARTED_AT) == sent
        else:
            landed = ops.fallback_enabled(dep, plan.details.get("env_prefix", "")) == plan.enable
        if landed:
            return step.failed(f"{exc}; the change did reach deployment/{name}: do not send it "
                               f"again, follow `kubectl rollout status deployment/{name}`",
                               {"applied": "yes"})
        return step.failed(f"{exc}; deployment/{name} does not have the change: nothing "
                           "was applied", {"applied": "no"})

    def _watch(self, ns: str, name: str, step: _Step) -> tuple[bool, str, Deployment | None]:
        """`kubectl rollout status`, polled: (done, its words, last deployment)."""
        started = self.clock()
        polls = errors = 0
        dep = None
        while True:
            try:
                dep = self.cluster.deployment(ns, name)
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
            if self._elapsed(started, polls) >= self.rollout_timeout_s:
                return False, (f"rollout still in progress after {self.rollout_timeout_s:g} s: "
                               f"check `kubectl rollout status deployment/{name}`"), dep
            self.sleep(self.poll_s)
            polls += 1

    def _elapsed(self, started: datetime, polls: int) -> float:
        # The clock, or the sleeps' sum when the clock does not move (tests).
        return max((self.clock() - started).total_seconds(), polls * self.poll_s)

    def _verify_restart(self, plan: Plan, step: _Step, dep: Deployment, words: str) -> Outcome:
        name = plan.deployment
        sent = plan.patch["spec"]["template"]["metadata"]["annotations"][ops.RESTARTED_AT]
        details = {"rollout": words, "restartedAt": sent}
        health = self._health_after(plan)
        if health:
            details["health"] = health
        step.succeeded(f"deployment/{name} restarted: {words}", details)
        now = dep.template_annotations.get(ops.RESTARTED_AT)
        if now == sent:
            verified, check = True, f"pod template restartedAt {sent}, rollout complete"
        else:
            verified, check = False, (f"pod template restartedAt is {now or 'absent'}, not the "
                                      f"{sent} sent: restarted again meanwhile?")
        self._record(plan, Stage.VERIFIED, {"verified": _yes(verified), "check": check})
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

    def _health_after(self, plan: Plan) -> str | None:
        """Option 2 step 3, for the log: the downstream's health after its restart."""
        url = plan.details.get("health_url")
        if not url or self.probe is None:
            return None
        try:
            result = self.probe.check(url)
        except Exception as exc:  # the probe is informative here, never fatal
            return f"not checked: {type(exc).__name__}"
        return _health_words(None, result)

    def _verify_fallback(self, plan: Plan, step: _Step, dep: Deployment, words: str,
                         pods_before: set[str] | None) -> Outcome:
        name, prefix = plan.deployment, plan.details.get("env_prefix", "")
        state = "ON" if plan.enable else "OFF"
        step.succeeded(f"fallback {state} in deployment/{name}: {words}", {"rollout": words})
        if plan.enable:
            verified, check = self._fallback_logged(plan, step, pods_before)
        else:
            key = f"{prefix}_FALLBACK_ENABLED"
            left = [k for c in dep.containers for k in c.env
                    if k in (key, f"{prefix}_FALLBACK_MODE")]
            verified = not left
            check = ("the fallback variables are gone from the pod template" if verified
                     else f"still in the pod template: {', '.join(sorted(set(left)))}")
        self._record(plan, Stage.VERIFIED, {"verified": _yes(verified), "check": check})
        message = f"fallback {state} in deployment/{name}, rolled out; {check}"
        return Outcome(ok=True, message=message, verified=verified,
                       details={"rollout": words, "check": check})

    def _fallback_logged(self, plan: Plan, step: _Step,
                         pods_before: set[str] | None) -> tuple[bool | None, str]:
        """Option 3 step 3: the new pods log "fallback" (kubectl logs | grep fallback)."""
        ns, name = plan.namespace, plan.deployment
        if pods_before is None:
            return None, (f"pods before the change unknown: check `kubectl logs -l app={name} "
                          "--tail=20 | grep fallback` by hand")
        started = self.clock()
        polls = 0
        checked: list[str] = []
        trouble = ""
        while True:
            try:
                pods = [p for p in self.cluster.pods(ns, name)
                        if p.name not in pods_before and p.phase != "Terminating"]
                pods.sort(key=lambda p: p.created_at, reverse=True)
                checked = [p.name for p in pods[:LOG_PODS]]
                for pod in checked:
                    for line in self.cluster.logs(ns, pod, tail=LOG_TAIL):
                        if "fallback" in line.lower():
                            return True, f"pod {pod} logs: {_short(line)}"
            except SourceError as exc:
                trouble = f" (last read failed: {exc})"
            step.report(None, f"waiting for the new pods of deployment/{name} to log fallback")
            if self._elapsed(started, polls) >= self.verify_timeout_s:
                which = ", ".join(checked) or "no new pods found"
                return False, (f"the new pods of deployment/{name} do not log fallback after "
                               f"{self.verify_timeout_s:g} s ({which}){trouble}: check "
                               f"`kubectl logs -l app={name} --tail=20 | grep fallback`")
            self.sleep(self.poll_s)
            polls += 1

    def _flag(self, plan: Plan, step: _Step) -> Outcome:
        source = self.flags
        if source is None:
            return step.failed(self.flags_unavailable)
        name, enable = plan.flag or "", bool(plan.enable)
        want = "enabled" if enable else "disabled"
        self._record(plan, Stage.SENT, {"request": plan.request})
        step.report(None, f"POST flag {name} {{\"enabled\": {str(enable).lower()}}}")
        try:
            flag = source.set_flag(name, enable)  # POST, then GET it back
        except SourceError as exc:
            # A read is safe: say where the flag stands now, if it can be read.
            try:
                now = source.get_flag(name).enabled
            except SourceError:
                return step.failed(str(exc))
            words = "enabled" if now else "disabled"
            return step.failed(f"{exc} (the flag now reads {words})", {"flag_now": words},
                               verified=now == enable)
        got = "enabled" if flag.enabled else "disabled"
        step.succeeded(f"flag {name} {want}", {"read_back": got})
        verified = flag.enabled == enable
        self._record(plan, Stage.VERIFIED, {"verified": _yes(verified),
                                            "check": f"read back: {got}"})
        message = f"flag {name} {want}; read back: {got}"
        return Outcome(ok=True, message=message, verified=verified, details={"read_back": got})

    def _smoke(self, plan: Plan, step: _Step) -> Outcome:
        if self.probe is None or not plan.url:
            return step.failed(plan.refusal or "no HTTP probe or URL for the smoke test")
        count = int(plan.details.get("requests") or 100)
        self._record(plan, Stage.SENT, {"request": plan.request})
        step.report(None, f"sending {count} requests to {plan.url}")
        try:
            result = self.probe.smoke(plan.url, count, SMOKE_CONCURRENCY)
        except SourceError as exc:
            return step.failed(str(exc))
        pct = result.success_percent
        details = {
            "sent": str(result.sent),
            "succeeded": str(result.succeeded),
            "success_percent": "unknown" if pct is None else f"{pct:.1f}",
            "p50_ms": _ms(result.p50_ms),
            "p95_ms": _ms(result.p95_ms),
        }
        if result.failures:
            details["failures"] = ", ".join(f"{k}: {v}" for k, v in sorted(result.failures.items()))
        message = (f"smoke test: {result.succeeded} of {result.sent} succeeded"
                   f" ({details['success_percent']}%), p50 {details['p50_ms']} ms, "
                   f"p95 {details['p95_ms']} ms")
        if result.failures:
            message += f"; failures {details['failures']}"
        if pct != 100.0:
            message += "; the runbook expects 100%"
        step.succeeded(message, details)
        return Outcome(ok=True, message=message, verified=None, details=details)

    # --- recording ---------------------------------------------------------------------

    def _record(self, plan: Plan, stage: Stage, details: dict) -> None:
        self.recorder.record(ActionEvent(
            at=self.clock(), action=plan.action, stage=stage, service=plan.service,
            target=plan.target, details={str(k): str(v) for k, v in details.items()},
        ))


class _Step:
    """One execution's report and end events (per call: no shared state)."""

    def __init__(self, runner: ActionRunner, plan: Plan, report: Callable[[Progress], None]):
        self.runner = runner
        self.plan = plan
        self._report = report

    def report(self, fraction: float | None, message: str) -> None:
        try:
            self._report(Progress(fraction, message))
        except Exception:  # a broken progress display must not abandon a rollout watch
            pass

    def failed(self, message: str, details: dict | None = None,
               verified: bool | None = None) -> Outcome:
        details = dict(details or {})
        self.runner._record(self.plan, Stage.FAILED, {**details, "message": message})
        return Outcome(ok=False, message=message, verified=verified, details=details)

    def succeeded(self, message: str, details: dict) -> None:
        self.runner._record(self.plan, Stage.SUCCEEDED, {**details, "message": message})


# --- words -------------------------------------------------------------------------


def _patch_request(ns: str, name: str, patch: dict, manager: str) -> str:
    return (f"PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}?fieldManager={manager}\n"
            "Content-Type: application/strategic-merge-patch+json\n\n"
            + json.dumps(patch, separators=(",", ":")))


def _health_words(target: ServiceTarget | None, health: HealthResult | None) -> str:
    if health is None:
        where = f" of {target.downstream}" if target else ""
        return f"no health check result{where}"
    if health.status is not None:
        took = f" in {_latency(health.latency_ms)}" if health.latency_ms is not None else ""
        return f"health check {health.url} answered {health.status}{took}"
    if health.error:
        return f"health check {health.url} got no answer: {health.error}"
    return f"health check {health.url}: no verdict"


def _latency(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _ms(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f}"


def _when(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _yes(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def _flag_curl(source: FlagSource | None, base: str, name: str, enable: bool) -> str:
    """The source's own curl line where it has one, else the same for `base`."""
    try:
        if hasattr(source, "curl_equivalent"):
            return source.curl_equivalent(name, enable)
        return curl_equivalent(base, name, enable)
    except SourceError:  # a name no URL can hold: the plan is refused already
        return ""


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"
