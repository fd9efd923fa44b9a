"""One door for every mitigation step: the incident journal (issue 5) plugs
in here without the actions knowing it exists."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class Stage(str, Enum):
    ASKED = "asked"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    VERIFIED = "verified"
    #: The console was left before the outcome was known (q twice while it ran).
    UNKNOWN = "unknown"


class ActionEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    action: str  # "restart", "fallback", "flag", "smoke"
    stage: Stage
    service: str
    target: str  # e.g. "shop/deployment/payment-api" or a flag URL
    site: str = ""  # the site (cluster) acted on; "" the implicit one
    # What was sent and what came back, secrets already masked.
    details: dict[str, str] = Field(default_factory=dict)


class ActionRecorder(Protocol):
    def record(self, event: ActionEvent) -> None: ...


class MemoryRecorder:
    """Keeps events in order: for tests and for the action log pane."""

    def __init__(self) -> None:
        self.events: list[ActionEvent] = []

    def record(self, event: ActionEvent) -> None:
        self.events.append(event)
