"""An incident's impact: the calls that failed, succeeded and were rejected
over its window. Counted by console.sources.prometheus.impact from
Prometheus, or by the export from the call totals the journal sampled."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Impact(BaseModel):
    """Counted calls over [start, end]. None: the profile has no such counter."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    services: tuple[str, ...] = ()
    failed: float | None = None
    succeeded: float | None = None
    rejected: float | None = None
    per_service: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    source: str = ""  # "Prometheus URL (profile)"
    #: The counter query each role was counted with (None: the profile has none).
    counters: dict[str, str | None] = Field(default_factory=dict)

    @property
    def total(self) -> float | None:
        parts = [self.failed, self.succeeded]
        if None in parts:
            return None
        return sum(parts) + (self.rejected or 0.0)

    @property
    def failed_share(self) -> float | None:
        """failed / (failed + succeeded + rejected where known); None without calls."""
        total = self.total
        if total is None or total <= 0 or self.failed is None:
            return None
        return self.failed / total

    @property
    def not_served_share(self) -> float | None:
        """(failed + rejected) / total: what the callers saw fail."""
        total = self.total
        if total is None or total <= 0 or self.failed is None:
            return None
        return (self.failed + (self.rejected or 0.0)) / total
