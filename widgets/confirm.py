"""The confirmation dialog every mitigation goes through: the exact change,
its kubectl / curl equivalent, and Cancel focused until the operator says y."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.mitigations.plan import Mode, Plan
from console.mitigations.siterouting import context_colour, site_line
from widgets import text as fmt


def plan_head(plan: Plan, mode: Mode, warning: str | None = None) -> Text:
    """What the operator must see before anything else: not journaled, dry
    run, refusal, target, namespace, context, why."""
    text = Text()
    if plan.site:  # one of several clusters: which one, first, in its context's colour
        colour = context_colour(plan.context, plan.production)
        text.append(f" {fmt.literal(site_line(plan.site, plan.context))} ",
                    style=f"bold reverse {colour}")
        if plan.production:
            text.append(" PRODUCTION", style="bold red")
        text.append("\n\n")
    if warning and plan.mutating:  # e.g. this console does not write the journal
        text.append(" NOT JOURNALED ", style="bold white on red")
        text.append(" ")
        text.append(fmt.literal(warning), style="bold red")
        text.append("\n\n")
    if mode == Mode.DRY_RUN and plan.mutating:
        text.append(" DRY RUN ", style="bold black on yellow")
        text.append(" nothing will be sent; the command below is what would do it\n\n",
                    style="yellow")
    if plan.refusal:
        text.append(" CANNOT DO THIS ", style="bold white on red")
        text.append(" ")
        text.append(fmt.literal(plan.refusal), style="bold red")
        text.append("\n\n")
    rows = [("Target", plan.target)]
    if plan.namespace:
        rows.append(("Namespace", plan.namespace))
    if plan.context is not None or plan.namespace:
        rows.append(("Context", plan.context or "(current)"))
    for name, value in rows:
        text.append(f"{name:<10}", style="bold")
        text.append(fmt.literal(value))
        text.append("\n")
    if plan.reason:
        text.append(f"{'Why':<10}", style="bold")
        text.append(fmt.literal(plan.reason))
        text.append("\n")
    text.rstrip()
    return text


def plan_request(plan: Plan) -> Text:
    """What else it touches, the exact request and the command that does the same."""
    text = Text()
    # The blast radius first; in the scrolled body, so the head keeps its
    # room on a small terminal.
    for name, words in plan.touches:
        text.append(f"{name:<10}", style="bold yellow")
        text.append(fmt.literal(words))
        text.append("\n")
    if plan.touches:
        text.append("\n")
    text.append("Request\n", style="bold")
    text.append(fmt.multiline(plan.request), style="cyan")
    text.append("\n\nSame as\n", style="bold")
    text.append(fmt.multiline(plan.equivalent), style="green")
    return text


def lock_text(context: str, unlocked: bool) -> Text:
    """A production context's line: locked (type its name) or unlocked."""
    text = Text()
    if unlocked:
        text.append(" PRODUCTION UNLOCKED ", style="bold white on magenta")
        text.append(f" {fmt.literal(context)}: unlocked for this session; y confirms",
                    style="bold magenta")
        return text
    text.append(" PRODUCTION LOCKED ", style="bold white on red")
    text.append(f" type {fmt.literal(context)} below and press enter to unlock it for this "
                "session; nothing is sent until then", style="bold red")
    return text


class ConfirmDialog(ModalScreen["Plan | None"]):
    """Dismisses with the plan to run, or None. Focus starts on Cancel; with
    `locked` (a production context) on the field where its name is typed."""

    class UnlockTyped(Message):
        """Enter in the unlock field: `typed` as typed, for the context `dialog.locked`."""

        def __init__(self, dialog: "ConfirmDialog", typed: str) -> None:
            self.dialog = dialog
            self.typed = typed
            super().__init__()

    BINDINGS = [
        Binding("y", "confirm", "Confirm", id="confirm"),
        Binding("n,escape", "cancel", "Cancel", id="cancel"),
        Binding("t", "switch", "Other target", id="switch"),
    ]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > #dialog {
        width: 110; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    /* The title, target and context stay at the top, the keys at the
       bottom; the request scrolls in what they leave (a short terminal). */
    ConfirmDialog #dialog-top { dock: top; height: auto; padding-bottom: 1; }
    ConfirmDialog #dialog-bottom { dock: bottom; height: auto; }
    ConfirmDialog #dialog-body { height: auto; max-height: 100%; }
    ConfirmDialog #dialog-title { text-style: bold; margin-bottom: 1; }
    ConfirmDialog #dialog-switch { color: $text-muted; }
    ConfirmDialog #dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    ConfirmDialog Button { margin-left: 2; }
    ConfirmDialog #dialog-lock { margin-top: 1; }
    """

    def __init__(self, plan: Plan, mode: Mode = Mode.LIVE, warning: str | None = None,
                 locked: str | None = None) -> None:
        super().__init__()
        self.locked = locked  # the production context whose name unlocks it
        self.unlocked = False
        self.warning = warning  # shown first in the body of a mutating plan
        # Restart offers the downstream and the caller; t swaps between them.
        self.choices = [plan] + ([plan.alternative] if plan.alternative else [])
        self.plan = plan
        self.mode = mode

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            with Vertical(id="dialog-top"):
                yield Static(id="dialog-title")
                yield Static(id="dialog-head")
                if self.locked:
                    yield Static(id="dialog-lock")
                    yield Input(placeholder=f"type {self.locked} to unlock", id="unlock")
            with VerticalScroll(id="dialog-body"):
                yield Static(id="dialog-request")
            with Vertical(id="dialog-bottom"):
                yield Static(id="dialog-switch")
                with Horizontal(id="dialog-buttons"):
                    yield Button("Cancel (n)", id="cancel", variant="primary")
                    yield Button("Confirm (y)", id="confirm", variant="error")

    def on_mount(self) -> None:
        self._render_plan()
        if self.locked and not self.unlocked:
            self.query_one("#unlock", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    def show_unlocked(self) -> None:
        """The controller unlocked the context: y confirms as usual."""
        self.unlocked = True
        self.query_one("#unlock", Input).display = False
        self._render_plan()
        self.query_one("#cancel", Button).focus()

    def clear_unlock(self) -> None:
        """What was typed is not the context's name: type it again."""
        self.query_one("#unlock", Input).value = ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.UnlockTyped(self, event.value))

    def _render_plan(self) -> None:
        plan = self.plan
        self.query_one("#dialog-title", Static).update(Text(fmt.literal(plan.title)))
        self.query_one("#dialog-head", Static).update(plan_head(plan, self.mode, self.warning))
        self.query_one("#dialog-request", Static).update(plan_request(plan))
        switch = self.query_one("#dialog-switch", Static)
        others = [p for p in self.choices if p is not plan]
        if others:
            switch.update(Text(f"t: instead {fmt.literal(others[0].title)}"))
        switch.display = bool(others)
        confirm = self.query_one("#confirm", Button)
        if self.locked:
            self.query_one("#dialog-lock", Static).update(lock_text(self.locked, self.unlocked))
        confirm.disabled = plan.refusal is not None or bool(self.locked and not self.unlocked)
        confirm.label = "Show only (y)" if self.mode == Mode.DRY_RUN and plan.mutating else "Confirm (y)"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.action_cancel()

    def action_confirm(self) -> None:
        if self.plan.refusal is None:
            self.dismiss(self.plan)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_switch(self) -> None:
        if len(self.choices) > 1:
            self.plan = next(p for p in self.choices if p is not self.plan)
            self._render_plan()
            self.query_one("#cancel", Button).focus()
