"""The runbook's load test: `requests` GETs to the smoke URL through the
caller, success %, p50, p95. Read-only towards the cluster."""

from __future__ import annotations

import shlex

from console.diagnosis.findings import Diagnosis
from console.errors import SourceError
from console.mitigations.base import Mitigation, Runner, Step
from console.mitigations.plan import Outcome, Plan
from console.mitigations.recorder import Stage
from console.mitigations.words import ms
from console.model.servicemap import ServiceTarget

SMOKE_CONCURRENCY = 10

class Smoke(Mitigation):
    name = "smoke"
    key = "s"
    label = "Smoke"
    tooltip = "Smoke test: 100 requests to the smoke URL, success %, p50, p95"
    words = "smoke test"
    waiting_for = "the smoke test to end"
    mutating = False

    def plan(self, runner: Runner, target: ServiceTarget, diagnosis: Diagnosis | None) -> Plan:
        return plan_smoke(runner, target)

    def execute(self, runner: Runner, plan: Plan, step: Step) -> Outcome:
        return _execute(runner, plan, step)

def plan_smoke(runner: Runner, target: ServiceTarget, requests: int = 100) -> Plan:
    """The runbook's load test. Read-only towards the cluster, so allowed
    in read-only mode too, though it does send `requests` GETs."""
    url = target.smoke_url
    refusal = None
    if url is None:
        refusal = (f"no smoke_url for {target.service} in the service map: set smoke_url "
                   f"under [services.{target.service}] to the endpoint users call through "
                   f"{target.caller} (the runbook's load test calls /api/v1/payments)")
    elif runner.probe is None:
        refusal = "no HTTP probe available for the smoke test"
    shown = url or "(no URL)"
    # No backslash: the dialog shows a command a shell runs exactly as shown
    # (echo ends each line instead of curl's \n).
    loop = (f"for i in $(seq {requests}); do curl -s -o /dev/null -w "
            f"'%{{http_code}} %{{time_total}}' {shlex.quote(shown)}; echo; done")
    return runner.asked(Plan(
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


def _execute(runner: Runner, plan: Plan, step: Step) -> Outcome:
    if runner.probe is None or not plan.url:
        return step.failed(plan.refusal or "no HTTP probe or URL for the smoke test")
    count = int(plan.details.get("requests") or 100)
    runner.record(plan, Stage.SENT, {"request": plan.request})
    step.report(None, f"sending {count} requests to {plan.url}")
    try:
        result = runner.probe.smoke(plan.url, count, SMOKE_CONCURRENCY)
    except SourceError as exc:
        return step.failed(str(exc))
    pct = result.success_percent
    details = {
        "sent": str(result.sent),
        "succeeded": str(result.succeeded),
        "success_percent": "unknown" if pct is None else f"{pct:.1f}",
        "p50_ms": ms(result.p50_ms),
        "p95_ms": ms(result.p95_ms),
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
