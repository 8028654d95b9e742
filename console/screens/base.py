"""What every table screen shares: the live table, `/` filter, sorting, marks,
layered `esc`, and "act on the marked rows, else on the cursor row".

A screen subclass says which columns it has, which service view it shows
(``QUERY``, ``query_params``) and how to turn that view into rows
(``collect``); this class keeps the last rows so that filtering, sorting and
marking re-render from memory without asking the service again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from console.engine.text import visible
from console.screens.filtering import RowFilter, parse_filter
from console.screens.moving import CursorKeys
from console.widgets.keybar import KeyBar
from console.widgets.keyed_table import KeyedTable
from console.widgets.message_bar import MessageBar
from console.widgets.screen_bar import ScreenBar
from console.widgets.status import StatusLine

if TYPE_CHECKING:
    from console.app import GroupWatchApp

MARK = Text("*", style="bold reverse")
NO_MARK = Text(" ")


@dataclass(slots=True, frozen=True)
class Column:
    key: str      # the name used by `field:value` filters and by sort
    label: str
    width: int | None = None
    flex: bool = False  # takes the width the other columns leave (names, messages)


@dataclass(slots=True)
class Row:
    key: str
    cells: Sequence[Any]            # one per column: str or rich Text (never markup)
    sort: Sequence[Any]             # one comparable value per column
    extra: dict[str, str] = field(default_factory=dict)  # filterable fields not shown as columns (ids...)
    _fields: dict[str, str] | None = None

    def fields(self, columns: Sequence[Column]) -> dict[str, str]:
        """Plain text per column key, for `field:value` filters (built only when a filter is on)."""
        if self._fields is None:
            f = {c.key: (cell.plain if isinstance(cell, Text) else str(cell)) for c, cell in zip(columns, self.cells)}
            f.update(self.extra)
            self._fields = f
        return self._fields


def sort_value(v: Any) -> tuple:
    """None sorts last whichever way, and mixed types never raise."""
    if v is None:
        return (1, 0, "")
    if isinstance(v, (int, float)):
        return (0, v, "")
    return (0, 0, str(v).lower())


class FilterBox(Input):
    """The `/` filter box. Its enter is a priority binding, so it is handled when the key is read: the
    keys typed after it (a burst) already go to the table. (Input's own enter posts a message that a
    burst outruns; and a screen's enter binding is the screen's: open.)"""

    BINDINGS = [Binding("enter", "apply", "Apply the filter", show=False, priority=True)]

    def action_apply(self) -> None:
        screen = self.screen
        if isinstance(screen, TableScreen):
            screen.filter_done()


class TableScreen(CursorKeys):
    """A screen whose body is one live table of rows."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    TABLE_TITLE: ClassVar[str] = ""
    SCREEN_NAME: ClassVar[str] = ""
    MAX_ROWS: ClassVar[int] = 0  # 0: every row; else only the first rows of the order are put in the table
    QUERY: ClassVar[str] = ""    # the service view this screen shows
    DEFAULT_CSS = """
    TableScreen #body { height: 1fr; }
    TableScreen #table { height: 1fr; border: round $primary; }
    TableScreen #filter { display: none; height: 3; border: round $accent; }
    TableScreen #filter.-shown { display: block; }
    TableScreen #status { height: 1; background: $panel; }
    """

    BINDINGS = [
        # priority: keys typed right after `/` (a fast typist, or a burst over SSH) must reach the box
        Binding("slash", "start_filter", "Filter", priority=True),
        Binding("space", "mark", "Mark"),
        Binding("asterisk", "mark_all", "Mark all", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "sort_reverse", "Reverse sort", show=False),
        Binding("escape", "back", "Clear marks/filter, back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.shown: list[Row] = []
        self.matching = 0
        self.marks: set[str] = set()
        self.row_filter: RowFilter = parse_filter("")
        self.sort_col: int | None = None
        self.sort_reverse = False
        self._filter_before = ""
        self._ready = False  # pushed screens get timer ticks before their widgets exist
        self.data: Any = None  # the last answer to QUERY

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
        t = self.table
        t.add_column(" ", key="_mark", width=1)
        for c in self.COLUMNS:
            t.add_column(c.label, key=c.key, width=c.width or (12 if c.flex else None))
        t.focus()
        # until the first answer (attached, a moment): say so, not an empty 0/0 table
        t.border_title = Text(f"{self.TABLE_TITLE} · loading…" if self.TABLE_TITLE else "loading…")
        self.query_one("#status", StatusLine).update(self.gw.status_text())
        self._ready = True
        self.gw.refresh_view()

    def on_screen_resume(self) -> None:
        if self._ready:
            self.gw.refresh_view()

    def on_resize(self) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """Give flex columns what the fixed ones leave, so a row fits the terminal (80 columns too)."""
        t = self.table
        flex = [c for c in self.COLUMNS if c.flex]
        if not flex or not t.size.width:
            return
        pad = 2 * t.cell_padding
        fixed = (1 + pad) + sum((c.width or len(c.label)) + pad for c in self.COLUMNS if not c.flex)
        width = max(8, (t.size.width - 2 - fixed) // len(flex) - pad)
        for c in flex:
            col = t.columns.get(c.key)  # type: ignore[call-overload]
            if col is not None and col.width != width:
                col.width, col.auto_width = width, False
                t._require_update_dimensions = True  # DataTable re-measures only when told
        t.refresh()

    # --- data ---

    def query_params(self) -> dict:
        return {}

    def _frozen(self) -> bool:
        return self.gw.paused and bool(self.rows)

    def load_with(self, query_now) -> None:
        """Fetch the view from a service in this process."""
        if self.QUERY and not self._frozen():
            self.take(query_now(self.QUERY, **self.query_params()))

    async def load_async(self, client) -> None:
        """Fetch the view from an attached service."""
        if self.QUERY and not self._frozen():
            self.take(await client.query(self.QUERY, **self.query_params()))

    def take(self, data: Any) -> None:
        self.data = data

    def collect(self) -> list[Row]:
        """Rows from the last view, in the screen's default order."""
        raise NotImplementedError

    def refresh_live(self) -> None:
        """Show the last view's rows (unless paused)."""
        status = self.query("#status") if self._ready else None
        if not status:
            return  # not composed yet, or being taken down as the console closes
        status.first(StatusLine).update(self.gw.status_text())
        if self.gw.paused and self.rows:
            return
        if self.data is None:
            return
        self.rows = self.collect()
        self.render_rows()

    def render_rows(self) -> None:
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
        self.matching = len(rows)
        if self.MAX_ROWS and len(rows) > self.MAX_ROWS:
            rows = rows[:self.MAX_ROWS]  # the top of the order; a filter or another sort reaches the rest
        self.shown = rows
        present = {r.key for r in self.rows}
        self.marks &= present
        marks = self.marks
        self.table.set_rows([(r.key, [MARK if r.key in marks else NO_MARK, *r.cells]) for r in rows])
        self.update_title()

    def update_title(self) -> None:
        parts = [self.TABLE_TITLE, f"{len(self.shown)}/{len(self.rows)}"]
        if len(self.shown) < self.matching:
            parts.append(f"first {len(self.shown)} of {self.matching} shown")
        if self.marks:
            parts.append(f"{len(self.marks)} marked")
        if self.sort_col is not None:
            parts.append(f"sort {self.COLUMNS[self.sort_col].label} {'v' if self.sort_reverse else '^'}")
        if self.row_filter.active:
            parts.append(f"filter {visible(self.row_filter.text, 60)}")  # may quote a stranger's name
            note = self.row_filter.describe()
            if note:
                parts.append(note)
        self.table.border_title = Text(" · ".join(parts))

    # --- targets ---

    def cursor_row(self) -> Row | None:
        key = self.table.cursor_key()
        return next((r for r in self.shown if r.key == key), None) if key is not None else None

    def targets(self) -> list[Row]:
        """The marked rows if any (visible or not: marks are deliberate), else the cursor row."""
        if self.marks:
            return [r for r in self.rows if r.key in self.marks]
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

    def filter_done(self) -> None:
        """Enter in the filter box: apply what it holds and give the keys back to the table."""
        self.set_filter(self.query_one("#filter", Input).value)
        self._close_filter()

    def set_filter(self, text: str) -> None:
        self.row_filter = parse_filter(text, tuple(c.key for c in self.COLUMNS))
        if self._ready:  # else on_mount renders with it (a screen opened with a filter)
            self.render_rows()

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
        keys = {r.key for r in self.shown}
        self.marks = set() if keys and keys <= self.marks else self.marks | keys
        self.render_rows()

    def action_sort(self) -> None:
        n = len(self.COLUMNS)
        self.sort_col = 0 if self.sort_col is None else (self.sort_col + 1 if self.sort_col + 1 < n else None)
        self.sort_reverse = self.sort_col is not None and self.default_reverse(self.sort_col)
        self.render_rows()

    def action_sort_reverse(self) -> None:
        if self.sort_col is None:
            self.sort_col = 0
        self.sort_reverse = not self.sort_reverse
        self.render_rows()

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
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_col, self.sort_reverse = col, self.default_reverse(col)
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

