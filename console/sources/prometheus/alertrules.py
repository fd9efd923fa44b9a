"""Whether a silent ALERTS means "not active": only where an alerting rule
could make the series. VictoriaMetrics has no ALERTS without vmalert, so the
rules are listed (every RULES_RECHECK_S at most) and, where no rule of the
name exists or they cannot be listed, the alert state is unknown."""

from __future__ import annotations

from console.sources.base import SourceError
from console.sources.prometheus.http import PromClient, Unreachable

#: Re-read the alerting rules (is there a rule behind a silent ALERTS?) this often.
RULES_RECHECK_S = 300.0


class AlertRules:
    """What the backend's alerting rules say about one alert's name."""

    def __init__(self, client: PromClient, alert_name: str) -> None:
        self._client = client
        self.alert_name = alert_name
        self._checked_at: float | None = None
        self._exists = False
        self._error: str | None = None

    def notice(self, seen: bool, now: float) -> str | None:
        """The notice to show after a poll that did (not) see ALERTS series,
        None where the alert state is known."""
        if seen:
            self._exists = True
            return None
        if self._checked_at is None or now - self._checked_at > RULES_RECHECK_S:
            try:
                data = self._client.get("/api/v1/rules?type=alert", "alerting rules")
                groups = data.get("groups", []) if isinstance(data, dict) else []
                self._exists = any(
                    r.get("name") == self.alert_name
                    for g in groups for r in g.get("rules", ())
                )
                self._error = None
                self._checked_at = now
            except Unreachable:
                pass  # keep what we knew; ask again next poll
            except SourceError as exc:
                self._exists, self._error = False, str(exc)
                self._checked_at = now
        name = self.alert_name
        if self._exists:
            return None
        if self._error:
            return (f"no ALERTS series for {name} and the alerting rules cannot be listed "
                    f"({self._error}): alert state unknown")
        return (f"this backend has no ALERTS series and no alerting rule {name} "
                "(VictoriaMetrics without vmalert?): alert state unknown")
