"""Pilot tests of the console on the demo fleet: each screen and each key flow."""
from __future__ import annotations

import asyncio

import pytest
from rich.text import Text

from console.app import GroupWatchApp
from console.engine.actions.model import ActionKind
from console.runtime import open_runtime
from console.screens.alerts import AlertsScreen
from console.screens.modals import ConfirmScreen, FormScreen, HelpScreen
from console.widgets.keyed_table import KeyedTable


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


def runtime(tmp_path, read_only: bool = False):
    # Paced at 20 simulated minutes a second: fast enough for every alert kind within seconds, slow
    # enough that the engine leaves the UI the event loop (an unpaced demo would spin it).
    return open_runtime(None, str(tmp_path / "data"), groups=12, seed=5, speed=1200, pace=True, read_only=read_only)


async def until(pilot, cond, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def table(app) -> KeyedTable:
    return app.screen.query_one("#table", KeyedTable)


def _lines(app) -> str:
    out = []
    for widget in app.screen.query("*"):
        if isinstance(widget, KeyedTable):
            out += ["".join(s.text for s in widget.render_line(y)) for y in range(widget.size.height)]
        elif hasattr(widget, "render") and widget.__class__.__name__ in ("Static", "StatusLine", "ScreenBar"):
            r = widget.render()
            out.append(r.plain if isinstance(r, Text) else str(r))
    return "\n".join(out)


def cell_text(row) -> str:
    return " ".join(c.plain if isinstance(c, Text) else str(c) for c in row)


async def open_app(tmp_path, read_only=False, **kw):
    rt = runtime(tmp_path, read_only)
    app = GroupWatchApp(rt, refresh_seconds=0.2, **kw)
    return rt, app


async def test_every_screen_is_one_key_away_and_the_header_shows_demo_health_and_alerts(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12 and rt.engine.alerts.live())
        status = str(app.screen.query_one("#status").render())
        assert "DEMO" in status and "demo:ok" in status and "ev/s" in status and "H" in status
        for key, name in (("2", "AlertsScreen"), ("3", "FeedScreen"), ("4", "BlacklistScreen"),
                          ("5", "SchedulesScreen"), ("6", "AuditScreen"), ("1", "GroupsScreen")):
            await pilot.press(key)
            await until(pilot, lambda: type(app.screen).__name__ == name)
        await pilot.press("2")
        await until(pilot, lambda: table(app).row_count > 0)
        await pilot.press("3")
        await until(pilot, lambda: table(app).row_count > 0)  # the feed shows messages
        await pilot.press("q")
    rt.close()
    assert rt.engine.cursors["demo"] is not None


async def test_filter_plain_regex_negated_and_by_column_then_esc_clears(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")  # hold the rows still
        screen = app.screen
        tier = screen.shown[-1].fields(screen.COLUMNS)["tier"]
        await pilot.press("slash", *f"tier:{tier}")
        assert screen.shown and all(r.fields(screen.COLUMNS)["tier"] == tier for r in screen.shown)
        n_crit = len(screen.shown)
        await pilot.press("enter")
        assert table(app).has_focus and table(app).row_count == n_crit
        await pilot.press("slash", *(["backspace"] * 20), "!", *f"tier:{tier}")
        assert table(app).row_count == 12 - n_crit
        await pilot.press("escape")  # cancel the edit: back to the applied filter
        assert table(app).row_count == n_crit
        await pilot.press("escape")  # esc on the table clears the filter
        assert table(app).row_count == 12 and not screen.row_filter.active
        a, b = (r.fields(screen.COLUMNS)["group"][:2] for r in screen.shown[:2])
        await pilot.press("slash", *f"^({a}|{b})")  # a regex, matched cell by cell
        names = [r.fields(screen.COLUMNS)["group"] for r in screen.shown]
        assert names and all(n.startswith((a, b)) for n in names)
        assert len(names) == sum(r.fields(screen.COLUMNS)["group"].startswith((a, b)) for r in screen.rows)
        await pilot.press("escape")
        await pilot.press("slash", *"[unclosed")  # not a regex: matched literally, said so
        assert table(app).row_count == 0 and "literally" in str(table(app).border_title)
        await pilot.press("q")
    rt.close()


async def test_sort_by_columns_and_reverse_keep_the_cursor_row(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")
        screen = app.screen
        await pilot.press("down", "down")
        key = table(app).cursor_key()
        await pilot.press("s", "s", "s")  # pf -> group -> members (numbers: biggest first)
        members = [int(r.fields(screen.COLUMNS)["members"]) for r in screen.shown]
        assert members == sorted(members, reverse=True)
        assert table(app).cursor_key() == key
        await pilot.press("S")
        members = [int(r.fields(screen.COLUMNS)["members"]) for r in screen.shown]
        assert members == sorted(members)
        assert [k.value for k in table(app).ordered_keys()] == [r.key for r in screen.shown]
        await pilot.press("q")
    rt.close()


async def test_marks_space_star_and_esc(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")
        screen = app.screen
        first = table(app).cursor_key()
        await pilot.press("space")  # marks and moves down
        assert screen.marks == {first} and table(app).cursor_key() != first
        assert table(app).get_row(first)[0].plain == "*"
        await pilot.press("space")
        assert len(screen.marks) == 2 and len(screen.targets()) == 2
        await pilot.press("escape")
        assert not screen.marks and len(screen.targets()) == 1
        await pilot.press("slash", *"tier:crit|tier:inac", "enter")
        shown = {r.key for r in screen.shown}
        await pilot.press("asterisk")  # marks every visible row, no others
        assert screen.marks == shown
        await pilot.press("q")
    rt.close()


async def _to_alerts_with_members(pilot, app, rt, n: int, kind: str = "ad"):
    await pilot.press("2", "v")  # single alerts rather than incidents
    await until(pilot, lambda: len({(a.group, a.member) for a in rt.engine.alerts.live()
                                    if a.kind == kind and a.member}) >= n, timeout=30)
    await pilot.pause(0.4)
    await pilot.press("p")
    screen = app.screen
    screen.refresh_live()
    screen.set_filter(f"kind:^{kind}$")
    await pilot.pause()
    table(app).move_cursor(row=0)
    await pilot.pause()
    return screen


async def test_bulk_warn_over_marked_alerts_asks_with_the_count_then_warns_each(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _to_alerts_with_members(pilot, app, rt, 2)
        await pilot.press("space", "space")
        chosen = screen._members(screen.chosen(), "warn")
        assert len(chosen) == 2
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Warn 2 member(s)?" in app.screen.question.plain
        await pilot.press("y")
        await until(pilot, lambda: len([a for a in rt.moderation.ledger.actions()
                                        if a.origin == "warn" and a.state.value == "done"]) >= 2)
        warned = {(a.group, a.member) for a in rt.moderation.ledger.actions() if a.origin == "warn"}
        assert warned == {(a.group, a.member) for a in chosen}
        assert isinstance(app.screen, AlertsScreen) and not app.screen.marks
        await pilot.press("q")
    rt.close()


async def test_blacklist_from_an_alert_is_confirmed_first_and_cancel_does_nothing(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _to_alerts_with_members(pilot, app, rt, 1)
        alert = rt.engine.alerts.get(int(screen.cursor_row().key))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Blacklist 1 member(s)?" in app.screen.question.plain
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        assert len(rt.moderation.blacklist) == 0
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # the default answer is No
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        assert len(rt.moderation.blacklist) == 0
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: rt.moderation.blacklist.get(alert.member) is not None)
        entry = rt.moderation.blacklist.get(alert.member)
        assert entry.evidence["alert"] == alert.id and entry.evidence["group"] == alert.group
        await until(pilot, lambda: any(a.kind in (ActionKind.BAN, ActionKind.KICK) and a.member == alert.member
                                       and a.state.value == "done" for a in rt.moderation.ledger.actions()))
        await pilot.press("4")
        await until(pilot, lambda: type(app.screen).__name__ == "BlacklistScreen" and table(app).row_count == 1)
        assert table(app).cursor_key() == alert.member
        await pilot.press("q")
    rt.close()


async def test_open_a_group_mark_its_quiet_members_and_mention_them(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")
        groups = app.screen
        target = next(r.key for r in groups.shown if rt.moderation.quiet_members(r.key))
        table(app).move_cursor(row=[r.key for r in groups.shown].index(target))
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "GroupScreen" and table(app).row_count > 0)
        screen = app.screen
        rt.engine.stop()  # hold the simulated world still: who is quiet must not change under the test
        await app.workers.wait_for_complete()
        app.paused = False  # paused above to pick the group; the rows must now show the stopped world
        app.views_fresh()
        quiet = {m.id for m in rt.moderation.quiet_members(target)}
        await pilot.press("Q")
        assert screen.marks == quiet
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"Mention {len(quiet)} quiet member(s)" in app.screen.question.plain
        await pilot.press("y")
        await until(pilot, lambda: any(a.origin == "mention" and a.state.value == "done"
                                       for a in rt.moderation.ledger.actions()))
        mentioned = {m for a in rt.moderation.ledger.actions() if a.origin == "mention" for m in a.mentions}
        assert mentioned == quiet
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "GroupsScreen")
        await pilot.press("q")
    rt.close()


async def test_add_a_schedule_from_the_form_with_a_bad_entry_first(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: type(app.screen).__name__ == "SchedulesScreen")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        await pilot.press(*"25:99", "enter", "enter", *"Good morning {group}", "enter", "enter")
        assert isinstance(app.screen, FormScreen)  # a bad time keeps the form open, with the reason
        assert "25:99" in str(form.query_one("#error").render())
        form.query_one("#field-when").value = "09:00"
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "SchedulesScreen" and table(app).row_count == 1)
        s = rt.moderation.schedules.list()[0]
        assert s.times == ["09:00"] and s.target == "all" and s.template == "Good morning {group}"
        await pilot.press("t")  # pause it
        assert rt.moderation.schedules.get(s.id).paused
        await pilot.press("q")
    rt.close()


async def test_read_only_refuses_every_action_with_a_message_and_asks_nothing(tmp_path):
    rt, app = await open_app(tmp_path, read_only=True)
    notes: list[str] = []
    original = app.notify

    def spy(message, **kw):
        notes.append(str(message))
        original(message, **kw)

    app.notify = spy
    async with app.run_test(size=(100, 30)) as pilot:
        await _to_alerts_with_members(pilot, app, rt, 1)
        for key in ("w", "b", "d", "M"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, (ConfirmScreen, FormScreen))
        assert sum("read-only mode" in n and "refused" in n for n in notes) == 4
        assert "READ-ONLY" in str(app.screen.query_one("#status").render())
        await pilot.press("5", "a")
        await pilot.pause()
        assert not isinstance(app.screen, FormScreen)
        await pilot.press("q")
    rt.close()
    assert rt.moderation.ledger.actions() == [] and len(rt.moderation.blacklist) == 0


async def test_help_lists_the_screens_keys_and_the_palette_runs_actions(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: type(app.screen).__name__ == "AlertsScreen")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = dict(app.screen.sections[0][1])
        for key, what in (("a", "Ack"), ("z", "Snooze"), ("w", "Warn"), ("b", "Blacklist"), ("/", "Filter"),
                          ("space", "Mark")):
            assert keys[key] == what
        assert ("p", "Pause") in app.screen.sections[1][1]
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "AlertsScreen")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"Go to Audit")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "AuditScreen")
        await pilot.press("q")
    rt.close()


async def test_pause_freezes_rows_and_plus_minus_change_the_refresh_interval(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: table(app).row_count > 5)
        await pilot.press("p")
        assert app.paused and "PAUSED" in str(app.screen.query_one("#status").render())
        frozen = [k.value for k in table(app).ordered_keys()]
        n = len(app.host.service.views.feed.items)
        await until(pilot, lambda: len(app.host.service.views.feed.items) > n + 20)  # the engine keeps going underneath
        await pilot.pause(0.5)
        assert [k.value for k in table(app).ordered_keys()] == frozen
        await pilot.press("p")
        await until(pilot, lambda: [k.value for k in table(app).ordered_keys()] != frozen)
        await pilot.press("minus", "minus", "minus")  # slower: 0.2 -> 0.25 -> 0.5 -> 1
        assert app.refresh_seconds == 1.0 and "every" not in str(app.screen.query_one("#status").render())
        await pilot.press("plus")  # faster
        assert app.refresh_seconds == 0.5
        await pilot.press("q")
    rt.close()


async def test_hostile_names_render_inertly_on_the_real_screens(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(200, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        engine = rt.engine
        g = next(iter(engine.stats.groups.values()))
        g.name = "[bold red]x[/] \x1b[31mred \x1b]52;c;aGk=\x07 \u202eevil\u200b"
        g.version += 1  # as a rename through load_group would
        await until(pilot, lambda: "[bold red]x[/]" in _lines(app))
        text = _lines(app)
        assert "[bold red]x[/]" in text and "␛[31m" in text and "⟨U+202E⟩" in text and "⟨U+200B⟩" in text
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        await pilot.press("q")
    rt.close()


async def test_live_updates_keep_cursor_and_marks_on_their_rows(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: table(app).row_count > 10)
        await pilot.press("down", "down", "space")
        screen = app.screen
        key, marked = table(app).cursor_key(), set(screen.marks)
        n = len(app.host.service.views.feed.items)
        await until(pilot, lambda: len(app.host.service.views.feed.items) > n + 10)
        await pilot.pause(0.5)
        if key in {r.key for r in screen.shown}:
            assert table(app).cursor_key() == key
        assert screen.marks == marked & {r.key for r in screen.rows}
        await pilot.press("q")
    rt.close()


async def test_keyed_table_updates_rows_in_place_and_keeps_the_cursor():
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
