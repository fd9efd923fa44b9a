"""The command palette (ctrl+p): every key binding of the app as a command,
its key shown. Read from the app's BINDINGS, so the two never drift."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content


class KeyCommands(Provider):
    """One command per binding: its description, and the words of its id
    where they say more ("Ack (acknowledge)"), so either finds it."""

    def _commands(self) -> Iterator[tuple[str, Content, str | None, object]]:
        app = self.app
        for binding in app.BINDINGS:
            if not isinstance(binding, Binding):
                continue
            words = (binding.id or binding.action).replace("-", " ")
            title = binding.description
            if words.casefold() != title.casefold():
                title = f"{title} ({words})"
            key = Content.styled(f" {app.get_key_display(binding)} ", "reverse")
            yield title, key, binding.tooltip or None, partial(app.run_action, binding.action)

    async def discover(self) -> Hits:
        for title, key, help_text, run in self._commands():
            yield DiscoveryHit(Content.assemble(title, "  ", key), run, text=title,
                               help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, key, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, Content.assemble(matcher.highlight(title), "  ", key), run,
                          text=title, help=help_text)
