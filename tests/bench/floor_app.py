"""The startup floor: a bare Textual app that paints one DataTable with a
SERVICE column and a payment-api row, nothing else. tests/bench/startup.py
launches it exactly like `cbconsole --demo` (same python, same tmux size)."""

from textual.app import App, ComposeResult
from textual.widgets import DataTable


class Floor(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("SERVICE", "STATE", "INSTANCES")
        table.add_row("payment-api", "OPEN", "3/3")


if __name__ == "__main__":
    Floor().run()
