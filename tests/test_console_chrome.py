"""Pilot tests of the console's chrome: keys typed in one burst land where typed, messages never
cover the work, the footer fits, severity reads without colour, k9s/htop keys, `:` commands, the
palette, bulk progress. Run at 80x24 and 200x50, with NO_COLOR and with 16 colours."""
from __future__ import annotations

import asyncio

import pytest
from rich.color import Color, ColorSystem
from rich.style import Style
from textual import events
from textual.css.query import NoMatches

from console.app import GroupWatchApp
from console.runtime import open_runtime
from console.screens.alerts import AlertsScreen
from console.screens.cells import SEVERITY_STYLE
from console.screens.command_line import CommandLine, resolve
from console.screens.feed import FeedScreen
from console.screens.groups import GroupsScreen
from console.screens.keymap import footer_keys
from console.screens.messages import MessagesScreen
from console.screens.modals import ConfirmScreen, FormScreen, HelpScreen
from console.service.api import Command
from console.widgets.keybar import KeyBar, layout
from console.widgets.keyed_table import KeyedTable
from console.widgets.message_bar import NEWS, MessageBar

# Each size with one of the poor colour modes (both sizes and both modes are covered; the full
# product would double the time for little more).
SCREENS = [((80, 24), "NO_COLOR"), ((200, 50), "xterm-16color")]


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture(params=SCREENS, ids=["80x24-NO_COLOR", "200x50-16colour"])
def size(request, monkeypatch):
    """The terminal size for run_test; the colour mode is set in the environment."""
    size, colours = request.param
    if colours == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", colours)
        monkeypatch.delenv("COLORTERM", raising=False)
    return size


def runtime(tmp_path):
    return open_runtime(None, str(tmp_path / "data"), groups=12, seed=5, speed=1200, pace=True)


async def until(pilot, cond, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout

    def met() -> bool:
        try:
            return bool(cond())
        except NoMatches:  # a screen just switched to is not composed yet
            return False

    while not met():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def table(app) -> KeyedTable:
    return app.screen.query_one("#table", KeyedTable)


def burst(app, *keys: str) -> None:
    """Keys as a terminal delivers a paste or a laggy SSH link's packet: all queued before any is handled."""
    for k in keys:
        if len(k) == 1:
            app.post_message(events.Key(k if k.isalnum() else _name(k), k))
        else:
            app.post_message(events.Key(k, {"enter": "\r", "escape": "\x1b"}.get(k)))


def _name(ch: str) -> str:
    from textual.keys import _character_to_key

    return _character_to_key(ch)


def alt(ch: str) -> events.Key:
    return events.Key(f"alt+{ch}", ch)  # what Textual makes of ESC and a digit read as one sequence


# --- keys typed in one burst ---


async def test_keys_sent_in_one_burst_land_where_typed(tmp_path, size):
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        # `3/` then text: the filter opens on the Feed (the screen 3 opened), and takes the text
        burst(app, "3", "/", "a", "b")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen) and app.screen.query_one("#filter").value == "ab")
        assert isinstance(app.screen, FeedScreen)
        # `/tier:crit` enter `ss`: the filter gets tier:crit, then s sorts twice (not typed into the box)
        burst(app, "escape", "escape", "1", "/", *"tier:crit", "enter", "s", "s")
        await until(pilot, lambda: isinstance(app.screen, GroupsScreen) and app.screen.sort_col == 1)
        assert app.screen.row_filter.text == "tier:crit"
        assert isinstance(app.focused, KeyedTable)
        # esc then a digit in one packet (alt+2) is esc, then 2: the filter is cleared, Alerts open
        app.post_message(alt("2"))
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        assert app._screen_stacks["groups"][0].row_filter.text == ""  # Textual has no public lookup by mode
        # a key that opens a dialog, then what to type into it
        await until(pilot, lambda: table(app).row_count > 0)
        burst(app, "z", "3", "h")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        await until(pilot, lambda: app.screen.values()["for"].endswith("3h"))
        burst(app, "escape", ":", *"feed", "enter", "j")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen) and isinstance(app.focused, KeyedTable))
    rt.close()


# --- messages: a bar of their own, two lanes, a history ---


async def test_messages_never_cover_the_footer_a_dialog_or_the_detail_pane(tmp_path, size):
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: table(app).row_count > 0)
        app.notify("mention: 8/8 done")
        for i in range(5):  # a wave of alerts right after the result
            app.notify(f"ad in group {i}", title="High alert", severity="error", lane=NEWS)
        await pilot.pause()
        bar = app.screen.query_one(MessageBar)
        line = str(bar.render())
        assert "mention: 8/8 done" in line  # the result is not buried by the alerts
        assert "High alert: " in line  # the news beside it
        # nothing floats over the screen: no toast, and the bar has its own row above the footer
        assert not list(app.screen.query("Toast"))
        keys, detail = app.screen.query_one(KeyBar), app.screen.query_one("#detail")
        assert not bar.region.overlaps(keys.region) and not bar.region.overlaps(detail.region)
        assert not bar.region.overlaps(table(app).region)
        # a confirm dialog: nothing is drawn over it
        app.push_screen(ConfirmScreen("Blacklist 1 member(s)?"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        app.notify("another result", lane=NEWS)
        await pilot.pause()
        dialog = app.screen.query_one("#dialog")
        assert not list(app.screen.query("Toast"))
        assert not any(b.region.overlaps(dialog.region) for b in app.screen_stack[-2].query(MessageBar))
        await pilot.press("escape")
        # the history keeps everything, with its time
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, MessagesScreen))
        log = app.screen.query_one("#log")
        assert log.row_count >= 7
        rows = [[str(c) for c in log.get_row_at(i)] for i in range(log.row_count)]
        assert all(len(r[0]) == 8 and r[0][2] == ":" for r in rows)  # HH:MM:SS
        assert any("another result" in r[2] for r in rows[:3]) and any("mention: 8/8 done" in r[2] for r in rows)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
    rt.close()


async def test_a_bulk_action_shows_its_progress_on_the_status_line_then_its_result(tmp_path):
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    seen: list[str] = []
    shown = app.show_progress

    def spy(text: str) -> None:
        seen.append(text)
        shown(text)

    app.show_progress = spy  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: len({(a.group, a.member) for a in rt.engine.alerts.live()
                                        if a.kind == "ad" and a.member}) >= 3, timeout=30)
        pairs, ids = set(), []
        for a in rt.engine.alerts.live():
            if a.kind == "ad" and a.member and (a.group, a.member) not in pairs:
                pairs.add((a.group, a.member))
                ids.append(a.id)
        app.run_command(Command("warn_alerts", ids[:3]))
        await until(pilot, lambda: "" in seen[1:] and any("done" in n.text for n in app.messages.notes))
        assert seen[0] == "warn…" or seen[0].startswith("warn")
        assert any("/" in s and s.endswith("…") for s in seen), seen  # "warn 1/3…"
        assert seen[-1] == ""  # cleared when the result came
        assert "warn" in str(app.screen.query_one(MessageBar).render())
    rt.close()


# --- the footer ---


@pytest.mark.parametrize("width", [80, 200])
def test_the_footer_fits_in_two_lines_whole_words_with_help_last(width):
    for cls in [*GroupWatchApp.MODES.values(), __import__("console.screens.group", fromlist=["x"]).GroupScreen]:
        keys = footer_keys(cls, GroupWatchApp)
        rows = layout(keys, width)
        assert len(rows) <= 2
        for row in rows:
            assert sum(len(k) + len(label) + 3 for k, label in row) <= width, (cls, row)
        assert rows[-1][-1] == ("?", "help")
        shown = [item for row in rows for item in row]
        assert all(item in keys for item in shown[:-1])  # whole labels, never cut
        if cls is AlertsScreen:
            names = {k for k, _ in shown}
            assert {"enter", "n", "d", "M", "a", "z", "r", "b", "w"} <= names, names


async def test_the_footer_on_screen_lists_the_alert_keys(tmp_path, size):
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        text = str(bar.render())
        for piece in (" enter Open ", " n Not an ad ", " d Delete msg ", " M Mute ", " ? help "):
            assert piece in text, text
        assert all(len(line) <= size[0] for line in text.split("\n"))
        assert bar.region.bottom == size[1]  # the last row of the terminal
    rt.close()


# --- severity without full colour ---


async def test_severity_reads_without_colour_and_on_16_colours(tmp_path, monkeypatch):
    # attributes carry it without colour: HIGH reversed and bold, medium bold, low neither
    high, med, low = (Style.parse(SEVERITY_STYLE[s]) for s in ("high", "medium", "low"))
    assert high.reverse and high.bold and med.bold and not med.reverse and not low.bold and not low.reverse
    # 16 colours: the ANSI red and yellow the screens use come back down as red and yellow
    monkeypatch.delenv("NO_COLOR", raising=False)
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt)
    theme = app.ansi_theme
    red, yellow = (Color.from_triplet(theme.ansi_colors[n]).downgrade(ColorSystem.STANDARD).number for n in (1, 3))
    assert red == 1 and yellow in (3, 11)
    rt.close()


async def test_no_color_removes_colour_but_keeps_attributes_and_reverses_the_cursor(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        style = table(app).get_component_rich_style("datatable--cursor")
        assert style.reverse and style.bold
        assert not any(type(f).__name__ == "Monochrome" for f in app._filters)  # not grey on grey
    rt.close()


# --- moving like k9s/htop/less ---


async def test_j_k_gg_G_home_end_move_the_cursor(tmp_path, size):
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")  # rows stay put while we move
        t = table(app)
        await pilot.press("j", "j")
        assert t.cursor_row == 2
        await pilot.press("k")
        assert t.cursor_row == 1
        await pilot.press("G")
        assert t.cursor_row == 11
        await pilot.press("g", "g")
        assert t.cursor_row == 0
        await pilot.press("end")
        assert t.cursor_row == 11
        await pilot.press("home")
        assert t.cursor_row == 0
        # in the filter box home/end stay the box's own
        await pilot.press("/", "a", "b", "c", "home")
        assert app.focused.cursor_position == 0 and t.cursor_row == 0
        await pilot.press("end")
        assert app.focused.cursor_position == 3
    rt.close()


# --- `:` command mode ---


def test_command_names_resolve_by_name_prefix_alias_or_say_why_not():
    assert resolve(":alerts").action == "switch_mode('alerts')"
    assert resolve("bl").action == "switch_mode('blacklist')"
    assert resolve("2").action == "switch_mode('alerts')"
    assert resolve("q").action == "quit"
    assert resolve("mess").action == "messages"
    assert resolve("a") == "'a' could be alerts or audit"
    assert "no screen or command 'nope'" in resolve("nope")


async def test_colon_opens_the_command_line_and_runs_a_screen_or_says_what_is_wrong(tmp_path):
    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, CommandLine))
        await pilot.press(*"nope", "enter")
        assert isinstance(app.screen, CommandLine)
        assert "no screen or command" in str(app.screen.query_one("#command-error").render())
        await pilot.press("escape")
        await pilot.press("colon", *"blacklist", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "BlacklistScreen")
        await pilot.press("colon", "q", "enter")
        await until(pilot, lambda: not app.is_running)
    rt.close()


# --- the palette, help ---


async def test_the_palette_lists_quit_once_and_help_has_the_new_keys(tmp_path):
    from console.screens.commands import ScreenCommands

    rt = runtime(tmp_path)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        provider = ScreenCommands(app.screen)
        names = [name for name, _, _ in provider._commands()]
        names += [c.title for c in app.get_system_commands(app.screen)]
        assert sum(1 for n in names if n.lower().startswith("quit")) == 1, names
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = {k for _, section in app.screen.sections for k, _ in section}
        assert {"j", "k", "G", "g", "Home", "End", "!", ":"} <= keys, keys
    rt.close()


def test_the_readme_key_card_is_the_one_the_bindings_make():
    from pathlib import Path

    from console.screens.keymap import with_card

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert with_card(readme) == readme, "the README key card is stale: python -m console.screens.keymap"


async def test_the_first_screen_says_loading_until_the_first_answer_not_an_empty_0_of_0():
    class SlowClient:
        """An attached service that has not answered yet."""

        actor = None
        lost = ""

        def __init__(self) -> None:
            self.answer = asyncio.Event()

        async def query(self, name, **params):
            await self.answer.wait()
            raise ConnectionError("gone")

        async def run(self, cmd):
            raise ConnectionError("gone")

        def on_push(self, listener) -> None:
            pass

        async def close(self) -> None:
            self.answer.set()

    app = GroupWatchApp(SlowClient(), where="/run/gw.sock")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        title = str(table(app).border_title)
        assert "loading" in title and "0/0" not in title, title
        assert "connecting" in str(app.screen.query_one("#status").render())
        app.client.answer.set()
