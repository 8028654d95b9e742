"""What every table screen shares: the live table, `/` filter, sorting, marks,
layered `esc`, and "act on the marked rows, else on the cursor row".

A screen subclass says which columns it has, which service view it shows
(``QUERY``, ``query_params``) and how to turn that view into rows
(``collect``). A big table (its view has a spec in ``console.service.table_specs``)
is windowed: the service filters and sorts, and the screen receives and builds
only the rows around its cursor (``console.service.windows`` says how); a small
one receives its whole view and filters, sorts and marks from memory.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from console.engine.text import visible
from console.screens.filtering import RowFilter, parse_filter
from console.screens.moving import CursorKeys
from console.screens.table_actions import TableActions
from console.screens.table_window import WindowedTable
from console.screens.table_layout import Column, fit, uniquify
from console.widgets.keybar import KeyBar
from console.widgets.keyed_table import KeyedTable
from console.widgets.message_bar import MessageBar
from console.widgets.screen_bar import ScreenBar
from console.widgets.status import StatusLine
from console.service.table_rows import Row, filter_names, sort_value
from console.service.table_specs import SPECS

__all__ = ["Column", "Row", "TableScreen", "sort_value"]

if TYPE_CHECKING:
    from console.app import GroupWatchApp

MARK = Text("*", style="bold reverse")
NO_MARK = Text(" ")


class FilterBox(Input):
    """The `/` filter box. Its enter is a priority binding, so it is handled when the key is read: the
    keys typed after it (a burst) already go to the table. (Input's own enter posts a message that a
    burst outruns; and a screen's enter binding is the screen's: open.)"""

    BINDINGS = [Binding("enter", "apply", "Apply the filter", show=False, priority=True)]

    def action_apply(self) -> None:
        screen = self.screen
        if isinstance(screen, TableScreen):
            screen.filter_done()


class TableScreen(WindowedTable, TableActions, CursorKeys):
    """A screen whose body is one live table of rows."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    TABLE_TITLE: ClassVar[str] = ""
    DEFAULT_ORDER: ClassVar[str] = ""  # what the order is when no column sort is chosen ("worst first")
    SCREEN_NAME: ClassVar[str] = ""
    MAX_ROWS: ClassVar[int] = 0  # 0: every row; else only the first rows of the order are put in the table
    QUERY: ClassVar[str] = ""    # the service view this screen shows
    WINDOW: ClassVar[int] = 200  # rows a windowed table asks for around its cursor (ten screenfuls)
    COPY_FIELDS: ClassVar[tuple[str, ...]] = ("member_id", "id", "group_id")  # `y` copies the first one set
    DEFAULT_CSS = """
    TableScreen #body { height: 1fr; }
    TableScreen #table { height: 1fr; border: round $primary; }
    TableScreen #filter { display: none; height: 3; border: round $accent; }
    TableScreen #filter.-shown { display: block; }
    TableScreen #status { height: 1; background: $panel; }
    TableScreen #row-detail { display: none; height: auto; max-height: 9; background: $panel; padding: 0 1; }
    TableScreen #row-detail.-shown { display: block; }
    """

    BINDINGS = [
        # priority: keys typed right after `/` (a fast typist, or a burst over SSH) must reach the box
        Binding("slash", "start_filter", "Filter", priority=True),
        Binding("space", "mark", "Mark"),
        Binding("asterisk", "mark_all", "Mark all", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "sort_reverse", "Reverse sort", show=False),
        Binding("o", "sort_pick", "Sort by column", show=False),
        Binding("F", "freeze", "Freeze order", show=False),
        Binding("v", "toggle_detail", "Detail pane", show=False),
        Binding("y", "copy_id", "Copy id", show=False),
        Binding("ctrl+e", "export", "Export rows", show=False),
        Binding("escape", "back", "Clear marks/filter, back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.shown: list[Row] = []
        self.matching = 0
        self.matching_rows: list[Row] = []  # every row the filter lets through, in order (export)
        self.marks: set[str] = set()  # row keys, never positions: a mark stays on its row as rows re-rank
        self.row_filter: RowFilter = parse_filter("")
        self.sort_col: int | None = None
        self.sort_reverse = False
        self.order_frozen = False
        self._order: dict[str, int] = {}  # the frozen order: row key -> place
        self.detail_on = False
        self._layout: dict[str, int] = {}  # shown column -> width
        self._col_index: list[int] = []    # indexes into COLUMNS of the shown columns
        self._filter_before = ""
        self._ready = False  # pushed screens get timer ticks before their widgets exist
        self.data: Any = None  # the last answer to QUERY (windowed: the window's rows, then marked ones)
        self.init_window()

    @property
    def gw(self) -> "GroupWatchApp":
        return self.app  # type: ignore[return-value]

    # --- layout ---

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Vertical(id="body"):
            yield from self.compose_above()
            table = KeyedTable(id="table", cursor_type="row", zebra_stripes=False)
            yield table
            yield from self.compose_below()
            yield Static(id="row-detail")
        yield FilterBox(id="filter", placeholder="filter: text or regex, field:value, !negate  (enter apply, esc cancel)")
        yield MessageBar(id="messages")
        yield ScreenBar(self.SCREEN_NAME)
        from console.screens.keymap import footer_keys

        yield KeyBar(footer_keys(type(self), type(self.app)), id="keys")

    def compose_above(self) -> ComposeResult:
        return iter(())

    def compose_below(self) -> ComposeResult:
        return iter(())

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#table", KeyedTable)

    def on_mount(self) -> None:
        self.fit_columns()
        t = self.table
        t.focus()
        if self.windowed:
            t.outside, t.near_edge = self.jump_to, self.near_edge
        # until the first answer (attached, a moment): say so, not an empty 0/0 table
        t.border_title = Text(f"{self.TABLE_TITLE} · loading…" if self.TABLE_TITLE else "loading…")
        self.query_one("#status", StatusLine).update(self.gw.status_text())
        self._ready = True
        self.gw.refresh_view()

    def on_screen_resume(self) -> None:
        if self._ready:
            self.fit_columns()
            self.gw.refresh_view()

    def on_resize(self) -> None:
        self.fit_columns()

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def fit_columns(self) -> None:
        """Show the columns that fit the terminal, widest where the text is: names and messages get
        what the others leave (80 columns too), and low-priority columns go first when it is narrow."""
        tables = self.query("#table")
        if not tables:
            return
        t = tables.first(KeyedTable)
        layout = fit(self.COLUMNS, self._width())
        if list(layout) != [c.key for c in (self.COLUMNS[i] for i in self._col_index)] or not t.columns:
            keep = t.cursor_key()
            t.clear(columns=True)
            t.add_column(" ", key="_mark", width=1)
            self._col_index = [i for i, c in enumerate(self.COLUMNS) if c.key in layout]
            for i in self._col_index:
                c = self.COLUMNS[i]
                t.add_column(self._label(i, layout[c.key]), key=c.key, width=layout[c.key])
            self._layout = layout
            if self._ready and self.rows:
                self.render_rows(keep=keep)
            return
        changed = False
        for key, width in layout.items():
            col = t.columns.get(key)  # type: ignore[call-overload]
            if col is not None and col.width != width:
                col.width, col.auto_width = width, False
                changed = True
        self._layout = layout
        if changed:
            t._require_update_dimensions = True  # DataTable re-measures only when told
            if self._ready and self.rows:
                self.render_rows()  # the unique-name tails depend on the width
            t.refresh()

    # --- data ---

    def query_params(self) -> dict:
        return {}

    def _frozen(self) -> bool:
        return self.gw.paused and bool(self.rows)

    def take(self, data: Any) -> None:
        self.data = data

    def collect(self) -> list[Row]:
        """Rows from the last view, in the screen's default order (windowed: the window's, in the
        service's order, then the marked rows outside it)."""
        raise NotImplementedError

    def refresh_live(self, force: bool = False) -> None:
        """Show the last view's rows (unless paused)."""
        status = self.query("#status") if self._ready else None
        if not status:
            return  # not composed yet, or being taken down as the console closes
        status.first(StatusLine).update(self.gw.status_text())
        if self.gw.paused and self.rows and not force:
            return
        if self.data is None:
            return
        first = not self.rows
        rows = self.collect()
        if self.windowed and self.window is not None:
            spec = SPECS[self.QUERY]
            inside = {spec.key(x) for x in spec.items(self.data)[:self.window.shown]}
            self.rows = [r for r in rows if r.key in inside]
            self.marked_rows = [r for r in rows if r.key not in inside]
            if self.marks:  # a marked row the service no longer has is gone (not merely outside the window)
                self.marks -= self._marks_asked - inside - {r.key for r in self.marked_rows}
        else:
            self.rows = rows
        if first and self.row_filter.unknown:  # set before the rows said which ids they carry (tags:, id:)
            fields, aliases = self.filter_names()
            self.row_filter = parse_filter(self.row_filter.text, fields, aliases)
        keep = None
        if self._jump is not None and self._jump_answered and self.window is not None and self.window.cursor >= 0:
            at = self.window.cursor - self.window.offset
            keep = self.rows[at].key if 0 <= at < len(self.rows) else None
            self._jump = None
        self.render_rows(keep=keep)

    def render_rows(self, keep: str | None = None) -> None:
        w = self.window if self.windowed else None
        if w is not None:
            # the service filtered, sorted and cut: these are the rows around the cursor
            rows = self.rows
            self.matching = w.matching
            self.matching_rows = rows
            self.shown = rows
        else:
            rows = self._order_here()
        marks = self.marks

        def window(start: int, stop: int) -> list[list[Any]]:
            # the cells of the rows the table holds, built when it takes them (marks as they are then)
            part = rows[start:stop]
            return [[MARK if r.key in marks else NO_MARK, *cells] for r, cells in zip(part, self._cells_shown(part))]

        if w is not None:
            self.table.set_keys([r.key for r in rows], window, keep=keep, base=w.offset, count=w.matching,
                                place=w.cursor if w.cursor >= 0 else None)
        else:
            self.table.set_keys([r.key for r in rows], window, keep=keep)
        self.update_title()
        if self.detail_on:
            self.show_row_detail()

    def _order_here(self) -> list[Row]:
        """A table that is not windowed filters, sorts and orders its rows in the console."""
        f = self.row_filter
        if f.active:
            cols = self.COLUMNS
            rows = []
            for r in self.rows:
                if f.matches(r.fields(cols)):
                    rows.append(r)
        else:
            rows = self.rows
        if self.sort_col is not None:
            i = self.sort_col
            rows = sorted(rows, key=lambda r: sort_value(r.sort[i]), reverse=self.sort_reverse)
        if self.order_frozen:
            # rows keep the places they had; newcomers go below, in the order they came
            place = self._order
            end = len(place)
            rows = sorted(rows, key=lambda r: place.get(r.key, end))
            self._order = {r.key: n for n, r in enumerate(rows)}
        self.matching = len(rows)
        self.matching_rows = rows
        if self.MAX_ROWS and len(rows) > self.MAX_ROWS:
            rows = rows[:self.MAX_ROWS]  # the top of the order; a filter or another sort reaches the rest
        self.shown = rows
        if self.marks:
            self.marks &= {r.key for r in self.rows}
        return rows

    def _cells_shown(self, rows: list[Row]) -> list[list[Any]]:
        """The shown columns' cells of each row (the table's window); names that would read the same
        at this width among them get the end of their id."""
        idx = self._col_index or list(range(len(self.COLUMNS)))
        out = [[r.cells[i] for i in idx] for r in rows]
        for pos, i in enumerate(idx):
            c = self.COLUMNS[i]
            if not c.unique or c.key not in self._layout or len(rows) < 2:
                continue
            ids = [r.key if c.unique == "key" else (r.extra.get(c.unique) or r.key) for r in rows]
            column = [cells[pos] for cells in out]
            fixed = uniquify(column, ids, self._layout[c.key])
            if fixed is not column:
                for cells, cell in zip(out, fixed):
                    cells[pos] = cell
        return out

    def update_title(self) -> None:
        title = self.TABLE_TITLE
        order = self.order_text()
        if order:
            title += f" ({order})"
        w = self.window if self.windowed else None
        if w is not None:
            parts = [title, f"{w.matching}/{w.total}"]
        else:
            parts = [title, f"{len(self.shown)}/{len(self.rows)}"]
        if w is None and len(self.shown) < self.matching:
            parts.append(f"first {len(self.shown)} of {self.matching} shown")
        if self.marks:
            parts.append(f"{len(self.marks)} marked")
        if self.order_frozen:
            parts.append("order frozen (F)")
        if self.row_filter.active:
            parts.append(f"filter {visible(self.row_filter.text, 60)}")  # may quote a stranger's name
            note = self.row_filter.describe()
            if note:
                parts.append(note)
        self.table.border_title = Text(" · ".join(parts))

    def order_text(self) -> str:
        """What the order is, in the title: the default's name, or the column sorted by."""
        if self.sort_col is None:
            return self.DEFAULT_ORDER
        label = self.COLUMNS[self.sort_col].label
        return f"by {label} {'▼' if self.sort_reverse else '▲'}"

    # --- targets ---

    def cursor_row(self) -> Row | None:
        key = self.table.cursor_key()
        return next((r for r in self.shown if r.key == key), None) if key is not None else None

    def targets(self) -> list[Row]:
        """The marked rows if any (visible or not: marks are deliberate), else the cursor row."""
        if self.marks:
            return [r for r in (*self.rows, *self.marked_rows) if r.key in self.marks]
        row = self.cursor_row()
        return [row] if row is not None else []

    def clear_marks(self) -> None:
        if self.marks:
            self.marks.clear()
            self.render_rows()

    # --- keys ---

    def action_start_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box:  # the priority binding caught a `/` typed into the filter itself
            box.insert_text_at_cursor("/")
            return
        if self.app.screen is not self:
            return
        self._filter_before = self.row_filter.text
        box.value = self.row_filter.text
        box.add_class("-shown")
        box.display = True
        self.set_focus(box)  # now, not after a refresh: the next key already goes to the box

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def filter_names(self) -> tuple[tuple[str, ...], dict[str, str]]:
        """The words `name:value` accepts: column keys and the ids rows carry; header labels and
        each column's aliases stand for their column (the service parses a windowed table's filter so too)."""
        more = SPECS[self.QUERY].more_fields if self.windowed else ()
        return filter_names(self.COLUMNS, self.rows[0] if self.rows else None, more)

    def filter_done(self) -> None:
        """Enter in the filter box: apply what it holds and give the keys back to the table."""
        self.set_filter(self.query_one("#filter", Input).value)
        self._close_filter()

    def set_filter(self, text: str) -> None:
        fields, aliases = self.filter_names()
        self.row_filter = parse_filter(text, fields, aliases)
        self.changed_question()  # not before on_mount: it renders with it (a screen opened with a filter)

    def _close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("-shown")
        box.display = False
        self.set_focus(self.table)

    def action_mark(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        self.marks ^= {row.key}
        self.table.set_cell(row.key, "_mark", MARK if row.key in self.marks else NO_MARK)
        self.update_title()
        self.table.action_cursor_down()

    def action_mark_all(self) -> None:
        if self.windowed:  # every matching row, not only the window's: the service lists their keys
            self.ask_all(lambda w: self._mark_all(set(w.keys or ())), keys=True, size=1)
            return
        self._mark_all({r.key for r in self.shown})

    def _mark_all(self, keys: set[str]) -> None:
        self.marks = set() if keys and keys <= self.marks else self.marks | keys
        if self.windowed and self.marks - {r.key for r in self.rows}:
            self.requery()  # the marked rows outside the window come with the answer
        else:
            self.render_rows()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """Drill into the cursor row (enter)."""

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box:
            box.value = self._filter_before
            self.set_filter(self._filter_before)
            self._close_filter()
        elif self.marks:
            self.clear_marks()
        elif self.row_filter.active:
            self.set_filter("")
        elif len(self.app.screen_stack) > 1 and self.app.screen is self and self.is_pushed:
            self.app.pop_screen()

    @property
    def is_pushed(self) -> bool:
        """A drill-down screen (esc goes back) rather than one of the top-level screens."""
        return False
