"""The mitigation keys (r f d s and the registry's others): plan in a
worker, confirm in a dialog, execute in a worker, every step through the one
recorder; and q, which waits for an action under way or abandons it."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from textual.app import App
from textual.message import Message

from console.clock import Clock
from console.diagnosis.findings import Diagnosis
from console.errors import describe_error
from console.incident.applied import REFUSED
from console.mitigations.base import READ_ONLY_REFUSAL
from console.mitigations.plan import Mode, Outcome, Plan, Progress
from console.mitigations.prodlock import ProductionLocks
from console.mitigations.recorder import ActionEvent, Stage
from console.mitigations.registry import BY_NAME, MITIGATIONS
from console.mitigations.runner import ActionRunner
from console.mitigations.siterouting import SiteRouter
from console.model.servicemap import ServiceMap
from console.ui.diagnosis_flow import DiagnosisController
from console.ui.journal_bridge import JournalBridge
from console.ui.recorder import AppRecorder
from console.ui.selection import Selection

log = logging.getLogger(__name__)

ACTION_NAMES = {m.name: m.words for m in MITIGATIONS}
#: What q waits for while an action runs.
WAITING_FOR = {m.name: m.waiting_for for m in MITIGATIONS}


#: What is in flight: (action, site, service).
Key = tuple[str, str, str]


class ActionAbandoned(BaseException):
    """Raised in the runner's worker once the operator left (q twice): not an
    Exception, so no step records it as a failure; the app recorded UNKNOWN."""


def abandonable(leave_now: threading.Event, sleep=None) -> Callable[[float], None]:
    """The runner's wait between rollout checks, in its worker thread: cut
    short when the operator leaves (q twice). `sleep`: a fake clock's."""
    def wait(seconds: float) -> None:
        if sleep is None:
            leave_now.wait(seconds)
        elif not leave_now.is_set():
            sleep(seconds)
        if leave_now.is_set():
            raise ActionAbandoned()
    return wait


class PlanReady(Message):
    def __init__(self, key: Key, plan: Plan | None, error: str | None) -> None:
        self.key = key
        self.plan = plan
        self.error = error
        super().__init__()


class ActionProgressed(Message):
    def __init__(self, key: Key, progress: Progress) -> None:
        self.key = key
        self.progress = progress
        super().__init__()


class ActionDone(Message):
    def __init__(self, key: Key, plan: Plan, outcome: Outcome) -> None:
        self.key = key
        self.plan = plan
        self.outcome = outcome
        super().__init__()


class MitigationController:
    """The state machine of each (action, service): `in_flight` from the key
    to the outcome, `executing` while the plan is sent (q waits for these).
    `app` runs the workers and dialogs and gets the messages (handed back to
    plan_ready, progressed, done); `runner` plans and executes and records
    into `recorder`; `leave_now` is the runner's wait (abandonable);
    `redraw` draws every view, `show_pane` brings a pane forward. `sites`
    aims `runner` at the selected row's site (its cluster, flags, context,
    mode) for each plan and send; default: the one implicit site."""

    def __init__(self, app: App, *, runner: ActionRunner, recorder: AppRecorder,
                 leave_now: threading.Event, mode: Mode, service_map: ServiceMap,
                 selection: Selection, diagnosis: DiagnosisController, journal: JournalBridge,
                 clock: Clock, redraw: Callable[[], None],
                 show_pane: Callable[[str], None], sites: SiteRouter | None = None,
                 locks: ProductionLocks | None = None) -> None:
        self.app = app
        self.locks = locks or ProductionLocks()  # production contexts, until unlocked
        self.runner = runner
        self.recorder = recorder
        self.leave_now = leave_now  # q pressed twice: the runner stops watching
        self.mode = mode
        self.service_map = service_map
        self.selection = selection
        self.diagnosis = diagnosis
        self.journal = journal
        self.clock = clock
        self.redraw = redraw
        self.show_pane = show_pane
        self.sites = sites or SiteRouter.implicit(
            cluster=runner.cluster, flags=runner.flags, service_map=service_map, mode=mode,
            cluster_unavailable=runner.cluster_unavailable,
            flags_unavailable=runner.flags_unavailable)
        # (action, site, service) -> progress, from the key press to the outcome.
        self.in_flight: dict[Key, Progress] = {}
        # (action, site, service) -> the plan sent, until its outcome; q waits for these.
        self.executing: dict[Key, Plan] = {}
        self.leaving = False  # q pressed while an action ran

    def running(self) -> dict[str, Progress]:
        """What is under way, in words: "restart payment-api" -> progress."""
        return {f"{ACTION_NAMES[action]} {service}{f' in {site}' if site else ''}": progress
                for (action, site, service), progress in self.in_flight.items()}

    def runner_for(self, site: str) -> ActionRunner:
        """The runner aimed at `site` now (its mode after a lock or unlock)."""
        return self.sites.runner(site, self.runner)

    def act(self, action: str) -> None:
        """r f d s: plan in a worker, confirm in a dialog, execute in a worker."""
        row = self.selection.key(pin=True)
        if row is None:
            self.app.notify("Select a service first.", severity="warning")
            return
        site, service = row
        key = (action, site, service)
        words = ACTION_NAMES[action]
        if key in self.in_flight:
            self.app.notify(f"The {words} of {service} is already in progress.",
                            severity="warning")
            self._refused(key, f"the {words} of {service} is already in progress")
            return
        if self.sites.mode(site) == Mode.READ_ONLY and BY_NAME[action].mutating:
            # Refused before any request, reads included.
            self.app.notify(f"READ-ONLY: {words} of {service} refused; nothing sent.",
                            severity="error")
            self._refused(key, READ_ONLY_REFUSAL)
            return
        self.in_flight[key] = Progress(None, "preparing")
        self.redraw()
        diagnosis = self.diagnosis.of(row)
        self.app.run_worker(lambda: self._plan(key, diagnosis), name="_plan", group="plan",
                            thread=True, exit_on_error=False)

    def _refused(self, key: Key, why: str) -> None:
        """A refusal of the app's own, before any plan: journaled as one
        refused step, so the postmortem lists it and never counts it."""
        action, site, service = key
        self._run_quietly(self.recorder.record, ActionEvent(
            at=self.clock(), action=action, stage=Stage.FAILED, service=service,
            target=service, site=site, details={"refused": "true", "message": f"{REFUSED}{why}"}))

    def _plan(self, key: Key, diagnosis: Diagnosis | None) -> None:
        action, site, service = key
        try:
            plan = self.runner_for(site).plan(action, self.sites.target(site, service),
                                              diagnosis)
        except Exception as error:  # noqa: BLE001
            log.warning("planning the %s of %s failed", action, service, exc_info=True)
            self.app.post_message(PlanReady(key, None, describe_error(error)))
        else:
            self.app.post_message(PlanReady(key, plan, None))

    def plan_ready(self, message: PlanReady) -> None:
        key = message.key
        if message.plan is None:
            self.in_flight.pop(key, None)
            self.app.notify(f"Cannot prepare the {ACTION_NAMES[key[0]]}: {message.error}",
                            severity="error")
            self.redraw()
            return
        self.in_flight[key] = Progress(None, "waiting for confirmation")
        self.redraw()
        from widgets.rollback import confirm_dialog

        box = confirm_dialog(message.plan, self.sites.mode(key[1]),
                             self.journal.not_journaled_warning(),
                             locked=self._locked(message.plan, key[1]))
        # A cancel is logged against the target on screen (t may have switched it).
        self.app.push_screen(box, callback=lambda chosen: self._confirmed(key, box.plan, chosen))

    def _locked(self, plan: Plan, site: str) -> str | None:
        """The production context this plan waits to be unlocked for, or None
        (read-only refuses anyway; a dry run sends nothing)."""
        runner = self.runner_for(site)
        if runner.mode == Mode.LIVE and plan.mutating and self.locks.locked(runner.context):
            return runner.context
        return None

    def unlock_typed(self, message) -> None:
        """Enter in a locked dialog's field: the context's exact name unlocks it."""
        box, context = message.dialog, message.dialog.locked
        if self.locks.unlock(context, message.typed, service=box.plan.service):
            box.show_unlocked()
            self.app.notify(f"{context} unlocked for this session: y confirms.")
            self.redraw()  # the header names it
        else:
            box.clear_unlock()
            self.app.notify(f"That is not {context}: still locked, nothing sent.",
                            severity="error")

    def _confirmed(self, key: Key, plan: Plan, chosen: Plan | None) -> None:
        if chosen is None:
            self.in_flight.pop(key, None)
            self._run_quietly(self.runner_for(key[1]).cancel, plan)
            self.redraw()
            return
        if self._locked(chosen, key[1]):  # y before the name was typed: nothing is sent
            runner = self.runner_for(key[1])
            refusal = self.locks.refusal(runner.context)
            self.in_flight.pop(key, None)
            self._run_quietly(runner.record, chosen, Stage.FAILED,
                              {"message": f"{REFUSED}{refusal}"})
            self.app.notify(f"LOCKED: {refusal}.", severity="error", timeout=15)
            self.redraw()
            return
        self.in_flight[key] = Progress(None, "sending")
        self.executing[key] = chosen
        self.show_pane("actions")
        self.redraw()
        self.app.run_worker(lambda: self._execute(key, chosen), name="_execute",
                            group="execute", thread=True, exit_on_error=False)

    def _run_quietly(self, call, *args) -> None:
        try:
            call(*args)
        except Exception as error:  # noqa: BLE001 - recording must not take the app down
            log.warning("recording failed", exc_info=True)
            self.app.notify(describe_error(error), severity="error")

    def _execute(self, key: Key, plan: Plan) -> None:
        try:
            outcome = self.runner_for(key[1]).execute(
                plan, lambda progress: self.app.post_message(ActionProgressed(key, progress))
            )
        except ActionAbandoned:
            return  # the operator left; UNKNOWN is recorded
        except Exception as error:  # noqa: BLE001
            log.warning("the %s of %s failed", *key, exc_info=True)
            outcome = Outcome(ok=False, message=describe_error(error))
        self.app.post_message(ActionDone(key, plan, outcome))

    def quit(self) -> None:
        """q: leave; while an action runs, say what is being waited for and
        leave when it ends, or at once on a second q (outcome: unknown)."""
        if not self.executing:
            self.app.exit()
            return
        if not self.leaving:
            self.leaving = True
            waits = "; ".join(f"{WAITING_FOR[action]} ({service}{f' in {site}' if site else ''})"
                              for action, site, service in self.executing)
            self.app.notify(f"Leaving: waiting for {waits}; q again to leave now — the outcome "
                            "will be recorded as unknown", severity="warning", timeout=3600)
            return
        self.leave_now.set()
        for (action, site, service), plan in list(self.executing.items()):
            self.recorder.record(ActionEvent(
                at=self.clock(), action=action, stage=Stage.UNKNOWN, service=service,
                target=plan.target, site=site, details={"message": (
                    f"outcome unknown: the console was left before {WAITING_FOR[action]}; "
                    f"check {plan.target} before doing it again")}), last=True)
        self.executing.clear()
        self.app.exit()

    def progressed(self, message: ActionProgressed) -> None:
        if message.key in self.in_flight:
            self.in_flight[message.key] = message.progress
            self.redraw()

    def done(self, message: ActionDone) -> None:
        self.in_flight.pop(message.key, None)
        self.executing.pop(message.key, None)
        if self.leaving and not self.executing:
            self.app.exit()  # q was pressed while it ran
            return
        outcome = message.outcome
        words = f"{message.plan.title}: {outcome.message}"
        self.app.notify(words, severity="information" if outcome.ok else "error",
                        timeout=8 if outcome.ok else 15)
        self.redraw()
        if message.plan.mutating and self.selection.key() == message.key[1:]:
            self.diagnosis.diagnose()
