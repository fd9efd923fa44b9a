"""The main screen seen from the keys: its widgets (whatever modal is on
top), the service the keys act on, the filter field and the pane shown."""

from __future__ import annotations

from typing import Callable

from textual.app import App, ScreenStackError
from textual.css.query import NoMatches
from textual.widgets import Input, TabbedContent

from widgets.board import BreakerBoard
from widgets.detail import ServiceDetail


class Selection:
    """`app`: whose main screen; `redraw`: draw every view again (the filter
    changes what the board and the header show)."""

    def __init__(self, app: App, redraw: Callable[[], None]) -> None:
        self.app = app
        self.redraw = redraw
        # Found once, kept while attached: a query walks the whole screen, and
        # the views ask several times per key press and per poll.
        self._found: dict[tuple, object] = {}

    def view(self, selector, expect_type=None):
        """A widget of the main screen, whatever modal is on top of it (the
        app's own query only sees the active screen)."""
        main = self.app.screen_stack[0]
        widget = self._found.get((selector, expect_type))
        if widget is None or not widget.is_attached or widget.screen is not main:
            widget = self._found[(selector, expect_type)] = main.query_one(selector, expect_type)
        return widget

    def mounted(self) -> bool:
        """False while the app is still composing or already tearing down: a
        poll or a selection that lands then has nothing to draw on."""
        try:
            stack = self.app.screen_stack
        except ScreenStackError:
            return False
        if not stack:
            return False
        try:
            self.view(ServiceDetail)
        except NoMatches:
            return False
        return True

    def service(self, pin: bool = False) -> str | None:
        """The service the keys act on; `pin` keeps the cursor on it from now
        on, so a breaker opening above it cannot move the next key's target."""
        if not self.mounted():
            return None
        board = self.view(BreakerBoard)
        if pin:
            board.pin()
        return board.selected_service

    def key(self, pin: bool = False) -> tuple[str, str] | None:
        """(site, service) of the row the keys act on (a group's summary line:
        its worst site); "" is the site of a single-source console."""
        if not self.mounted():
            return None
        board = self.view(BreakerBoard)
        if pin:
            board.pin()
        return board.selected_key

    def site(self) -> str | None:
        key = self.key()
        return key[0] if key else None

    def toggle_group(self, expand: bool | None = None) -> bool:
        """Unfold the selected service's sites, or fold them into one line."""
        return self.mounted() and self.view(BreakerBoard).toggle_group(expand)

    def grouped(self) -> bool:
        return self.mounted() and self.view(BreakerBoard).grouped

    def show_pane(self, pane: str) -> None:
        panes = self.view("#panes", TabbedContent)
        focused = self.app.focused
        if (focused is not None and pane != panes.active
                and panes.active_pane in focused.ancestors):
            # Hiding the focused widget moves focus to the next one in its
            # pane, which shows that pane again: the key did nothing.
            self.view(BreakerBoard).focus()
        panes.active = pane

    def open_filter(self) -> None:
        field = self.view("#filter", Input)
        field.add_class("-active")
        field.focus()

    def clear_filter(self) -> None:
        field = self.view("#filter", Input)
        field.value = ""
        field.remove_class("-active")
        self.filter("")
        self.view(BreakerBoard).focus()

    def filter(self, value: str) -> None:
        self.view(BreakerBoard).filter_text = value
        self.redraw()

    def filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.remove_class("-active")
        self.view(BreakerBoard).focus()
