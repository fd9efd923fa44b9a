"""The board's selection by row key across sites: (site, service), a
group's summary line standing for its worst site; a group folded and
unfolded. A part of widgets/board.py's BreakerBoard."""

from __future__ import annotations

from widgets.boardgroups import GROUP


class BoardSelection:
    """Mixed into BreakerBoard: reads its _rows, _cursor, _chosen, _expanded."""

    @property
    def selected_key(self) -> tuple[str, str] | None:
        """(site, service) of the selected row; a group's line stands for
        its worst site (the first under it)."""
        row = self._row_key()
        service = self._rows.service_of(row) if row is not None else None
        return service.key if service is not None else None

    @property
    def selected_site(self) -> str | None:
        key = self.selected_key
        return key[0] if key else None

    @property
    def grouped(self) -> bool:
        """More than one site: a CLUSTER column, a service's rows grouped."""
        return self._rows.grouped

    @property
    def keys_shown(self) -> list[tuple]:
        """The lines' keys in display order: (site, service), (None, service) a group's line."""
        return list(self._rows.order)

    def _row_key(self) -> tuple | None:
        order = self._rows.order
        return order[self._cursor] if order else None

    def get_row_index(self, service: str | tuple) -> int:
        """The row a service is on (its group's line), or a (site, service)
        key's (KeyError if it is not shown)."""
        if isinstance(service, tuple):
            return self._rows.row_of[service]
        return self._rows.first_of[service]

    def _row_for(self, target) -> int | None:
        """Where a chosen key is now: its row, else its group's line (collapsed)."""
        rows = self._rows
        if target is None:
            return None
        if isinstance(target, str):
            return rows.first_of.get(target)
        if target in rows.row_of:
            return rows.row_of[target]
        if (GROUP, target[1]) in rows.row_of:
            return rows.row_of[(GROUP, target[1])]
        return rows.first_of.get(target[1]) if target[0] is GROUP else None

    def pin(self) -> None:
        """The operator acted on the selected row: from now on the cursor
        follows that service, whatever the incident is about."""
        self._chosen = self._row_key()

    # --- groups (more than one site) ------------------------------------------------

    def toggle_group(self, expand: bool | None = None) -> bool:
        """Show the selected service's sites one row each, or fold them into
        its summary line; False if the row is no group's."""
        key = self._row_key()
        if key is None or key[1] not in self._rows.members:
            return False
        name = key[1]
        expand = name not in self._expanded if expand is None else expand
        self._expanded = (self._expanded | {name}) if expand else (self._expanded - {name})
        self._chosen = (GROUP, name)  # the cursor stays on the group's line
        self._redraw()
        return True

    def _redraw(self) -> None:
        """Show the last data again (a group folded or unfolded)."""
        args = self._show_args
        if args is not None:
            services, series, now, alerts, about = args
            self.show(services, series, now, alerts, about, self._sources)
