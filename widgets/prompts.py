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
from textual.events import Key
from textual.widgets import Button, Input, OptionList, Static

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
    """One line of text; enter keeps it, escape drops it. With `required`,
    enter on an empty line says that instead of closing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _CSS.format(name="TextPrompt")

    def __init__(self, title: str, *, value: str = "", placeholder: str = "",
                 body: str = "", required: str = "",
                 hint: str = "enter keeps it, escape drops it", context: str = "") -> None:
        super().__init__()
        self._title, self._value, self._placeholder = title, value, placeholder
        self._body, self._required, self._hint = body, required, hint
        self._about = context

    def compose(self) -> ComposeResult:
        with Vertical():
            yield top(self._title, self._about)
            with Body(classes="body"):
                if self._body:
                    yield Static(Text(fmt.multiline(self._body)))
                yield Input(value=self._value, placeholder=self._placeholder, id="prompt-text")
                yield Static(Text(fmt.literal(self._hint)), classes="hint")

    def on_mount(self) -> None:
        field = self.query_one("#prompt-text", Input)
        field.focus()
        field.cursor_position = len(field.value)  # amending goes on from the end

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text and self._required:
            self.notify(self._required, severity="warning")
            return
        self.dismiss(text or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RootCausePrompt(ModalScreen["tuple[str, str] | None"]):
    """The root cause: one of the runbook's common causes and a sentence.

    The category changes only by choosing one (enter or a click on it): the
    list's cursor starts on the preselected one. What is typed while the list
    has focus goes into the sentence, never nowhere."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _CSS.format(name="RootCausePrompt") + """
    RootCausePrompt OptionList { height: auto; max-height: 10; margin-bottom: 1; }
    """

    def __init__(self, categories: list[str], *, preselect: str | None = None,
                 why: str = "", context: str = "") -> None:
        super().__init__()
        self._categories = categories
        self._chosen = preselect if preselect in categories else categories[-1]
        self._why = why
        self._about = context

    def compose(self) -> ComposeResult:
        with Vertical():
            yield top("Root cause identified", self._about)
            with Body(classes="body"):
                yield OptionList(*(self._prompt(name) for name in self._categories),
                                 id="category")
                if self._why:
                    yield Static(Text(fmt.literal(self._why)), classes="hint")
                yield Input(placeholder="what happened, in a sentence", id="cause-text",
                            select_on_focus=False)  # coming back must not select it for replacing
                yield Static("● is the cause kept: tab to the list, ↑↓ and enter choose another; "
                             "enter in the text keeps both, escape drops them", classes="hint")

    def _prompt(self, name: str) -> Text:
        return Text(f"{'●' if name == self._chosen else '○'} {fmt.literal(name)}")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = self._categories.index(self._chosen)
        self.query_one("#cause-text", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._chosen = self._categories[event.option_index]
        options = self.query_one(OptionList)
        for index, name in enumerate(self._categories):
            options.replace_option_prompt_at_index(index, self._prompt(name))
        self.query_one("#cause-text", Input).focus()

    def on_key(self, event: Key) -> None:
        # Typing in the list is typing the sentence (and never an app key).
        field = self.query_one("#cause-text", Input)
        if event.is_printable and event.character and self.focused is not field:
            event.stop()
            event.prevent_default()
            field.focus()
            field.insert_text_at_cursor(event.character)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("Say what the root cause was.", severity="warning")
            return
        self.dismiss((text, self._chosen))

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
