"""The console's diagnosis and mitigation keys: gather the diagnosis in a
worker; r f d s plan in a worker, confirm in a dialog, execute in a worker,
with every step through the one recorder. Mixed into CBConsoleApp."""

from __future__ import annotations

import logging

import threading
from contextlib import suppress
from datetime import datetime

from textual import work
from textual.app import App
from textual.css.query import NoMatches
from textual.message import Message

from console.mitigations.base import READ_ONLY_REFUSAL
from console.mitigations.registry import BY_NAME, MITIGATIONS
from console.diagnosis.findings import Diagnosis
from console.diagnosis.gather import gather
from console.errors import describe_error
from console.incident.applied import REFUSED
from console.mitigations.plan import Mode, Outcome, Plan, Progress
from console.mitigations.recorder import ActionEvent, ActionRecorder, Stage
from widgets.actionlog import ActionLog
from widgets.diagnosis import DiagnosisPane

log = logging.getLogger(__name__)

ACTION_NAMES = {m.name: m.words for m in MITIGATIONS}
#: The keys the diagnosis pane names (its next step), as BINDINGS binds them.
KEYS = {m.name: m.key for m in MITIGATIONS}
#: What q waits for while an action runs.
WAITING_FOR = {m.name: m.waiting_for for m in MITIGATIONS}


class ActionAbandoned(BaseException):
    """Raised in the runner's worker once the operator left (q twice): not an
    Exception, so no step records it as a failure; the app recorded UNKNOWN."""


class DiagnosisReady(Message):
    def __init__(self, service: str, diagnosis: Diagnosis | None, error: str | None) -> None:
        self.service = service
        self.diagnosis = diagnosis
        self.error = error
        super().__init__()


class PlanReady(Message):
    def __init__(self, key: tuple[str, str], plan: Plan | None, error: str | None) -> None:
        self.key = key
        self.plan = plan
        self.error = error
        super().__init__()


class ActionProgressed(Message):
    def __init__(self, key: tuple[str, str], progress: Progress) -> None:
        self.key = key
        self.progress = progress
        super().__init__()


class ActionDone(Message):
    def __init__(self, key: tuple[str, str], plan: Plan, outcome: Outcome) -> None:
        self.key = key
        self.plan = plan
        self.outcome = outcome
        super().__init__()


class ActionRecorded(Message):
    """A step reached the recorder (from any thread): redraw the action log."""


class AppRecorder:
    """Keeps every action step for the log pane and hands it on (to the
    incident journal); thread-safe, as the runner records from workers."""

    def __init__(self, app: App, forward: ActionRecorder | None) -> None:
        self.app = app
        self.forward = forward
        self.events: list[ActionEvent] = []
        #: (action, service) left running on q q: their outcome is recorded as
        #: unknown, and a step the worker still reports after that is not.
        self.abandoned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # the worker may record while q q abandons

    def record(self, event: ActionEvent, *, last: bool = False) -> None:
        """`last`: the final word on this action; nothing after it is kept."""
        key = (event.action, event.service)
        with self._lock:
            if key in self.abandoned:
                return
            if last:
                self.abandoned.add(key)
            if self.forward is not None:
                self.forward.record(event)
            self.events.append(event)
        self.app.post_message(ActionRecorded())


class MitigationKeys:
    """Diagnosis and mitigations; state lives on the app (see CBConsoleApp.__init__)."""

    def _show_diagnosis(self, service: str | None, now: datetime) -> None:
        self.view(DiagnosisPane).show(
            self.diagnoses.get(service) if service else None,
            now,
            service=service,
            loading=service in self.diagnosing,
            error=self.diagnosis_errors.get(service) if service else None,
            keys=KEYS,
        )

    def _show_actions(self) -> None:
        with suppress(NoMatches):  # tearing down
            self._draw_actions()

    def _draw_actions(self) -> None:
        if self._views_mounted():
            running = {
                f"{ACTION_NAMES[action]} {service}": progress
                for (action, service), progress in self.in_flight.items()
            }
            self.view(ActionLog).show(self.recorder.events, running)

    # --- diagnosis ------------------------------------------------------------------

    def action_diagnose(self) -> None:
        service = self.selected_service()
        if service is None:
            return
        if service in self.diagnosing:
            # Reads under way may predate what the press is about (a login, a
            # rollout): one more gather follows them.
            self.diagnose_again.add(service)
            return
        self.diagnosing.add(service)
        with suppress(NoMatches):  # tearing down
            self._show_diagnosis(service, self.clock())
        breaker = self.snapshot.service(service) if self.snapshot else None
        self._gather(service, breaker)

    @work(thread=True, exit_on_error=False, group="diagnose")
    def _gather(self, service: str, breaker) -> None:
        try:
            diagnosis = gather(
                self.service_map.target(service),
                cluster=self.cluster,
                probe=self.probe,
                flags=self.flags,
                breaker=breaker,
                now=self.clock(),
                cluster_unavailable=self.cluster_unavailable or "no cluster",
                context=self.runner.context,
            )
        except Exception as error:  # noqa: BLE001 - shown in the pane, never fatal
            log.warning("diagnosis of %s failed", service, exc_info=True)
            self.post_message(DiagnosisReady(service, None, describe_error(error)))
        else:
            self.post_message(DiagnosisReady(service, diagnosis, None))

    def on_diagnosis_ready(self, message: DiagnosisReady) -> None:
        self.diagnosing.discard(message.service)
        if message.service in self.diagnose_again:
            self.diagnose_again.discard(message.service)
            self.diagnosing.add(message.service)
            breaker = self.snapshot.service(message.service) if self.snapshot else None
            self._gather(message.service, breaker)
        if message.diagnosis is not None:
            self.diagnoses[message.service] = message.diagnosis
            self._rollouts_seen(message.diagnosis)
            self.diagnosis_errors.pop(message.service, None)
        else:
            self.diagnosis_errors[message.service] = message.error or "unknown error"
        if self._views_mounted():
            with suppress(NoMatches):  # tearing down
                self._show_diagnosis(self.selected_service(), self.clock())

    # --- mitigations ----------------------------------------------------------------

    def action_act(self, action: str) -> None:
        """r f d s: plan in a worker, confirm in a dialog, execute in a worker."""
        service = self.selected_service(pin=True)
        if service is None:
            self.notify("Select a service first.", severity="warning")
            return
        key = (action, service)
        if key in self.in_flight:
            self.notify(f"The {ACTION_NAMES[action]} of {service} is already in progress.",
                        severity="warning")
            self._refused(action, service,
                          f"the {ACTION_NAMES[action]} of {service} is already in progress")
            return
        if self.mode == Mode.READ_ONLY and BY_NAME[action].mutating:
            # Refused before any request, reads included.
            self.notify(f"READ-ONLY: {ACTION_NAMES[action]} of {service} refused; nothing sent.",
                        severity="error")
            self._refused(action, service, READ_ONLY_REFUSAL)
            return
        self.in_flight[key] = Progress(None, "preparing")
        self.refresh_views()
        self._plan(key, self.diagnoses.get(service))

    def _refused(self, action: str, service: str, why: str) -> None:
        """A refusal of the app's own, before any plan: journaled as one
        refused step, so the postmortem lists it and never counts it."""
        self._run_quietly(self.recorder.record, ActionEvent(
            at=self.clock(), action=action, stage=Stage.FAILED, service=service,
            target=service, details={"refused": "true", "message": f"{REFUSED}{why}"}))

    @work(thread=True, exit_on_error=False, group="plan")
    def _plan(self, key: tuple[str, str], diagnosis: Diagnosis | None) -> None:
        action, service = key
        try:
            plan = self.runner.plan(action, self.service_map.target(service), diagnosis)
        except Exception as error:  # noqa: BLE001
            log.warning("planning the %s of %s failed", action, service, exc_info=True)
            self.post_message(PlanReady(key, None, describe_error(error)))
        else:
            self.post_message(PlanReady(key, plan, None))

    def on_plan_ready(self, message: PlanReady) -> None:
        key = message.key
        if message.plan is None:
            self.in_flight.pop(key, None)
            self.notify(f"Cannot prepare the {ACTION_NAMES[key[0]]}: {message.error}",
                        severity="error")
            self.refresh_views()
            return
        self.in_flight[key] = Progress(None, "waiting for confirmation")
        self.refresh_views()
        from widgets.confirm import ConfirmDialog

        box = ConfirmDialog(message.plan, self.mode, self._not_journaled_warning())
        # A cancel is logged against the target on screen (t may have switched it).
        self.push_screen(box, callback=lambda chosen: self._confirmed(key, box.plan, chosen))

    def _confirmed(self, key: tuple[str, str], plan: Plan, chosen: Plan | None) -> None:
        if chosen is None:
            self.in_flight.pop(key, None)
            self._run_quietly(self.runner.cancel, plan)
            self.refresh_views()
            return
        self.in_flight[key] = Progress(None, "sending")
        self.executing[key] = chosen
        self.action_pane("actions")
        self.refresh_views()
        self._execute(key, chosen)

    def _run_quietly(self, call, *args) -> None:
        try:
            call(*args)
        except Exception as error:  # noqa: BLE001 - recording must not take the app down
            log.warning("recording failed", exc_info=True)
            self.notify(describe_error(error), severity="error")

    @work(thread=True, exit_on_error=False, group="execute")
    def _execute(self, key: tuple[str, str], plan: Plan) -> None:
        try:
            outcome = self.runner.execute(
                plan, lambda progress: self.post_message(ActionProgressed(key, progress))
            )
        except ActionAbandoned:
            return  # the operator left; UNKNOWN is recorded
        except Exception as error:  # noqa: BLE001
            log.warning("the %s of %s failed", *key, exc_info=True)
            outcome = Outcome(ok=False, message=describe_error(error))
        self.post_message(ActionDone(key, plan, outcome))

    def _runner_sleep(self, seconds: float, sleep=None) -> None:
        """The runner's wait between rollout checks, in its worker thread:
        cut short when the operator leaves (q twice)."""
        if sleep is None:
            self.leave_now.wait(seconds)
        elif not self.leave_now.is_set():
            sleep(seconds)
        if self.leave_now.is_set():
            raise ActionAbandoned()

    # --- leaving --------------------------------------------------------------------

    def action_quit(self) -> None:
        """q: leave; while an action runs, say what is being waited for and
        leave when it ends, or at once on a second q (outcome: unknown)."""
        if not self.executing:
            self.exit()
            return
        if not self.leaving:
            self.leaving = True
            waits = "; ".join(f"{WAITING_FOR[action]} ({service})"
                              for action, service in self.executing)
            self.notify(f"Leaving: waiting for {waits}; q again to leave now — the outcome "
                        "will be recorded as unknown", severity="warning", timeout=3600)
            return
        self.leave_now.set()
        for (action, service), plan in list(self.executing.items()):
            self.recorder.record(ActionEvent(
                at=self.clock(), action=action, stage=Stage.UNKNOWN, service=service,
                target=plan.target, details={"message": (
                    f"outcome unknown: the console was left before {WAITING_FOR[action]}; "
                    f"check {plan.target} before doing it again")}), last=True)
        self.executing.clear()
        self.exit()

    def on_action_progressed(self, message: ActionProgressed) -> None:
        if message.key in self.in_flight:
            self.in_flight[message.key] = message.progress
            self.refresh_views()

    def on_action_done(self, message: ActionDone) -> None:
        self.in_flight.pop(message.key, None)
        self.executing.pop(message.key, None)
        if self.leaving and not self.executing:
            self.exit()  # q was pressed while it ran
            return
        outcome = message.outcome
        words = f"{message.plan.title}: {outcome.message}"
        self.notify(words, severity="information" if outcome.ok else "error",
                    timeout=8 if outcome.ok else 15)
        self.refresh_views()
        service = message.key[1]
        if message.plan.mutating and self.selected_service() == service:
            self.action_diagnose()

    def on_action_recorded(self, message: ActionRecorded) -> None:
        self._show_actions()
