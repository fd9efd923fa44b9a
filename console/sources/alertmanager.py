"""Alertmanager (API v2), read at every poll and written for the silence
that acknowledges a page. An HA pair is several URLs: each is read, their
copies merged (alerts by fingerprint, silences by id); a member that does
not answer is named, and the others are used. The transport, the auth and
the error words are the Prometheus client's (console/sources/prometheus/http.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import quote

from console.errors import NotSent, SourceError, Unreachable, describe_error
from console.model.alertmanager import AlertRule, ManagedAlert, Matcher, PagerView, Silence
from console.model.fleet import Alert, FleetSnapshot
from console.sources.prometheus.auth import PrometheusAuth
from console.sources.prometheus.http import PromClient, _Answer

log = logging.getLogger(__name__)


class AlertmanagerClient(PromClient):
    """One Alertmanager member on one kept-alive session."""

    server = "Alertmanager"

    def request(self, method: str, path: str, what: str, body: dict | None = None):
        """JSON in and out; a non-2xx answer is an error naming the member."""

        def call():
            response = self._session.request(
                method, self.url + path, json=body,
                timeout=(min(self.timeout, 3.0), self.timeout))
            if not 200 <= response.status_code < 300:
                raise _Answer(response.status_code, response.reason or "", body=response.text)
            return response.json() if response.content else {}

        return self._call(call, None, what)

    def _answer_error(self, answer: _Answer, promql, what: str) -> SourceError:
        if answer.status == 404:
            return SourceError(f"Alertmanager at {self.url} answered HTTP 404 to {what}: "
                               "is this the Alertmanager base URL (API v2)?")
        return super()._answer_error(answer, promql, what)


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_silence(doc: dict) -> Silence:
    return Silence(
        id=str(doc.get("id", "")),
        state=str((doc.get("status") or {}).get("state", "unknown")),
        created_by=str(doc.get("createdBy", "")), comment=str(doc.get("comment", "")),
        starts_at=_time(doc.get("startsAt")), ends_at=_time(doc.get("endsAt")),
        matchers=tuple(Matcher(name=str(m.get("name", "")), value=str(m.get("value", "")),
                               is_regex=bool(m.get("isRegex", False)),
                               is_equal=bool(m.get("isEqual", True)))
                       for m in doc.get("matchers") or ()),
    )


def _described(doc: dict) -> str:
    labels = dict(doc.get("labels") or {})
    name = labels.pop("alertname", "?")
    inner = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def read_alerts(docs: list[dict], silences: dict[str, Silence],
                alert_name: str) -> tuple[ManagedAlert, ...]:
    """`alert_name`'s alerts, their silences and inhibitors named."""
    by_fp = {str(d.get("fingerprint")): d for d in docs}
    out = []
    for fp, doc in sorted(by_fp.items()):
        labels = {str(k): str(v) for k, v in (doc.get("labels") or {}).items()}
        if labels.get("alertname") != alert_name:
            continue
        status = doc.get("status") or {}
        out.append(ManagedAlert(
            name=alert_name, fingerprint=fp, labels=labels,
            state=str(status.get("state", "unknown")),
            starts_at=_time(doc.get("startsAt")),
            receivers=tuple(str(r.get("name", "")) for r in doc.get("receivers") or ()),
            silenced_by=tuple(silences.get(i) or Silence(id=str(i))
                              for i in status.get("silencedBy") or ()),
            inhibited_by=tuple(_described(by_fp[i]) if i in by_fp else str(i)
                               for i in status.get("inhibitedBy") or ()),
        ))
    return tuple(out)


def read_rule(data: dict, alert_name: str) -> AlertRule | None:
    for group in data.get("groups") or ():
        for rule in group.get("rules") or ():
            if rule.get("type") == "alerting" and rule.get("name") == alert_name:
                return AlertRule(name=alert_name, expr=str(rule.get("query", "")),
                                 for_s=float(rule.get("duration") or 0),
                                 state=str(rule.get("state", "")))
    return None


class Alertmanagers:
    """All members of one Alertmanager (a single URL or an HA pair)."""

    def __init__(self, urls: list[str], auth: PrometheusAuth | None = None,
                 timeout: float = 3.0, alert_name: str = "CircuitBreakerOpen") -> None:
        self.members = [AlertmanagerClient(u, auth, timeout=timeout) for u in urls]
        self.alert_name = alert_name
        self.label = ", ".join(m.url for m in self.members)

    def __repr__(self) -> str:
        return f"Alertmanagers({self.label!r})"

    def read(self) -> PagerView:
        """Every member's alerts and silences, merged; blocking (a worker's)."""
        alerts: dict[str, dict] = {}
        silences: dict[str, Silence] = {}
        down = []
        for member in self.members:
            try:
                got = member.request("GET", "/api/v2/alerts", "GET /api/v2/alerts")
                sil = member.request("GET", "/api/v2/silences", "GET /api/v2/silences")
                if not isinstance(got, list) or not isinstance(sil, list):
                    raise SourceError(f"Alertmanager at {member.url} answered an unexpected "
                                      "shape (a list expected)")
            except Exception as error:  # noqa: BLE001 - a member down is named, not fatal
                log.warning("Alertmanager member %s did not answer", member.url, exc_info=True)
                down.append((member.url, describe_error(error)))
                continue
            for doc in got:  # the first member that answered is kept for each alert
                alerts.setdefault(str(doc.get("fingerprint")), doc)
            for doc in sil:
                silence = read_silence(doc)
                silences.setdefault(silence.id, silence)
        return PagerView(
            members=tuple(m.url for m in self.members), down=tuple(down),
            alerts=read_alerts(list(alerts.values()), silences, self.alert_name),
            silences=tuple(silences.values()))

    def send(self, method: str, path: str, what: str, body: dict | None = None):
        """To the first member reached (the pair gossips it to the other);
        raises the last member's error when none was."""
        error: Exception | None = None
        for member in self.members:
            try:
                return member.request(method, path, what, body)
            # Only a request that never left goes to the other member: one
            # that timed out may have made a silence, and a second would be a
            # duplicate (an answer that refused it, the other would refuse too).
            except NotSent as exc:
                log.warning("Alertmanager member %s not reached for %s", member.url, what,
                            exc_info=True)
                error = exc
        raise error or SourceError("no Alertmanager configured")

    def post_silence(self, body: dict) -> str:
        answer = self.send("POST", "/api/v2/silences", "POST /api/v2/silences", body)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not silence_id:
            raise SourceError(f"Alertmanager answered no silenceID: {answer!r:.120}")
        return str(silence_id)

    def expire_silence(self, silence_id: str) -> None:
        path = f"/api/v2/silence/{quote(silence_id, safe='')}"
        self.send("DELETE", path, f"DELETE {path}")

    def close(self) -> None:
        for member in self.members:
            member.close()


def merge(alerts: tuple[Alert, ...], pager: PagerView, service_labels: tuple[str, ...],
          rule: AlertRule | None, now: datetime,
          site_of: Callable[[dict], str] = lambda labels: "") -> tuple[Alert, ...]:
    """Prometheus's alerts with Alertmanager's view of each; an alert only
    Alertmanager holds is added (firing, as Prometheus sent it). `site_of`:
    the site of an Alertmanager alert's labels (its cluster label's value),
    so eu-west's page is not matched to us-east's alert; "" when unknown."""
    managed: dict[tuple[str, str | None], object] = {}
    for m in pager.alerts:
        service = next((m.labels[k] for k in service_labels if k in m.labels), None)
        managed.setdefault((site_of(m.labels), service), m)
    out = []
    for alert in alerts:
        update = {}
        key = next((k for k in ((alert.site, alert.service), ("", alert.service))
                    if k in managed), None)
        if alert.state == "firing" and key is not None:
            m = update["pager"] = managed.pop(key)
            # The page's own start: the postmortem's "Alert fired" (issue 19).
            update["active_at"] = m.starts_at or alert.active_at
        if alert.state == "pending" and rule is not None and alert.active_at is not None:
            update["fires_at"] = alert.active_at + timedelta(seconds=rule.for_s)
        out.append(alert.model_copy(update=update) if update else alert)
    for (site, service), m in managed.items():
        out.append(Alert(name=m.name, state="firing", service=service, site=site,
                         active_at=m.starts_at, pager=m))
    return tuple(out)


class PagerOverlay:
    """A BreakerSource: the inner source's poll, then Alertmanager's view of
    its alerts and the rule from Prometheus, all in the poll worker."""

    RULE_EVERY_S = 60.0

    def __init__(self, inner, managers: Alertmanagers, *, rules_client=None,
                 service_labels: tuple[str, ...] = ("service",),
                 site_of: Callable[[dict], str] = lambda labels: "") -> None:
        self.inner = inner
        self.site_of = site_of
        self.managers = managers
        self.rules_client = rules_client  # a PromClient: GET /api/v1/rules
        self.service_labels = service_labels
        self._rule: AlertRule | None = None
        self._rule_error: str | None = None
        self._rule_read_at: datetime | None = None
        self.silence_settings = None  # console.sources.alertmanager_setup sets it

    def __getattr__(self, name):  # label, close, queries_per_poll...: the inner source's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def poll(self) -> FleetSnapshot:
        snapshot = self.inner.poll()
        now = snapshot.fetched_at
        self._read_rule(now)
        pager = self.managers.read().model_copy(
            update={"rule": self._rule, "rule_error": self._rule_error})
        return snapshot.model_copy(update={
            "pager": pager,
            "alerts": merge(snapshot.alerts, pager, self.service_labels, self._rule, now,
                            self.site_of)})

    def _read_rule(self, now: datetime) -> None:
        if self.rules_client is None:
            return
        if self._rule_read_at and (now - self._rule_read_at).total_seconds() < self.RULE_EVERY_S:
            return
        self._rule_read_at = now
        try:
            data = self.rules_client.get("/api/v1/rules?type=alert", "alerting rules")
            self._rule = read_rule(data, self.managers.alert_name)
            self._rule_error = None if self._rule else (
                f"no alerting rule {self.managers.alert_name} in Prometheus")
        except Exception as error:  # noqa: BLE001 - shown in the header, retried
            log.warning("reading the alerting rules failed", exc_info=True)
            self._rule_error = describe_error(error)
