"""A table row as both sides of the socket see it: its key, its cells, its sort values and the
fields a `/` filter matches. The service filters and sorts with these (``console.service.windows``),
the console shows them (``console.screens.base``): one definition, so a filter means the same on
either side. Pure: no Textual, no engine state."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from rich.text import Text

from console.screens.table_layout import Column


class Row:
    """One table row: its key, its cells (one per column: str or rich Text, never markup), one comparable
    sort value per column, and filterable fields that are not columns (ids...).

    ``cells`` may be given as a function that builds them: a table holds only a window of its rows,
    so a refresh of a thousand groups builds the cells of the hundred-odd around the cursor (and the
    rest when a filter or an export needs their text)."""

    __slots__ = ("key", "_cells", "sort", "extra", "_fields")

    def __init__(self, key: str, cells: Sequence[Any] | Callable[[], Sequence[Any]], sort: Sequence[Any],
                 extra: dict[str, str] | None = None) -> None:
        self.key = key
        self._cells = cells
        self.sort = sort
        self.extra = extra if extra is not None else {}
        self._fields: dict[str, str] | None = None

    @property
    def cells(self) -> Sequence[Any]:
        cells = self._cells
        if callable(cells):
            cells = self._cells = cells()
        return cells

    def fields(self, columns: Sequence[Column]) -> dict[str, str]:
        """Plain text per column key, for `field:value` filters (built only when a filter is on)."""
        if self._fields is None:
            f = {c.key: (cell.plain if isinstance(cell, Text) else str(cell)) for c, cell in zip(columns, self.cells)}
            f.update(self.extra)
            self._fields = f
        return self._fields

    def __repr__(self) -> str:
        return f"Row({self.key!r})"


def sort_value(v: Any) -> tuple:
    """None sorts last whichever way, and mixed types never raise."""
    if v is None:
        return (1, 0, "")
    if isinstance(v, (int, float)):
        return (0, v, "")
    return (0, 0, str(v).lower())


def filter_names(columns: Sequence[Column], first: Row | None,
                 more: Sequence[str] = ()) -> tuple[tuple[str, ...], dict[str, str]]:
    """The words `name:value` accepts: column keys, the ids rows carry (``first``'s extra fields) and
    ``more``; header labels and each column's aliases stand for their column."""
    keys = [c.key for c in columns]
    keys += [k for k in dict.fromkeys(first.extra if first is not None else ()) if k not in keys]
    keys += [k for k in more if k not in keys]
    aliases: dict[str, str] = {}
    for c in columns:
        for word in (c.label, c.label.replace(" ", ""), *c.aliases):
            w = word.strip().lower()
            if w and w not in keys:
                aliases.setdefault(w, c.key)
    return tuple(keys), aliases
