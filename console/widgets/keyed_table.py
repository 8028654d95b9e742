"""A DataTable updated by keyed row diffs, so the cursor stays on its row while
rows change, arrive, leave and reorder; and that holds only a window of its rows.

The screen hands over every row (key and cells) in order; the DataTable underneath holds a few
screenfuls of them around the cursor (``window``). A refresh, a sort or a filter over a thousand rows then costs
the DataTable what a few screenfuls cost (diffing, measuring new rows, re-rendering), and the window moves
with the cursor: when it comes within a screenful of the window's edge, the window is re-centred on
it (the rows on screen stay where they are). Keys that move by position (``gg``, ``G``, home, end)
use ``move_to``, which counts in every row, not in the window.

A windowed screen's keys are themselves a window of the matching rows (``base``, ``count``): a move
beyond them asks the screen (``outside``) and nearing their edge tells it (``near_edge``), so the
service sends the next rows before the cursor gets there.
"""
from __future__ import annotations

from typing import Callable, Sequence

from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict  # DataTable has no public reorder-by-key or bulk removal
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets._data_table import CellKey

from console.widgets.cell_render import can_draw, draw_cell

Cell = str | Text
CellsFor = Callable[[int, int], Sequence[Sequence[Cell]]]

WINDOW = 48  # rows the DataTable holds at least (else four screenfuls): moving rarely re-windows
NOWHERE = Coordinate(-2, -2)  # a cursor on no row (-1 is the header's)


class KeyedTable(DataTable):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cells: dict[str, Sequence[Cell]] = {}  # the cells last set per row in the window
        self._keys: list[str] = []  # every row's key, in order
        self._cells_for: CellsFor = lambda start, stop: []  # the cells of the rows _keys[start:stop]
        self._index: dict[str, int] = {}  # row key -> place in _keys
        self.top = 0  # the place in _keys of the window's first row
        self._moving = False  # re-windowing moves the cursor itself: not a move to follow
        # A windowed screen's keys are a window of the matching rows (the service holds the rest):
        self.base = 0      # the place of _keys[0] among every row
        self.count = 0     # every row (_keys holds count rows when the table is not windowed)
        self.outside: Callable[[int], None] | None = None  # asked to bring the row at a place beyond _keys
        self.near_edge: Callable[[], None] | None = None   # told the cursor nears the edge of _keys

    @property
    def total(self) -> int:
        """Every row (``row_count`` is the DataTable's window, ``_keys`` the screen's)."""
        return max(self.count, len(self._keys))

    @property
    def place(self) -> int:
        """The cursor's place among every row."""
        return self.base + self.top + self.cursor_row if self.row_count else self.base

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def clear(self, columns: bool = False):
        self._cells.clear()
        self._keys, self._index, self.top, self.base, self.count = [], {}, 0, 0, 0
        return super().clear(columns)

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]], keep: str | None = None) -> None:
        """Make the table hold exactly ``rows`` (key, cells), in that order, touching only what changed.
        The cursor stays on its row (or on ``keep``, the row it was on before the table was rebuilt);
        if its row is gone, it stays at the same place."""
        rows = list(rows)
        self.set_keys([key for key, _ in rows], lambda start, stop: [cells for _, cells in rows[start:stop]], keep)

    def set_keys(self, keys: list[str], cells_for: CellsFor, keep: str | None = None, base: int = 0,
                 count: int | None = None, place: int | None = None) -> None:
        """``set_rows`` for rows whose cells are built only when the window takes them:
        ``cells_for(start, stop)`` gives the cells of the rows ``keys[start:stop]``.

        A windowed screen gives the keys of the rows from ``base`` among ``count``; ``place`` is where
        the cursor goes (among every row) when its row is not among them."""
        at = keep or self.cursor_key()
        if place is None:
            place = self.place
        place -= base
        self.base = base
        self.count = len(keys) if count is None else count
        self._keys = keys
        self._cells_for = cells_for
        self._index = {key: i for i, key in enumerate(keys)}
        where = self._index.get(at) if at is not None else None
        target = where if where is not None else min(place, max(0, len(keys) - 1))
        self._fill(self._top_for(target), at if where is not None else None)

    def move_to(self, place: int) -> None:
        """Put the cursor on the row at ``place`` among every row (not only the window's)."""
        if not self._keys:
            return
        place = max(0, min(place, self.total - 1))
        if not self.base <= place < self.base + len(self._keys):
            if self.outside is not None:
                self.outside(place)
            return
        place -= self.base
        self._fill(self._top_for(place, jump=True), self._keys[place])

    def _margin(self) -> int:
        return max(3, self.scrollable_content_region.height)

    @property
    def window(self) -> int:
        """How many rows the DataTable holds at most: four screenfuls (a re-sort or a jump replaces them
        all, so fewer is cheaper; the cursor re-windows a screenful before the edge)."""
        return max(WINDOW, 4 * self._margin())

    def _top_for(self, place: int, jump: bool = False) -> int:
        """Where the window starts so that ``place`` is well inside it: where it is, unless that is
        within a screenful of an edge with more rows beyond (then centred on it)."""
        n, window = len(self._keys), self.window
        if n <= window:
            return 0
        last = n - window
        top = min(self.top, last)
        margin = self._margin()
        if (place < top + margin and top > 0) or (place >= top + window - margin and top < last) \
                or not top <= place < top + window or jump and not top + margin <= place < top + window - margin:
            top = max(0, min(place - window // 2, last))
        return top

    def _fill(self, top: int, at: str | None) -> None:
        """The DataTable holds the rows from ``top`` (keyed diff); the cursor goes to ``at``, and the rows
        on screen stay on the same lines when the window moved."""
        shift = top - self.top
        self.top = top
        stop = top + self.window
        rows = list(zip(self._keys[top:stop], self._cells_for(top, stop)))
        columns = list(self.columns)
        wanted = {key for key, _ in rows}
        last = self._cells
        scroll_y = self.scroll_y
        count = self._update_count
        changed: set = set()  # rows whose cells changed in place
        before = {rk.value: i for i, rk in enumerate(self.ordered_keys())}
        self._moving = True
        try:
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
                        row_key = None
                        for col, old, new in zip(columns, prev, cells):
                            if old is not new and old != new:
                                row_key = row_key or self._row_key(key)
                                self._data[row_key][col] = new
                        if row_key is not None:
                            changed.add(row_key)
                    else:
                        self.add_row(*cells, key=key)
                    last[key] = cells
                order = [key for key, _ in rows]
                if [k.value for k in self.ordered_keys()] != order:
                    by_value = {rk.value: rk for rk in self.rows}
                    self._row_locations = TwoWayDict({by_value[k]: i for i, k in enumerate(order)})
                    self._update_count += 1
                    self.refresh()
                if self._update_count != count:
                    self._keep_renders(before, count)
                if changed:
                    self._changed_in_place(changed, count)
                if shift:
                    self.scroll_to(y=max(0.0, scroll_y - shift), animate=False, immediate=True)
                if at is not None and at in wanted:
                    self.move_cursor(row=order.index(at), animate=False)
                elif shift and self.row_count:
                    self.move_cursor(row=max(0, min(self.cursor_row - shift, self.row_count - 1)), animate=False)
        finally:
            self._moving = False

    def _keep_renders(self, before: dict[str, int], count: int) -> None:
        """Rows came, went or moved: DataTable counted an update, which voids every cached cell render, so
        a re-rank repainted every visible cell (the most of a refresh's cost). The renders of rows that
        are where they were stay (a render carries its row's place, for the mouse); the rest are dropped."""
        stale = set(before)  # rows gone and rows moved (new rows have no render to drop)
        locations = self._row_locations
        for rk in locations:
            if before.get(rk.value) == locations.get(rk):
                stale.discard(rk.value)
        self._update_count = count
        for cache in (self._cell_render_cache, self._row_render_cache):
            for k in [k for k in cache.keys() if k[0] in stale]:  # RowKey compares as its value
                cache.discard(k)
        self._row_renderable_cache.clear()
        self._line_cache.clear()
        self._offset_cache.clear()
        self._ordered_row_cache.clear()
        self.refresh()

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False):
        """DataTable's cell drawing, with a one-line Text cell drawn by cell_render (the same segments at
        a fraction of the cost): a sort or a screen switch redraws every visible cell."""
        if row_index < self.fixed_rows or column_index < self.fixed_columns:  # the header, labels, fixed cells
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cache_key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor, self._update_count,
                     self._pseudo_class_state)
        cache = self._cell_render_cache
        lines = cache.get(cache_key)
        if lines is not None:
            return lines
        row = self.rows.get(row_key) if row_key is not None else None
        cell = self._get_row_renderables(row_index).cells[column_index] if row is not None else None
        if row is None or not can_draw(cell, row.height):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pad = self.cell_padding
        options = self.app.console_options.update_dimensions(width - 2 * pad, 1).update(no_wrap=True)
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        lines = draw_cell(self.app.console, options, cell, width, pad, pre, post_style)
        if lines is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache[cache_key] = lines
        return lines

    def _render_line_in_row(self, row_key, line_no, base_style, cursor_location, hover_location):
        """DataTable caches a row's rendered line under the cursor's place, so a cursor move re-rendered
        every visible row. A row cursor changes how one row looks: every other row is rendered (and
        cached) as a row the cursor is not on."""
        if self.cursor_type == "row":
            row = self._row_locations.get(row_key)
            if cursor_location.row != row:
                cursor_location = NOWHERE
            if hover_location.row != row:
                hover_location = NOWHERE
        return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)

    def header_changed(self) -> None:
        """A column's label changed (the sort arrow): drop the header's cached renders only; the rows
        are re-rendered when their new order comes."""
        header = self._header_row_key
        for cache in (self._cell_render_cache, self._row_render_cache):
            for k in [k for k in cache.keys() if k[0] is header]:
                cache.discard(k)
        self._line_cache.clear()
        self.refresh()

    def _row_key(self, key: str):
        """The DataTable's RowKey of a row in the window (RowKey hashes and compares as its value)."""
        return self._row_locations.get_key(self._row_locations.get(key))  # type: ignore[arg-type]

    def _changed_in_place(self, rows: set, count: int) -> None:
        """Cells changed in place: DataTable.update_cell would count an update, which voids every cached
        cell render, so each refresh repainted every visible cell. Here only the changed rows' renders are
        dropped (unless something else already counted an update: then nothing cached is used anyway)."""
        if self._update_count == count:
            places = {self._row_locations.get(rk) for rk in rows}
            for cache, test in ((self._cell_render_cache, lambda k: k[0] in rows),
                                (self._row_render_cache, lambda k: k[0] in rows),
                                (self._row_renderable_cache, lambda k: k[1] in places)):
                for k in [k for k in cache.keys() if test(k)]:
                    cache.discard(k)
            self._line_cache.clear()
        self.refresh()

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if self._moving or new.row >= self.row_count:
            return
        place = self.top + new.row
        if len(self._keys) > self.row_count:
            top = self._top_for(place)
            if top != self.top:  # near the window's edge: move the window, the cursor stays on its row
                self._fill(top, self._keys[place])
        if self.near_edge is not None and len(self._keys) < self.count:
            margin = max(len(self._keys) // 4, 1)
            if (self.base > 0 and place < margin) or \
                    (self.base + len(self._keys) < self.count and place >= len(self._keys) - margin):
                self.near_edge()  # the screen asks for the rows around the cursor before it gets there

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
        # not a layout of the whole screen: the table's own size does not depend on its rows, and a
        # change of its virtual size (rows added or gone) lays it out when the dimensions are updated
        self.refresh()

    def set_cell(self, key: str, column: str, value: Cell) -> None:
        """Change one cell now (a mark), keeping what set_rows remembers in step. A row outside the
        window gets its cells from ``cells_for`` when the window reaches it."""
        if key in self._cells:
            self.update_cell(key, column, value)
            i = [c.value for c in self.columns].index(column)
            prev = self._cells[key]
            self._cells[key] = [*prev[:i], value, *prev[i + 1:]]

    def ordered_keys(self):
        """The window's row keys, in order."""
        return [self._row_locations.get_key(i) for i in range(self.row_count)]

    def all_keys(self) -> list[str]:
        """Every row's key, in order."""
        return list(self._keys)
