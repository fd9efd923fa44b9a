"""What a mitigation is: its key, its words, whether it changes the fleet,
how it is planned and executed. One module per mitigation implements it and
one line in console.mitigations.registry lists it; the key bindings, the
dialog's plan, the runner's dispatch, the app's and the postmortem's words
all come from there.

`runner` is the ActionRunner: the configuration and sources a mitigation
reads, and the recorder every step goes to."""

from __future__ import annotations

import logging

from datetime import datetime
from typing import Callable, Protocol

from console.clock import Clock
from console.diagnosis.findings import Diagnosis
from console.mitigations.plan import Mode, Outcome, Plan, Progress
from console.mitigations.recorder import Stage
from console.model.servicemap import ServiceTarget
from console.ports import ClusterSource, FlagSource, Probe

log = logging.getLogger(__name__)

READ_ONLY_REFUSAL = "read-only mode: mutating actions are refused, nothing is sent"


class Runner(Protocol):
    cluster: ClusterSource | None
    flags: FlagSource | None
    probe: Probe | None
    clock: Clock
    mode: Mode
    context: str | None
    cluster_unavailable: str
    flags_unavailable: str
    sleep: Callable[[float], None]
    rollout_timeout_s: float
    poll_s: float
    verify_timeout_s: float

    def record(self, plan: Plan, stage: Stage, details: dict) -> None: ...

    def asked(self, plan: Plan) -> Plan: ...

    def guarded(self, plan: Plan) -> Plan: ...


class Mitigation:
    #: The Plan's and the journal's action name.
    name: str
    #: Its key on the board, the footer's word and the key's tooltip.
    key: str
    label: str
    tooltip: str
    #: In sentences: "the flag change of payment-api is already in progress".
    words: str
    #: What q waits for while it runs.
    waiting_for: str
    #: Changes the fleet: refused in read-only mode, nothing sent in a dry run.
    mutating: bool = True
    #: The postmortem's Prevention item once it was carried out in the
    #: incident ("{svc}": its service), or None.
    prevention: str | None = None

    def carried_out(self, target: str) -> str:
        """How the postmortem's timeline and Resolution name it done to
        `target` (escaped by the caller): "restart on shop/deployment/api"."""
        return on_target(self.name, target)

    def plan(self, runner: Runner, target: ServiceTarget, diagnosis: Diagnosis | None) -> Plan:
        """The plan the dialog shows (blocking reads only); recorded as ASKED.
        `diagnosis`: the service's last one, if any."""
        raise NotImplementedError

    def execute(self, runner: Runner, plan: Plan, step: Step) -> Outcome:
        """Send it once and verify; every end is step.failed() or an Outcome
        after step.succeeded()."""
        raise NotImplementedError


def on_target(action: str, target: str) -> str:
    """A mitigation done to a target, in the postmortem's words."""
    return f"{action} on {target}"


def fresh(diagnosis: Diagnosis | None, now: datetime, max_age_s: float = 30) -> Diagnosis | None:
    """The diagnosis if it is recent enough to preselect from."""
    if diagnosis is None or (now - diagnosis.gathered_at).total_seconds() >= max_age_s:
        return None
    return diagnosis


class Step:
    """One execution's report and end events (per call: no shared state)."""

    def __init__(self, runner: Runner, plan: Plan, report: Callable[[Progress], None]):
        self.runner = runner
        self.plan = plan
        self._report = report

    def report(self, fraction: float | None, message: str) -> None:
        try:
            self._report(Progress(fraction, message))
        except Exception:  # a broken progress display must not abandon a rollout watch
            log.warning("progress report failed", exc_info=True)

    def failed(self, message: str, details: dict | None = None,
               verified: bool | None = None) -> Outcome:
        details = dict(details or {})
        self.runner.record(self.plan, Stage.FAILED, {**details, "message": message})
        return Outcome(ok=False, message=message, verified=verified, details=details)

    def succeeded(self, message: str, details: dict) -> None:
        self.runner.record(self.plan, Stage.SUCCEEDED, {**details, "message": message})
