"""Small modal prompts for the operator's incident keys: a line of text, a
root cause with its category, a yes/no with No focused. Each shows its title
and what it is about (the incident) at the top; the rest scrolls when the
terminal is short (80x24)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from widgets import text as fmt

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90; max-width: 95%; height: auto; max-height: 90%; border: thick $primary;
    background: $surface; padding: 0 1;
}}
{name} .top {{ dock: top; height: auto; padding-bottom: 1; }}
{name} .body {{ height: auto; max-height: 100%; }}
{name} .title {{ text-style: bold; }}
{name} .hint {{ color: $text-muted; }}
{name} Horizontal {{ dock: bottom; height: auto; align-horizontal: right; padding-top: 1; }}
{name} Button {{ margin-left: 2; }}
"""


class Body(VerticalScroll, can_focus=False):
    """What scrolls under the title: its fields take the focus (and are
    scrolled into view), not the box around them."""


def top(title: str, context: str) -> Vertical:
    """The title and what the prompt is about: never scrolled away."""
    return Vertical(
        Static(Text(fmt.literal(title)), classes="title"),
        *([Static(Text(fmt.literal(context)), classes="context")] if context else []),
        classes="top",
    )


class TextPrompt(ModalScreen["str | None"]):
    """One line of text; enter keeps it, escape drops it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _CSS.format(name="TextPrompt")

    def __init__(self, title: str, *, value: str = "", placeholder: str = "",
                 context: str = "") -> None:
        super().__init__()
        self._title, self._value, self._placeholder = title, value, placeholder
        self._about = context

    def compose(self) -> ComposeResult:
        with Vertical():
            yield top(self._title, self._about)
            with Body(classes="body"):
                yield Input(value=self._value, placeholder=self._placeholder, id="prompt-text")
                yield Static("enter keeps it, escape drops it", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(text or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RootCausePrompt(ModalScreen["tuple[str, str] | None"]):
    """The root cause: one of the runbook's common causes and a sentence."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _CSS.format(name="RootCausePrompt") + """
    RootCausePrompt RadioSet { width: 100%; margin-bottom: 1; }
    """

    def __init__(self, categories: list[str], *, preselect: str | None = None,
                 why: str = "", context: str = "") -> None:
        super().__init__()
        self._categories = categories
        self._preselect = preselect if preselect in categories else categories[-1]
        self._why = why
        self._about = context

    def compose(self) -> ComposeResult:
        with Vertical():
            yield top("Root cause identified", self._about)
            with Body(classes="body"):
                with RadioSet(id="category"):
                    for name in self._categories:
                        yield RadioButton(name, value=name == self._preselect)
                if self._why:
                    yield Static(Text(fmt.literal(self._why)), classes="hint")
                yield Input(placeholder="what happened, in a sentence", id="cause-text")
                yield Static("↑↓ in the list picks the cause, tab moves, enter in the text keeps "
                             "it, escape drops it", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#cause-text", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("Say what the root cause was.", severity="warning")
            return
        pressed = self.query_one(RadioSet).pressed_button
        category = str(pressed.label) if pressed is not None else self._preselect
        self.dismiss((text, category))

    def action_cancel(self) -> None:
        self.dismiss(None)


class YesNo(ModalScreen[bool]):
    """A question; No is focused, y says yes, n and escape say no."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]
    DEFAULT_CSS = _CSS.format(name="YesNo")

    def __init__(self, title: str, body: str = "") -> None:
        super().__init__()
        self._title, self._body = title, body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield top(self._title, "")
            if self._body:  # long (many services): it scrolls, with the keys
                with VerticalScroll(classes="body"):
                    yield Static(Text(fmt.multiline(self._body)))
            with Horizontal():
                yield Button("No (n)", id="no", variant="primary")
                yield Button("Yes (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
