"""The action log pane against the worker that records into it: a step
recorded while the pane draws is drawn by the next show, never lost."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.app import App

import widgets.actionlog as actionlog
from console.mitigations.recorder import ActionEvent, Stage
from tests.fakes import clock
from widgets.actionlog import ActionLog

pytestmark = pytest.mark.ui


def step(stage: Stage, message: str) -> ActionEvent:
    return ActionEvent(at=clock()(), action="fallback", stage=stage, service="payment-api",
                       target="shop/deployment/api", details={"message": message})


def entries(app: App) -> str:
    out = Console(width=200, record=True, color_system=None)
    out.print(app.query_one("#action-entries").content)
    return out.export_text()


class LogApp(App):
    def compose(self):
        yield ActionLog()


async def test_a_step_recorded_while_the_log_draws_is_drawn_next_time(monkeypatch):
    # The recorder's list, which the runner's worker appends to from its
    # thread: here the FAILED step lands while the table is being made, as a
    # PATCH answered 404 at once did on a loaded CI machine.
    events = [step(Stage.SENT, "PATCH sent")]
    make_table = actionlog.log_table

    def racing(shown):
        table = make_table(shown)
        if len(events) == 1:
            events.append(step(Stage.FAILED, "deployments.apps \"api\" not found"))
        return table

    monkeypatch.setattr(actionlog, "log_table", racing)
    app = LogApp()
    async with app.run_test() as pilot:
        pane = app.query_one(ActionLog)
        pane.show(events, {})
        await pilot.pause()
        assert "not found" not in entries(app)  # recorded after this draw's read
        pane.show(events, {})  # the ActionRecorded that follows it
        await pilot.pause()
        assert "FAILED" in entries(app) and "not found" in entries(app)
