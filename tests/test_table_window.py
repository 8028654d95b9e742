"""The table holds a window of its rows: a thousand rows cost the DataTable what a hundred-odd do,
and moving through them (down, page down, gg, G, a re-sort that moves the cursor row far away) looks
as if the table held them all."""
from __future__ import annotations

import pytest
from textual.app import App

from console.widgets import keyed_table
from console.widgets.keyed_table import KeyedTable

N = 1000
WINDOW = 40  # small (at 60x10 four screenfuls are fewer), so walking past its edge takes few key presses


@pytest.fixture(autouse=True)
def _small_window(monkeypatch):
    monkeypatch.setattr(keyed_table, "WINDOW", WINDOW)


def rows(n: int = N, tag: str = "") -> list[tuple[str, list[str]]]:
    return [(f"r{i}", [f"r{i}", f"{i}{tag}"]) for i in range(n)]


class One(App):
    def compose(self):
        t = KeyedTable(cursor_type="row")
        t.add_column("name", key="name", width=8)  # fixed widths, as the screens' columns have
        t.add_column("n", key="n", width=8)
        yield t


def shown_key(t: KeyedTable) -> str | None:
    """The key of the row the cursor is drawn on, read from the DataTable itself."""
    return t.get_row_at(t.cursor_row)[0] if t.row_count else None


async def test_a_thousand_rows_hold_only_a_window_and_the_cursor_walks_through_all_of_them():
    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        t = app.screen.query_one(KeyedTable)
        t.set_rows(rows())
        await pilot.pause()
        assert t.window == WINDOW
        assert t.total == N and t.row_count == WINDOW and t.cursor_key() == "r0"
        for i in range(1, 2 * WINDOW):  # down past the window's end: the window follows
            await pilot.press("down")
            assert t.cursor_key() == shown_key(t) == f"r{i}", i
        assert t.top > 0 and t.row_count == WINDOW
        # the cursor stays on the same line of the screen when the window moves
        line = t.cursor_row - t.scroll_y
        await pilot.press("down")
        assert t.cursor_row - t.scroll_y in (line, line + 1)
        await pilot.press("pagedown")
        assert t.cursor_key() == shown_key(t) and int(t.cursor_key()[1:]) > 2 * WINDOW
        t.move_to(N - 1)
        await pilot.pause()
        assert t.cursor_key() == shown_key(t) == f"r{N - 1}" and t.top == N - WINDOW
        t.move_to(0)
        await pilot.pause()
        assert t.cursor_key() == "r0" and t.top == 0
        assert t.all_keys() == [k for k, _ in rows()]


async def test_the_cursor_row_is_followed_by_key_wherever_a_new_order_puts_it():
    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        t = app.screen.query_one(KeyedTable)
        t.set_rows(rows())
        t.move_to(10)
        await pilot.pause()
        assert t.cursor_key() == "r10"
        t.set_rows(list(reversed(rows(tag="x"))))  # a reverse sort: r10 is now near the end
        await pilot.pause()
        assert t.cursor_key() == shown_key(t) == "r10" and t.top > 0
        assert t.get_row("r10") == ["r10", "10x"]
        # a row that leaves: the cursor stays at its place
        place = t.top + t.cursor_row
        t.set_rows([r for r in reversed(rows(tag="x")) if r[0] != "r10"])
        await pilot.pause()
        assert t.top + t.cursor_row == place and t.cursor_key() != "r10"


async def test_only_the_rows_in_the_window_have_their_cells_built():
    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        t = app.screen.query_one(KeyedTable)
        all_rows = rows()
        built: list[int] = []

        def cells_for(start: int, stop: int) -> list[list[str]]:
            built.extend(range(start, min(stop, N)))
            return [cells for _, cells in all_rows[start:stop]]

        t.set_keys([k for k, _ in all_rows], cells_for)
        await pilot.pause()
        assert sorted(set(built)) == list(range(WINDOW))
        built.clear()
        t.move_to(900)
        await pilot.pause()
        assert len(built) <= WINDOW and 900 in built and t.get_row("r900") == ["r900", "900"]


async def test_a_cell_changed_in_place_is_repainted_and_the_others_keep_their_renders():
    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        t = app.screen.query_one(KeyedTable)
        t.set_rows(rows(30))
        await pilot.pause()
        await pilot.pause()  # the new rows measured (an update of its own)
        before = [t.render_line(y).text for y in range(1, 6)]
        updates = t._update_count
        assert "r2" in before[2]
        changed = rows(30)
        changed[2] = ("r2", ["r2", "changed"])
        t.set_rows(changed)
        await pilot.pause()
        after = [t.render_line(y).text for y in range(1, 6)]
        assert "changed" in after[2] and "changed" not in before[2]
        assert after[:2] + after[3:] == before[:2] + before[3:]
        # not counted as an update (which voids every cached cell render): only the changed row's are
        assert t._update_count == updates
