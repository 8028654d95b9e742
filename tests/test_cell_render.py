"""The table's own cell drawing (console/widgets/cell_render.py) gives the very segments DataTable's Rich
pipeline gives: every kind of cell our screens put in a table, at widths that cut, pad and split wide
characters, on and off the cursor row, with and without colour."""
from __future__ import annotations

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from console.screens.cells import untrusted
from console.widgets.keyed_table import KeyedTable

CELLS = [
    "12", "[bold]not markup?[/]", "", " ", "tail spaces    ", "HIGH",
    Text("HIGH", style="bold red"), Text("med", style="yellow on black"), Text(""), Text("*", style="bold reverse"),
    Text.assemble(("ad", "red"), " wave ", ("2 senders", "dim italic")),
    untrusted("英雄联盟峡谷之巅 1群 英雄联盟峡谷之巅", 60), untrusted("emoji 🐱🔥✨ keycap 3️⃣ end", 60),
    untrusted("\u202eevil\u200b name\x1b[31m", 60), untrusted("a very long message " * 8, 300, "dim"),
    Text("ellipsis cut here please", overflow="ellipsis", no_wrap=True),
    Text("crop cut here please", overflow="crop"), Text("中文字符宽度测试", overflow="ellipsis"),
    Text("▁▂▃▄▅▆▇█", style="green"), Text("right", justify="right"), Text("mid", justify="center"),
]


class Table(App):
    def __init__(self, table: DataTable) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table


@pytest.mark.parametrize("colour", [True, False])
async def test_drawn_cells_equal_datatables_own(colour: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not colour:
        monkeypatch.setenv("NO_COLOR", "1")
    table = KeyedTable(cursor_type="row")
    widths = [1, 2, 3, 5, 7, 9, 14, 30]
    app = Table(table)
    async with app.run_test(size=(120, 40)):
        for i, w in enumerate(widths):
            table.add_column(f"c{i}", key=f"c{i}", width=w)
        for r, cell in enumerate(CELLS):
            table.add_row(*([cell] * len(widths)), key=f"r{r}")
        drawn = compared = 0
        for row in range(len(CELLS)):
            for col in range(len(widths)):
                width = table.columns[f"c{col}"].get_render_width(table)
                for base in (Style(), Style(bgcolor="blue", color="white"), Style(bold=True)):
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        table._cell_render_cache.clear()
                        ours = table._render_cell(row, col, base, width, cursor, hover)
                        table._cell_render_cache.clear()
                        theirs = DataTable._render_cell(table, row, col, base, width, cursor, hover)
                        assert ours == theirs, (CELLS[row], widths[col], base, cursor, hover)
                        compared += 1
        assert compared == len(CELLS) * len(widths) * 9
        # not blind: the fast drawing is the one that ran (a cell it cannot draw goes to DataTable's)
        from console.widgets import cell_render

        calls = []
        real = cell_render.draw_cell
        monkeypatch.setattr("console.widgets.keyed_table.draw_cell", lambda *a: calls.append(1) or real(*a))
        table._cell_render_cache.clear()
        table._render_cell(0, 7, Style(), 32)
        drawn = len(calls)
        assert drawn == 1
