"""The page as Alertmanager holds it: each alert's routing state (active,
silenced, inhibited), the silences behind it, and which members of an HA
pair answered. Shapes follow Alertmanager 0.25's API v2 (GET /api/v2/alerts,
GET /api/v2/silences)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Matcher(_Frozen):
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def text(self) -> str:
        """As amtool writes it: name=value, name=~regex, name!=value."""
        op = ("=~" if self.is_regex else "=") if self.is_equal else ("!~" if self.is_regex
                                                                     else "!=")
        return f"{self.name}{op}{_quoted(self.value)}"


def _quoted(value: str) -> str:
    """amtool accepts a bare value of word characters; anything else quoted."""
    if value and all(c.isalnum() or c in "_-.:/" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Silence(_Frozen):
    id: str
    state: str = "unknown"  # active | pending | expired, as Alertmanager says
    created_by: str = ""
    comment: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    matchers: tuple[Matcher, ...] = ()


class ManagedAlert(_Frozen):
    """One alert in Alertmanager (an HA pair's copies merged by fingerprint)."""

    name: str
    fingerprint: str
    labels: dict[str, str]
    state: str  # active | suppressed | unprocessed
    starts_at: datetime | None = None
    receivers: tuple[str, ...] = ()
    silenced_by: tuple[Silence, ...] = ()
    #: The inhibiting alerts, as "alertname{labels}" when Alertmanager holds them,
    #: else their fingerprint.
    inhibited_by: tuple[str, ...] = ()

    @property
    def silenced(self) -> bool:
        return bool(self.silenced_by)

    @property
    def inhibited(self) -> bool:
        return bool(self.inhibited_by)

    @property
    def word(self) -> str:
        """The ALERT column's word."""
        if self.silenced:
            return "SILENCED"
        if self.inhibited:
            return "INHIBITED"
        return "FIRING" if self.state == "active" else self.state.upper()


class AlertRule(_Frozen):
    """The alerting rule as Prometheus evaluates it (GET /api/v1/rules)."""

    name: str
    expr: str
    for_s: float = 0.0
    state: str = ""  # inactive | pending | firing


class PagerView(_Frozen):
    """What one poll read from Alertmanager (all members)."""

    members: tuple[str, ...]
    alerts: tuple[ManagedAlert, ...] = ()
    silences: tuple[Silence, ...] = ()
    #: (member URL, why it did not answer): the header names them.
    down: tuple[tuple[str, str], ...] = ()
    rule: AlertRule | None = None
    rule_error: str | None = None  # why the rule could not be read

    @property
    def answered(self) -> bool:
        return len(self.down) < len(self.members)
