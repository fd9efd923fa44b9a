"""Every action step, kept for the action log pane and handed on to the
incident journal this console holds."""

from __future__ import annotations

import threading

from textual.app import App
from textual.message import Message

from console.mitigations.recorder import ActionEvent, ActionRecorder


class ActionRecorded(Message):
    """A step reached the recorder (from any thread): redraw the action log."""


class AppRecorder:
    """Thread-safe, as the runner records from workers. `forward`: the
    journal (None: none); replaced when this console takes one over."""

    def __init__(self, app: App, forward: ActionRecorder | None) -> None:
        self.app = app
        self.forward = forward
        self.events: list[ActionEvent] = []
        #: (action, site, service) left running on q q: their outcome is recorded as
        #: unknown, and a step the worker still reports after that is not.
        self.abandoned: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()  # the worker may record while q q abandons

    def record(self, event: ActionEvent, *, last: bool = False) -> None:
        """`last`: the final word on this action; nothing after it is kept."""
        key = (event.action, event.site, event.service)
        with self._lock:
            if key in self.abandoned:
                return
            if last:
                self.abandoned.add(key)
            if self.forward is not None:
                self.forward.record(event)
            self.events.append(event)
        self.app.post_message(ActionRecorded())
