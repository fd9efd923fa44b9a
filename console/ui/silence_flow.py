"""The acknowledging silence on screen (issue 19): `a` offers it, `R` offers
to expire it, each poll extends it while the alert still fires, and leaving
the console leaves it to expire by itself and says so. The steps are
console.mitigations.silence's; the requests run in thread workers."""

from __future__ import annotations

import atexit
import logging
import sys
from dataclasses import replace
from datetime import timezone

from textual.app import App

from console.mitigations.plan import Mode
from console.incident.silences import journaled_silences
from console.mitigations.silence import (SilencePlan, SilenceRefused, Silencer,
                                         SilenceSettings, adopted_plan, due_for_extension,
                                         plan_silence)
from console.clock import Clock
from console.mitigations.recorder import ActionRecorder
from console.model.fleet import FleetSnapshot, alerts_by_service
from console.ui.journal_bridge import JournalBridge
from console.ui.poller import Poller
from widgets import text as fmt

log = logging.getLogger(__name__)


class Silences:
    """Inert without settings (no ack_silence configured). `app` runs the
    workers and dialogs; `recorder` journals each step; `poller` holds the
    snapshot (the alerts) and polls again once a silence is sent; `journal`
    holds the incident a restarted console resumed (its silence taken back)."""

    def __init__(self, app: App, settings: SilenceSettings | None, mode: Mode, *,
                 recorder: ActionRecorder, clock: Clock, poller: Poller,
                 journal: JournalBridge | None = None) -> None:
        self.app = app
        self.journal = journal
        self._adopted = False  # the journal's silences looked up, once Alertmanager answered
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
        if not self._adopted:
            self._adopt(snapshot, now)
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
        """The app unmounts: each silence stays and ends by itself; journaled,
        and said on the terminal once the screen is given back."""
        for plan in self.held.values():
            ends = plan.ends_at.astimezone(timezone.utc)
            words = (f"Alertmanager silence {plan.silence_id} ({plan.service}) left in place; "
                     f"it ends by itself at {ends:%Y-%m-%d %H:%M:%S} UTC")
            log.info(words)
            try:
                self.silencer.left(plan, self.clock(), words)
            except Exception:  # noqa: BLE001 - leaving must not fail; the words still go out
                log.warning("journaling the silence left in place failed", exc_info=True)
            atexit.register(print, f"cbconsole: {words}", file=sys.stderr)

    # --- a restarted console: its own silence, from the journal ------------------------

    def _adopt(self, snapshot: FleetSnapshot, now) -> None:
        """The resumed incident's silences, read back from Alertmanager (this
        poll's GET /api/v2/silences): an active one is held again (extended
        while the alert fires, R offers its expiry); an ended one is said
        so and never extended. Waits for a poll that Alertmanager answered,
        and, in a console following another's journal, for the take-over."""
        pager = snapshot.pager
        if self.settings is None or pager is None or len(pager.down) >= len(pager.members):
            return
        if self.journal is not None and self.journal.followed() is not None:
            return  # another console holds the journal and its silence; maybe ours later
        self._adopted = True
        tracker = self.journal.tracker if self.journal is not None else None
        if tracker is None or not tracker.is_open:
            return
        incident = tracker.journal.incident_id or "?"
        found = {s.id: s for s in pager.silences}
        for service, silence_id in journaled_silences(tracker.journal.events).items():
            if service in self.held:
                continue
            silence = found.get(silence_id)
            if silence is not None:
                plan = adopted_plan(silence, service=service, incident_id=incident,
                                    length_s=self.settings.length_s)
            else:
                plan = SilencePlan(service=service, matchers=(), created_by="", comment="",
                                   starts_at=now, ends_at=now, silence_id=silence_id,
                                   incident_id=incident)
            if silence is not None and silence.state == "active":
                self.held[service] = plan
                words = (f"Alertmanager silence {silence_id} of {service} taken back after the "
                         f"restart: active until {fmt.clock_time(plan.ends_at)} "
                         f"{fmt.zone_label()}, extended while the alert fires; R offers to "
                         "expire it")
                self.silencer.adopted(plan, now, words, alive=True)
                self.app.notify(words, timeout=15)
                continue
            gone = (f"{silence.state} meanwhile" if silence is not None
                    else "deleted meanwhile (Alertmanager no longer has it)")
            words = (f"Alertmanager silence {silence_id} of {service} {gone}: not extended; "
                     "the page escalates again unless silenced anew (a)")
            self.silencer.adopted(plan, now, words, alive=False)
            self.app.notify(words, severity="warning", timeout=20)
