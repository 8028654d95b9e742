"""A DataTable updated by keyed row diffs, so the cursor stays on its row while
rows change, arrive, leave and reorder."""
from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual._two_way_dict import TwoWayDict  # DataTable has no public reorder-by-key or bulk removal
from textual.widgets import DataTable
from textual.widgets._data_table import CellKey

Cell = str | Text


class KeyedTable(DataTable):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cells: dict[str, Sequence[Cell]] = {}  # the cells last set per row

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def clear(self, columns: bool = False):
        self._cells.clear()
        return super().clear(columns)

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]], keep: str | None = None) -> None:
        """Make the table hold exactly ``rows`` (key, cells), in that order, touching only what changed.
        The cursor stays on its row (or on ``keep``, the row it was on before the table was rebuilt)."""
        at = keep or self.cursor_key()
        columns = list(self.columns)
        wanted = {key for key, _ in rows}
        last = self._cells
        with self.app.batch_update():
            gone = [k for k in self.rows if k.value not in wanted]
            if gone:
                self._remove_rows(gone)
                for k in gone:
                    last.pop(k.value, None)
            for key, cells in rows:
                prev = last.get(key)
                if prev is not None:
                    if len(prev) == len(cells) and all(a is b for a, b in zip(prev, cells)):
                        continue  # the very same cell objects: nothing to compare
                    for col, old, new in zip(columns, prev, cells):
                        if old is not new and old != new:
                            self.update_cell(key, col, new)
                else:
                    self.add_row(*cells, key=key)
                last[key] = cells
            order = [key for key, _ in rows]
            if [k.value for k in self.ordered_keys()] != order:
                by_value = {rk.value: rk for rk in self.rows}
                self._row_locations = TwoWayDict({by_value[k]: i for i, k in enumerate(order)})
                self._update_count += 1
                self.refresh()
            if at is not None and at in wanted:
                self.move_cursor(row=order.index(at), animate=False)

    def _remove_rows(self, gone) -> None:
        """DataTable.remove_row renumbers every row per call (quadratic for a feed that turns over);
        this removes many rows with one renumbering."""
        gone_set = set(gone)
        keep = [k for k in self.ordered_keys() if k not in gone_set]
        for rk in gone:
            for column_key in self._data.get(rk, ()):
                self._updated_cells.discard(CellKey(rk, column_key))
            del self.rows[rk]
            del self._data[rk]
        self._row_locations = TwoWayDict({rk: i for i, rk in enumerate(keep)})
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    def set_cell(self, key: str, column: str, value: Cell) -> None:
        """Change one cell now (a mark), keeping what set_rows remembers in step."""
        self.update_cell(key, column, value)
        prev = self._cells.get(key)
        if prev is not None:
            i = [c.value for c in self.columns].index(column)
            self._cells[key] = [*prev[:i], value, *prev[i + 1:]]

    def ordered_keys(self):
        return [self._row_locations.get_key(i) for i in range(self.row_count)]
