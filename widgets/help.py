"""The help screen: every binding in force, straight from BINDINGS."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close help"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, rows: list[tuple[str, str]], *, title: str = "Keys",
                 columns: tuple[str, str] = ("key", "does")) -> None:
        super().__init__()
        self._rows = rows
        self._title = title
        self._columns = columns

    def compose(self) -> ComposeResult:
        table = Table(box=None, title=self._title, title_style="bold", expand=True)
        table.add_column(self._columns[0], style="bold cyan", no_wrap=True)
        table.add_column(self._columns[1])
        for key, description in self._rows:
            table.add_row(Text(key), Text(description))
        with VerticalScroll():
            yield Static(table)
            yield Static("\nescape, q or ? closes this screen.", markup=False)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
