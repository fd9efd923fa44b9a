"""The acknowledging silence on screen (issue 19): `a` offers it, `R` offers
to expire it, each poll extends it while the alert still fires, and leaving
the console leaves it to expire by itself and says so. The steps are
console.mitigations.silence's; the requests run in thread workers."""

from __future__ import annotations

import atexit
import logging
import sys
from dataclasses import replace

from textual.app import App

from console.mitigations.plan import Mode
from console.mitigations.silence import (SilencePlan, SilenceRefused, Silencer,
                                         SilenceSettings, due_for_extension, plan_silence)
from console.clock import Clock
from console.mitigations.recorder import ActionRecorder
from console.model.fleet import FleetSnapshot, alerts_by_service
from console.ui.poller import Poller
from widgets import text as fmt

log = logging.getLogger(__name__)


class Silences:
    """Inert without settings (no ack_silence configured). `app` runs the
    workers and dialogs; `recorder` journals each step; `poller` holds the
    snapshot (the alerts) and polls again once a silence is sent."""

    def __init__(self, app: App, settings: SilenceSettings | None, mode: Mode, *,
                 recorder: ActionRecorder, clock: Clock, poller: Poller) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.poller = poller
        self.silencer = Silencer(settings.port if settings else None, recorder, mode=mode,
                                 url=settings.url if settings else "")
        self.held: dict[str, SilencePlan] = {}  # service -> the silence this console made
        self._extending: set[str] = set()

    # --- a: offer ------------------------------------------------------------------

    def offer(self, tracker) -> None:
        if self.settings is None or tracker is None or not tracker.is_open:
            return
        app = self.app
        service = next((s for s in tracker.services if s in self.held), None)
        if service is not None:
            app.notify(f"Alertmanager silence {self.held[service].silence_id} for {service} "
                       "already made by this console.")
            return
        snapshot = self.poller.snapshot
        alerts = alerts_by_service(snapshot.alerts if snapshot else ())
        service = next((s for s in tracker.services
                        if s in alerts and alerts[s].pager is not None), None)
        if service is None:
            app.notify("No CircuitBreakerOpen alert for this incident in Alertmanager: "
                       "acknowledged here only, nothing silenced.", severity="warning")
            return
        try:
            plan = plan_silence(alerts[service].pager, service=service,
                                service_label=self.settings.service_label,
                                incident_id=tracker.journal.incident_id or "?",
                                operator=tracker.journal.actor, now=self.clock(),
                                length_s=self.settings.length_s)
        except SilenceRefused as error:
            app.notify(f"No silence: {error}. Nothing sent.", severity="error", timeout=10)
            return
        refused = self.silencer.asked(plan, self.clock())
        if refused:
            app.notify(f"READ-ONLY: silence of {service} {refused}.", severity="warning")
            return
        from widgets.prompts import YesNo

        body = (f"POST {self.settings.url}/api/v2/silences\n{plan.body_text()}\n\n"
                f"The same with amtool:\n{plan.amtool(self.settings.url)}")
        if self.silencer.mode == Mode.DRY_RUN:
            body = "DRY RUN: nothing will be sent.\n\n" + body
        title = (f"Also silence {plan.matchers[0].value} for {service} in Alertmanager for "
                 f"{fmt.duration(plan.length_s)}?")
        app.push_screen(YesNo(title, body), callback=lambda yes: self._answered(plan, yes))

    def _answered(self, plan: SilencePlan, yes: bool) -> None:
        if not yes:
            self.silencer.cancelled(plan, self.clock())
            self.app.notify("No silence: the page keeps escalating in Alertmanager.")
            return
        self.app.run_worker(lambda: self._send(plan), thread=True, group="silence",
                            exit_on_error=False)

    def _send(self, plan: SilencePlan) -> None:
        silence_id, words = self.silencer.send(plan, self.clock)
        self.app.call_from_thread(self._sent, plan, silence_id, words)

    def _sent(self, plan: SilencePlan, silence_id: str | None, words: str) -> None:
        if silence_id is None:
            dry = self.silencer.mode == Mode.DRY_RUN
            self.app.notify(f"Silence of {plan.service}: {words}",
                            severity="warning" if dry else "error", timeout=10)
            return
        self.held[plan.service] = replace(plan, silence_id=silence_id)
        self.app.notify(f"Silenced in Alertmanager: {silence_id} until "
                        f"{fmt.clock_time(plan.ends_at)} {fmt.zone_label()}")
        self.poller.start()  # shown as Alertmanager holds it, at once

    # --- R: expire -----------------------------------------------------------------

    def offer_expire(self, tracker, then) -> None:
        """Before resolving: expire the silence this console made? `then` after."""
        incident = tracker.journal.incident_id if tracker is not None else None
        held = [p for p in self.held.values() if incident and p.incident_id == incident]
        if not held:
            then()
            return
        from widgets.prompts import YesNo

        plan = held[0]
        body = (f"DELETE {self.settings.url}/api/v2/silence/{plan.silence_id}\n\n"
                f"The same with amtool:\namtool silence expire "
                f"--alertmanager.url={self.settings.url} {plan.silence_id}\n\n"
                "n leaves it to end by itself; the resolve prompt follows either way.")
        self.app.push_screen(
            YesNo(f"Expire the Alertmanager silence {plan.silence_id} of {plan.service}?",
                  body), callback=lambda yes: (self._expire_answered(plan, yes), then()))

    def _expire_answered(self, plan: SilencePlan, yes: bool) -> None:
        if not yes:
            self.app.notify(f"Silence {plan.silence_id} left: it ends by itself at "
                            f"{fmt.clock_time(plan.ends_at)} {fmt.zone_label()}.")
            return
        if self.silencer.mode == Mode.READ_ONLY:
            self.app.notify("READ-ONLY: expiring the silence refused; nothing sent.",
                            severity="warning")
            return

        def expire():
            silence_id, words = self.silencer.expire(plan, self.clock)
            self.app.call_from_thread(self._expired, plan, silence_id, words)

        self.app.run_worker(expire, thread=True, group="silence", exit_on_error=False)

    def _expired(self, plan: SilencePlan, silence_id: str | None, words: str) -> None:
        if silence_id is None:
            self.app.notify(f"Silence {plan.silence_id}: {words}", severity="error", timeout=10)
            return
        self.held.pop(plan.service, None)
        self.app.notify(f"Silence {silence_id} expired in Alertmanager.")
        self.poller.start()

    # --- every poll: extend while it fires; leaving ------------------------------------

    def polled(self, snapshot: FleetSnapshot) -> None:
        now = self.clock()
        for service, plan in list(self.held.items()):
            firing = any(a.service == service and a.pager is not None for a in snapshot.alerts)
            if not firing or service in self._extending or not due_for_extension(plan, now):
                continue
            self._extending.add(service)
            self.app.run_worker(lambda p=plan: self._extend(p), thread=True, group="silence",
                                exit_on_error=False)

    def _extend(self, plan: SilencePlan) -> None:
        longer = self.silencer.extend(plan, self.clock)
        self.app.call_from_thread(self._extended, plan, longer)

    def _extended(self, plan: SilencePlan, longer: SilencePlan | None) -> None:
        self._extending.discard(plan.service)
        if longer is None:
            self.app.notify(f"Silence {plan.silence_id} of {plan.service} NOT extended: "
                            "see the Actions pane", severity="error", timeout=15)
            return
        self.held[plan.service] = longer
        self.app.notify(f"Silence of {plan.service} extended to "
                        f"{fmt.clock_time(longer.ends_at)} {fmt.zone_label()}")

    def leaving(self) -> None:
        """The app unmounts: each silence stays and ends by itself; said on the
        terminal once the screen is given back."""
        for plan in self.held.values():
            words = (f"cbconsole: Alertmanager silence {plan.silence_id} ({plan.service}) "
                     f"left in place; it ends by itself at {plan.ends_at:%H:%M:%S} UTC")
            log.info(words)
            atexit.register(print, words, file=sys.stderr)
