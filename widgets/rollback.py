"""The rollback's confirmation dialog: the confirmation dialog, plus what
changes (revision N -> M, the pod template's difference) and `[` / `]` to
step through the deployment's older revisions; `t` switches deployment."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Button, Static

from console.mitigations.plan import Mode, Plan
from widgets import text as fmt
from widgets.confirm import ConfirmDialog, plan_request


def confirm_dialog(plan: Plan, mode: Mode = Mode.LIVE, warning: str | None = None,
                   locked: str | None = None) -> ConfirmDialog:
    """The dialog for `plan`: with revisions to step through, this one.
    `locked`: the production context whose name must be typed first."""
    if plan.revisions:
        return RevisionDialog(plan, mode, warning, locked)
    return ConfirmDialog(plan, mode, warning, locked)


def changes_text(plan: Plan) -> Text:
    text = Text()
    text.append("Changes\n", style="bold")
    for line in plan.changes:
        text.append(f"  {fmt.literal(line)}\n", style="yellow")
    text.append("\n")
    return text


class RevisionDialog(ConfirmDialog):
    """Dismisses with the plan on screen (deployment and revision), or None."""

    BINDINGS = [
        Binding("left_square_bracket", "older", "Older revision", key_display="[",
                id="older"),
        Binding("right_square_bracket", "newer", "Newer revision", key_display="]",
                id="newer"),
    ]

    def __init__(self, plan: Plan, mode: Mode = Mode.LIVE, warning: str | None = None,
                 locked: str | None = None) -> None:
        super().__init__(plan, mode, warning, locked)
        # Per deployment (t): its revisions and the one on screen.
        self.steps = [list(c.revisions) or [c] for c in self.choices]
        self.at = [self._index(c, steps) for c, steps in zip(self.choices, self.steps)]
        self.choice = 0

    @staticmethod
    def _index(plan: Plan, steps: list[Plan]) -> int:
        return next((i for i, p in enumerate(steps) if p.title == plan.title), 0)

    def _render_plan(self) -> None:
        super()._render_plan()
        plan = self.plan
        body = changes_text(plan) if plan.changes else Text()
        body.append_text(plan_request(plan))
        self.query_one("#dialog-request", Static).update(body)
        steps, at = self.steps[self.choice], self.at[self.choice]
        keys = []
        if len(self.choices) > 1:
            other = self.choices[1 - self.choice].deployment or "the other deployment"
            keys.append(f"t: deployment/{other} instead")
        if at + 1 < len(steps):
            keys.append(f"[: revision {steps[at + 1].details.get('to_revision')}")
        if at > 0:
            keys.append(f"]: revision {steps[at - 1].details.get('to_revision')}")
        switch = self.query_one("#dialog-switch", Static)
        switch.update(Text(fmt.literal("   ".join(keys))))
        switch.display = bool(keys)

    def _show(self) -> None:
        self.plan = self.steps[self.choice][self.at[self.choice]]
        self._render_plan()
        self.query_one("#cancel", Button).focus()

    def action_switch(self) -> None:
        if len(self.choices) > 1:
            self.choice = 1 - self.choice
            self._show()

    def action_older(self) -> None:
        if self.at[self.choice] + 1 < len(self.steps[self.choice]):
            self.at[self.choice] += 1
            self._show()

    def action_newer(self) -> None:
        if self.at[self.choice] > 0:
            self.at[self.choice] -= 1
            self._show()
