"""Pilot tests of the console on the demo fleet."""
from __future__ import annotations

from console.app import GroupWatchApp
from console.runtime import open_runtime
from console.widgets.keyed_table import KeyedTable


def runtime(tmp_path):
    return open_runtime(None, str(tmp_path), groups=12, seed=5, pace=False)


async def test_console_shows_the_demo_fleet_and_its_alerts(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            await pilot.pause(0.1)
            if app.screen.query_one("#alerts", KeyedTable).row_count and rt.engine.events_total > 200:
                break
        groups = app.screen.query_one("#groups", KeyedTable)
        assert groups.row_count == 12
        assert app.screen.query_one("#alerts", KeyedTable).row_count > 0
        assert "DEMO" in str(app.screen.query_one("#status").render())
        await pilot.press("p")
        assert app.paused and "PAUSED" in str(app.screen.query_one("#status").render())
        await pilot.press("down", "down")
        key = groups.cursor_key()
        await pilot.pause(0.5)
        assert groups.cursor_key() == key  # live updates keep the cursor on its row
        await pilot.press("q")
    rt.close()
    assert rt.engine.cursors["demo"] is not None


async def test_keyed_table_updates_rows_in_place_and_keeps_the_cursor(tmp_path, monkeypatch):
    from textual.app import App

    class One(App):
        def compose(self):
            t = KeyedTable(cursor_type="row")
            t.add_columns("name", "n")
            yield t

    app = One()
    async with app.run_test() as pilot:
        t = app.screen.query_one(KeyedTable)
        t.set_rows([("a", ["a", "1"]), ("b", ["b", "2"]), ("c", ["c", "3"])])
        t.move_cursor(row=1)
        assert t.cursor_key() == "b"
        t.set_rows([("c", ["c", "9"]), ("b", ["b", "2"]), ("d", ["d", "4"])])
        await pilot.pause()
        assert [k.value for k in t.ordered_keys()] == ["c", "b", "d"]
        assert t.cursor_key() == "b" and t.get_row("c") == ["c", "9"]


async def test_hostile_names_and_messages_render_as_inert_literal_text():
    from textual.app import App

    from console.engine.activity import GroupSummary
    from console.engine.alerts import Alert
    from console.engine.detectors.base import Severity
    from console.screens.fleet import alert_cells, group_cells

    hostile = "[bold red]x[/] \x1b[31mred \x1b]52;c;aGk=\x07 \u202eevil"
    row = GroupSummary(id="demo:g1", name=hostile, platform="demo", members=3, messages_1h=0, messages_24h=0,
                       active_ratio=0.5, tier="high", last_message_at=None, joins=0, leaves=0, exit_rate=None,
                       open_alerts=1, sparkline=[0] * 24)
    alert = Alert(id=1, kind="ad", severity=Severity.HIGH, group="demo:g1", member="demo:u1",
                  reasons=("[link=http://x]click[/link]",), first_at=0.0, at=0.0, excerpt=hostile)

    class Two(App):
        def compose(self):
            yield KeyedTable(id="g")
            yield KeyedTable(id="a")

    app = Two()
    async with app.run_test(size=(200, 10)) as pilot:
        g, a = app.query_one("#g", KeyedTable), app.query_one("#a", KeyedTable)
        g.add_columns(*"abcdefghi")
        a.add_columns(*"abcdefg")
        g.set_rows([("demo:g1", group_cells(row, 0.0))])
        a.set_rows([("1", alert_cells(alert, hostile, hostile, 0.0))])
        await pilot.pause()
        lines = ["".join(seg.text for seg in t.render_line(y)) for t in (g, a) for y in range(2)]
        screen = "\n".join(lines)
        assert "[bold red]x[/]" in screen and "[link=http://x]click[/link]" in screen
        assert "␛[31m" in screen and "⟨U+202E⟩" in screen
        assert "\x1b" not in screen and "\x07" not in screen and "\u202e" not in screen
