"""A big table through the windowed protocol, as an operator drives it: 2,000 groups on the Groups
screen, of which the console holds only the window around its cursor; filter, sort, G/gg and paging past
the window's edge, marks that stay on their rows while the fleet re-ranks, mark-all and export reach
every matching row, not only the window's."""
from __future__ import annotations

import csv

import pytest

from console.screens.base import TableScreen
from tests.test_console import open_app, table, until
from tests.test_table_windows import fleet


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("GROUPWATCH_HOME", str(tmp_path / "home"))


def drawn_members(t) -> list[str]:
    """The members column as the table draws it (its cached renders, after a re-rank too)."""
    col = [c.key.value for c in t.ordered_columns].index("members")
    out = []
    for y in range(1, t.size.height):  # line 0 is the header
        cells = "".join(seg.text for seg in t.render_line(y)).split()
        if len(cells) > col:
            out.append(cells[col])
    return out


async def big_fleet(app, pilot, rows):
    """Once the demo's 12 groups show, the service's Groups view answers ``rows`` (a fleet of 2,000)."""
    await until(pilot, lambda: table(app).row_count == 12)
    views = app.host.service.views
    views.groups = lambda: list(rows["now"])
    await pilot.press("p")  # the numbers hold still: the test moves them
    app.screen.requery()
    await until(pilot, lambda: table(app).total == len(rows["now"]))


async def test_two_thousand_groups_cost_a_window_and_filter_sort_and_jumps_reach_every_row(tmp_path):
    rt, app = await open_app(tmp_path)
    rows = {"now": fleet(2000)}
    async with app.run_test(size=(80, 24)) as pilot:
        await big_fleet(app, pilot, rows)
        screen: TableScreen = app.screen
        t = table(app)
        assert len(screen.rows) == screen.WINDOW and t.row_count < screen.WINDOW  # built: a window, not a fleet
        assert "2000/2000" in str(t.border_title)
        await pilot.press("slash", *"tier:inactive", "enter")
        await until(pilot, lambda: screen.matching == 500)
        assert "500/2000" in str(t.border_title) and all(r.extra["tier"] == "inactive" for r in screen.rows)
        members = [c.key for c in screen.COLUMNS].index("members")
        assert t.cursor_key() == "demo:g2"
        screen.set_sort(members, True)  # biggest first
        await pilot.pause()
        assert t.cursor_key() == "demo:g2" and t.place == 499 and t.base == 300  # the cursor kept its row
        assert "▼" in "".join(seg.text for seg in t.render_line(0))  # the header is drawn anew with its arrow
        await pilot.press("g", "g")
        await until(pilot, lambda: t.cursor_key() == "demo:g1998" and t.place == 0)  # the biggest inactive
        await pilot.press("G")
        await until(pilot, lambda: t.cursor_key() == "demo:g2" and t.place == 499)
        await pilot.press("home")
        await until(pilot, lambda: t.place == 0)
        # page down past the window's edge: the next rows come before the cursor gets there
        for _ in range(20):
            await pilot.press("pagedown")
        await pilot.pause(0.2)
        place = t.place
        assert place > screen.WINDOW and t.base > 0
        assert t.cursor_key() == f"demo:g{1998 - 4 * place}"  # the row at that place, none skipped or repeated
        await pilot.press("q")
    rt.close()


async def test_marks_stay_while_the_fleet_reranks_and_mark_all_and_export_take_every_matching_row(tmp_path):
    rt, app = await open_app(tmp_path)
    rows = {"now": fleet(2000)}
    async with app.run_test(size=(80, 24)) as pilot:
        await big_fleet(app, pilot, rows)
        screen: TableScreen = app.screen
        t = table(app)
        await pilot.press("g", "g")
        await until(pilot, lambda: t.place == 0)
        await pilot.press("space", "space")
        marked = {"demo:g0", "demo:g1"}
        assert screen.marks == marked
        rows["now"] = list(reversed(rows["now"]))  # the fleet re-ranks: the marked rows go to the bottom
        screen.requery()
        await pilot.pause()
        assert t.cursor_key() == "demo:g2" and t.place == 1997  # the cursor followed its row
        await pilot.pause()
        assert drawn_members(t) == [str(100 + int(k.value.split("g")[1])) for k in t.ordered_keys()][
            int(t.scroll_y):int(t.scroll_y) + len(drawn_members(t))]  # the screen shows the rows as they are now
        assert screen.marks == marked and {r.key for r in screen.targets()} == marked
        await pilot.press("g", "g")
        await until(pilot, lambda: t.place == 0)
        assert screen.marks == marked and {r.key for r in screen.marked_rows} == marked  # outside the window
        assert {r.key for r in screen.targets()} == marked
        await pilot.press("escape")  # clears the marks
        assert not screen.marks
        await pilot.press("slash", *"tags:vip", "enter")
        await until(pilot, lambda: screen.matching == 182)
        await pilot.press("asterisk")
        await until(pilot, lambda: len(screen.marks) == 182)
        assert len(screen.targets()) == 182 and "182 marked" in str(t.border_title)
        await pilot.press("ctrl+e", "enter")  # CSV
        await pilot.pause(0.2)
        files = sorted((tmp_path / "data").rglob("exports/groups-*.csv"))
        assert len(files) == 1
        with files[0].open(encoding="utf-8") as f:
            exported = list(csv.DictReader(f))
        assert len(exported) == 182 and all(r["tags"] == "vip" for r in exported)
        assert [r["id"] for r in exported] == [f"demo:g{i}" for i in range(1999, -1, -1) if i % 11 == 0]
        await pilot.press("q")
    rt.close()
