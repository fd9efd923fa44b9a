"""Acknowledging the page: a short silence in Alertmanager (karma's one-click
ack), extended while the alert still fires (kthxbye), expired on resolve.
Matchers are exact and checked before anything is sent: Alertmanager refuses
a set that matches the empty string, and one label listed twice with two
values matches nothing. Each step is recorded like a mitigation's (asked,
confirmed, sent, succeeded/failed); read-only refuses before any request and
a dry run sends nothing. Not a mitigation: the fleet is untouched."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from console.errors import describe_error
from console.mitigations.plan import Mode
from console.mitigations.recorder import ActionEvent, ActionRecorder, Stage
from console.model.alertmanager import ManagedAlert, Matcher, Silence

ACTION = "silence"
EXTEND, EXPIRE = "silence_extend", "silence_expire"
#: Leaving the console with the silence in place; taking it back after a restart.
LEFT, ADOPTED = "silence_left", "silence_adopted"
EXTEND_BEFORE_S = 300.0  # extended when this little is left (or a fifth of it)


class SilencePort(Protocol):
    """Alertmanager's silence endpoints (console.sources.alertmanager)."""

    label: str

    def post_silence(self, body: dict) -> str: ...

    def expire_silence(self, silence_id: str) -> None: ...


@dataclass(frozen=True)
class SilenceSettings:
    port: SilencePort
    length_s: float  # [alertmanager] ack_silence
    url: str  # for the amtool line
    service_label: str = "service"


class SilenceRefused(ValueError):
    """A matcher set Alertmanager would refuse, or one that matches nothing."""


def check_matchers(matchers: tuple[Matcher, ...]) -> None:
    if not matchers:
        raise SilenceRefused("no matcher: a silence would match every alert")
    names = [m.name for m in matchers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SilenceRefused(f"label {', '.join(twice)} listed twice: the silence would "
                             "match nothing")
    if all(_matches_empty(m) for m in matchers):
        raise SilenceRefused("every matcher matches the empty string: Alertmanager "
                             "refuses such a silence")


def _matches_empty(m: Matcher) -> bool:
    if m.is_regex:
        try:
            hit = re.fullmatch(m.value, "") is not None
        except re.error as exc:
            raise SilenceRefused(f"matcher {m.text()}: not a regular expression ({exc})") \
                from None
    else:
        hit = m.value == ""
    return hit if m.is_equal else not hit


@dataclass(frozen=True)
class SilencePlan:
    service: str
    matchers: tuple[Matcher, ...]
    created_by: str
    comment: str
    starts_at: datetime
    ends_at: datetime
    silence_id: str | None = None  # set: this silence is updated (extended)
    length: float = 0.0  # as configured (ends - starts grows with each extension)
    incident_id: str = ""

    @property
    def length_s(self) -> float:
        return self.length or (self.ends_at - self.starts_at).total_seconds()

    def body(self) -> dict:
        """Exactly what POST /api/v2/silences is sent."""
        body = {
            "matchers": [{"name": m.name, "value": m.value, "isRegex": m.is_regex,
                          "isEqual": m.is_equal} for m in self.matchers],
            "startsAt": _iso(self.starts_at), "endsAt": _iso(self.ends_at),
            "createdBy": self.created_by, "comment": self.comment,
        }
        if self.silence_id:
            body = {"id": self.silence_id, **body}
        return body

    def body_text(self) -> str:
        return json.dumps(self.body(), indent=2)

    def amtool(self, url: str) -> str:
        """The same silence made with amtool (it reads the duration, not the end)."""
        minutes = max(1, round(self.length_s / 60))
        words = ["amtool", "silence", "add", f"--alertmanager.url={url}",
                 f"--author={self.created_by}", f"--comment={self.comment}",
                 f"--duration={minutes}m", *(m.text() for m in self.matchers)]
        return " ".join(shlex.quote(w) for w in words)

    def target(self) -> str:
        """Who and when are the event's; what and how long, here (constant: an
        extension keeps its chain)."""
        minutes = max(1, round(self.length_s / 60))
        if not self.matchers:  # known by its id only (gone from Alertmanager)
            return f"alertmanager silence {self.silence_id}"
        return (f"alertmanager silence {','.join(m.text() for m in self.matchers)} "
                f"for {minutes}m")


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def plan_silence(alert: ManagedAlert, *, service: str, service_label: str, incident_id: str,
                 operator: str, now: datetime, length_s: float) -> SilencePlan:
    """alertname, the service label and the cluster (when the alert has one),
    each exactly its value on the alert."""
    names = ("alertname", service_label, "cluster")
    matchers = tuple(Matcher(name=n, value=alert.labels[n]) for n in dict.fromkeys(names)
                     if n in alert.labels)
    check_matchers(matchers)
    return SilencePlan(
        service=service, matchers=matchers, created_by=operator,
        comment=f"Acknowledged in cbconsole: incident {incident_id} ({service})",
        starts_at=now, ends_at=now + timedelta(seconds=length_s), length=length_s,
        incident_id=incident_id)


def adopted_plan(silence: Silence, *, service: str, incident_id: str,
                 length_s: float) -> SilencePlan:
    """The silence as Alertmanager holds it (its matchers, author, comment and
    times), to extend and expire as if this console had just made it."""
    return SilencePlan(
        service=service, matchers=silence.matchers, created_by=silence.created_by,
        comment=silence.comment, starts_at=silence.starts_at, ends_at=silence.ends_at,
        silence_id=silence.id, length=length_s, incident_id=incident_id)


def due_for_extension(plan: SilencePlan, now: datetime) -> bool:
    left = (plan.ends_at - now).total_seconds()
    return left <= min(EXTEND_BEFORE_S, plan.length_s / 5)


class Silencer:
    """Sends the steps and records each one. Blocking: call it in a worker."""

    def __init__(self, port: SilencePort | None, recorder: ActionRecorder, *, mode: Mode,
                 url: str = "") -> None:
        self.port = port
        self.recorder = recorder
        self.mode = mode
        self.url = url

    def _record(self, plan: SilencePlan, stage: Stage, action: str = ACTION, **details) -> None:
        at = details.pop("at")
        self.recorder.record(ActionEvent(
            at=at, action=action, stage=stage, service=plan.service, target=plan.target(),
            details={k: str(v) for k, v in details.items()}))

    def asked(self, plan: SilencePlan, at: datetime, action: str = ACTION) -> str | None:
        """Recorded when the dialog shows; a refusal (read-only) instead, and its words."""
        if self.mode == Mode.READ_ONLY:
            words = "refused: read-only: no silence is sent"
            self._record(plan, Stage.FAILED, action, at=at, message=words, refused="true")
            return words
        self._record(plan, Stage.ASKED, action, at=at, request=plan.body_text(),
                     amtool=plan.amtool(self.url))
        return None

    def cancelled(self, plan: SilencePlan, at: datetime, action: str = ACTION) -> None:
        self._record(plan, Stage.CANCELLED, action, at=at)

    def send(self, plan: SilencePlan, clock, action: str = ACTION) -> tuple[str | None, str]:
        """Confirmed: sent (unless a dry run). (silence id or None, words)."""
        self._record(plan, Stage.CONFIRMED, action, at=clock())
        if self.mode == Mode.DRY_RUN:
            words = "dry run: nothing sent"
            self._record(plan, Stage.SUCCEEDED, action, at=clock(), dry_run="true",
                         message=words)
            return None, words
        return self._sent(plan, clock, action, lambda: self.port.post_silence(plan.body()))

    def expire(self, plan: SilencePlan, clock) -> tuple[str | None, str]:
        self._record(plan, Stage.CONFIRMED, EXPIRE, at=clock())
        if self.mode == Mode.DRY_RUN:
            self._record(plan, Stage.SUCCEEDED, EXPIRE, at=clock(), dry_run="true",
                         message="dry run: nothing sent")
            return None, "dry run: nothing sent"

        def call():
            self.port.expire_silence(plan.silence_id)
            return plan.silence_id

        return self._sent(plan, clock, EXPIRE, call)

    def _sent(self, plan, clock, action, call) -> tuple[str | None, str]:
        if self.port is None:
            words = "no Alertmanager configured"
            self._record(plan, Stage.FAILED, action, at=clock(), error=words)
            return None, words
        self._record(plan, Stage.SENT, action, at=clock(), silence_id=plan.silence_id or "")
        try:
            silence_id = call()
        except Exception as error:  # noqa: BLE001 - recorded and shown, never fatal
            words = describe_error(error)
            self._record(plan, Stage.FAILED, action, at=clock(), error=words)
            return None, words
        self._record(plan, Stage.SUCCEEDED, action, at=clock(), silence_id=silence_id)
        return silence_id, f"silence {silence_id}"

    def extend(self, plan: SilencePlan, clock) -> SilencePlan | None:
        """The same silence (its id) until now + its length; the new plan, or None."""
        now = clock()
        # startsAt stays: Alertmanager keeps an active silence's start.
        longer = replace(plan, ends_at=now + timedelta(seconds=plan.length_s))
        self._record(longer, Stage.ASKED, EXTEND, at=now,
                     request=longer.body_text(), automatic="true")
        silence_id, _ = self.send(longer, clock, EXTEND)
        return replace(longer, silence_id=silence_id) if silence_id else None

    def left(self, plan: SilencePlan, at: datetime, words: str) -> None:
        """The console quits with the silence in force: it ends by itself."""
        self._record(plan, Stage.SUCCEEDED, LEFT, at=at, silence_id=plan.silence_id,
                     ends_at=_iso(plan.ends_at), message=words, said="true")

    def adopted(self, plan: SilencePlan, at: datetime, words: str, *, alive: bool) -> None:
        """After a restart: the journal's silence read back from Alertmanager,
        taken back (alive) or found ended (never extended)."""
        self._record(plan, Stage.SUCCEEDED if alive else Stage.FAILED, ADOPTED, at=at,
                     silence_id=plan.silence_id, message=words, said="true")
