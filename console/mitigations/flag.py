"""Runbook Option 4: disable the feature flag that routes the caller's calls
to the downstream (or re-enable it), read back after the change."""

from __future__ import annotations

import json

from console.diagnosis.findings import Diagnosis
from console.errors import SourceError
from console.mitigations.base import Mitigation, Runner, Step
from console.mitigations.plan import Outcome, Plan
from console.mitigations.recorder import Stage
from console.mitigations.words import when, yes
from console.model.flagapi import FLAGS_PATH, MASK, curl_equivalent, flag_url
from console.model.servicemap import ServiceTarget
from console.ports import FlagSource

# The runbook's flag service, for flag sources that have no URL (the demo).
RUNBOOK_FLAGS_URL = "http://feature-flags:8080"

class Flag(Mitigation):
    name = "flag"
    key = "d"
    label = "Flag"
    tooltip = "Disable the feature flag, or re-enable it (runbook Option 4)"
    words = "flag change"
    waiting_for = "the flag change to be confirmed"

    def plan(self, runner: Runner, target: ServiceTarget, diagnosis: Diagnosis | None) -> Plan:
        return plan_flag(runner, target)

    def execute(self, runner: Runner, plan: Plan, step: Step) -> Outcome:
        return _execute(runner, plan, step)

def plan_flag(runner: Runner, target: ServiceTarget) -> Plan:
    """Option 4: disable the feature flag, or re-enable a disabled one."""
    name = target.flag
    source = runner.flags
    base = getattr(source, "url", None) or RUNBOOK_FLAGS_URL
    refusal = None
    enabled: bool | None = None
    since = ""
    if source is None:
        refusal = runner.flags_unavailable
    else:
        try:
            flag = source.get_flag(name)
        except SourceError as exc:
            refusal = str(exc)
        else:
            enabled = flag.enabled
            if flag.updated_at is not None:
                since = f" (changed {when(flag.updated_at)})"
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
    return runner.asked(runner.guarded(Plan(
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


def _execute(runner: Runner, plan: Plan, step: Step) -> Outcome:
    source = runner.flags
    if source is None:
        return step.failed(runner.flags_unavailable)
    name, enable = plan.flag or "", bool(plan.enable)
    want = "enabled" if enable else "disabled"
    runner.record(plan, Stage.SENT, {"request": plan.request})
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
    runner.record(plan, Stage.VERIFIED, {"verified": yes(verified),
                                        "check": f"read back: {got}"})
    message = f"flag {name} {want}; read back: {got}"
    return Outcome(ok=True, message=message, verified=verified, details={"read_back": got})


def _flag_curl(source: FlagSource | None, base: str, name: str, enable: bool) -> str:
    """The source's own curl line where it has one, else the same for `base`."""
    try:
        if hasattr(source, "curl_equivalent"):
            return source.curl_equivalent(name, enable)
        return curl_equivalent(base, name, enable)
    except SourceError:  # a name no URL can hold: the plan is refused already
        return ""
