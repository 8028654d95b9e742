"""What every table screen offers besides rows, marks and the filter: the detail pane (``v``), copy
an id (``y``), export the rows as filtered and sorted (``ctrl+e``), the sort picker (``o``) and
freezing the order (``F``). A mixin of :class:`~console.screens.base.TableScreen`, which holds the
state these read (rows, columns, sort) and binds the keys."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable, Static

from console.engine.text import visible
from console.screens.table_tools import PickScreen, detail_text, export_rows, exports_dir

if TYPE_CHECKING:
    from console.screens.base import Row


class TableActions:
    # --- the detail pane ---

    def detail_pairs(self, row: "Row") -> list[tuple[str, str]]:
        """The cursor row in full for the detail pane (every column, hidden ones too, and its ids)."""
        fields = row.fields(self.COLUMNS)
        pairs = [(c.label.strip() or c.key, fields.get(c.key, "")) for c in self.COLUMNS]
        pairs += [(k, v) for k, v in row.extra.items() if v and k not in {c.key for c in self.COLUMNS}]
        return pairs

    def show_row_detail(self) -> None:
        pane = self.query_one("#row-detail", Static)
        row = self.cursor_row()
        pane.update(detail_text(self.detail_pairs(row)) if row is not None else Text("no row", style="dim"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail_on:
            self.show_row_detail()

    def action_toggle_detail(self) -> None:
        if self.query("#detail"):  # the screen shows its cursor row in full already (Alerts)
            self.gw.notify("the cursor row is shown in full below the table", timeout=3)
            return
        self.detail_on = not self.detail_on
        pane = self.query_one("#row-detail", Static)
        pane.set_class(self.detail_on, "-shown")
        if self.detail_on:
            self.show_row_detail()

    # --- copy and export ---

    def action_copy_id(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        value = next((row.extra[f] for f in self.COPY_FIELDS if row.extra.get(f)), row.key)
        self.app.copy_to_clipboard(value)  # OSC 52: the terminal puts it on the clipboard, over SSH too
        self.gw.notify(f"copied {visible(value, 80)}", timeout=3)

    def export_records(self, rows: "list[Row] | None" = None) -> tuple[list[str], list[dict[str, str]]]:
        rows = self.matching_rows if rows is None else rows
        names = [c.key for c in self.COLUMNS]
        extra = list(dict.fromkeys(k for r in rows for k in r.extra if k not in names))
        fields = names + extra
        records = []
        for r in rows:
            f = {c.key: (cell.plain if isinstance(cell, Text) else str(cell)) for c, cell in zip(self.COLUMNS, r.cells)}
            f.update({k: str(r.extra.get(k, "")) for k in extra})
            records.append({k: f.get(k, "") for k in fields})
        return fields, records

    def action_export(self) -> None:
        n = self.matching

        def chosen(fmt: str | None) -> None:
            if fmt:
                self.export(fmt)

        self.app.push_screen(PickScreen(f"Export the {n} row(s) of this table (as filtered and sorted)",
                                        [("csv", "CSV (spreadsheets)"), ("json", "JSON")]), chosen)

    def export(self, fmt: str) -> None:
        if self.windowed:  # every matching row, as filtered and sorted: the service sends them all once
            self.ask_all(lambda w: self._export(fmt, self.rows_of(w)), size=-1)
            return
        self._export(fmt, None)

    def _export(self, fmt: str, rows: "list[Row] | None") -> None:
        fields, records = self.export_records(rows)
        try:
            path = export_rows(records, fields, fmt, exports_dir(self.app), self.SCREEN_NAME or "table")
        except OSError as e:
            self.gw.notify(f"export failed: {visible(str(e), 200)}", severity="error", timeout=10)
            return
        self.gw.notify(f"{len(records)} row(s) written to {visible(str(path), 200)}", timeout=10)

    def action_sort_pick(self) -> None:
        """A list of the columns: one key and a choice instead of pressing `s` up to ten times."""
        options = [("default", f"default order{f' ({self.DEFAULT_ORDER})' if self.DEFAULT_ORDER else ''}")]
        for i, c in enumerate(self.COLUMNS):
            arrow = (" ▼" if self.sort_reverse else " ▲") if i == self.sort_col else ""
            name = c.key if c.key == c.label else f"{c.label} ({c.key})"
            options.append((str(i), name + arrow))
        current = "default" if self.sort_col is None else str(self.sort_col)

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            if choice == "default":
                self.set_sort(None)
                return
            col = int(choice)
            if col == self.sort_col:  # the column sorted by already: the other way round
                self.set_sort(col, not self.sort_reverse)
            else:
                self.set_sort(col, self.default_reverse(col))

        self.app.push_screen(PickScreen("Sort by (again: reverse)", options, current), chosen)

    def action_freeze(self) -> None:
        """Rows stay where they are while their numbers change (apart from `p`, which stops the numbers)."""
        self.order_frozen = not self.order_frozen
        self.gw.notify("order frozen: rows keep their places (F lets them move)" if self.order_frozen
                       else "order follows the sort again", timeout=3)
        if self.windowed:
            # the service freezes the order as it stands and answers every key in it; the console sends
            # that order back with each question (rows not in it go below)
            self._order = {}
            self.changed_question()
        else:
            self._order = {r.key: n for n, r in enumerate(self.matching_rows)} if self.order_frozen else {}
            self.render_rows()


    # --- sorting and order ---

    def set_sort(self, col: int | None, reverse: bool = False) -> None:
        self.sort_col, self.sort_reverse = col, reverse
        self._relabel()
        self.changed_question()

    def action_sort(self) -> None:
        n = len(self.COLUMNS)
        col = 0 if self.sort_col is None else (self.sort_col + 1 if self.sort_col + 1 < n else None)
        self.set_sort(col, col is not None and self.default_reverse(col))

    def action_sort_reverse(self) -> None:
        self.set_sort(0 if self.sort_col is None else self.sort_col, not self.sort_reverse)

    def default_reverse(self, col: int) -> bool:
        """Numbers sort biggest first, text A to Z."""
        values = [r.sort[col] for r in self.rows[:50] if r.sort[col] is not None]
        return bool(values) and all(isinstance(v, (int, float)) for v in values)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        keys = [c.key for c in self.COLUMNS]
        if event.column_key.value not in keys:
            return
        col = keys.index(event.column_key.value)
        if self.sort_col == col:
            self.set_sort(col, not self.sort_reverse)
        else:
            self.set_sort(col, self.default_reverse(col))

    def _label(self, i: int, width: int) -> Text:
        """A column's header, with ▲/▼ when the table is sorted by it."""
        label = self.COLUMNS[i].label
        if i != self.sort_col:
            return Text(label)
        arrow = "▼" if self.sort_reverse else "▲"
        if len(label) + 1 > width:
            label = label[:max(0, width - 1)]
        return Text.assemble(label, (arrow, "bold"))

    def _relabel(self) -> None:
        t = self.table
        for i in self._col_index:
            c = self.COLUMNS[i]
            col = t.columns.get(c.key)  # type: ignore[call-overload]
            if col is not None:
                col.label = self._label(i, self._layout.get(c.key, c.base))
        t._require_update_dimensions = True
        t.header_changed()

