"""A DataTable updated by keyed row diffs, so the cursor stays on its row while
rows change, arrive, leave and reorder."""
from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual._two_way_dict import TwoWayDict  # DataTable has no public reorder-by-key
from textual.widgets import DataTable

Cell = str | Text


class KeyedTable(DataTable):
    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Make the table hold exactly ``rows`` (key, cells), in that order, touching only what changed."""
        at = self.cursor_key()
        columns = list(self.columns)
        wanted = {key for key, _ in rows}
        with self.app.batch_update():
            for key in [k.value for k in self.rows if k.value not in wanted]:
                self.remove_row(key)
            for key, cells in rows:
                if key in self.rows:
                    for col, old, new in zip(columns, self.get_row(key), cells):
                        if old != new:
                            self.update_cell(key, col, new)
                else:
                    self.add_row(*cells, key=key)
            order = [key for key, _ in rows]
            if [k.value for k in self.ordered_keys()] != order:
                by_value = {rk.value: rk for rk in self.rows}
                self._row_locations = TwoWayDict({by_value[k]: i for i, k in enumerate(order)})
                self._update_count += 1
                self.refresh()
            if at is not None and at in wanted:
                self.move_cursor(row=order.index(at), animate=False)

    def ordered_keys(self):
        return [self._row_locations.get_key(i) for i in range(self.row_count)]
