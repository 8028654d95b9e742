"""The tables an operator lives in for a shift: they fit 80x24 and use 200x50, rows and marks stay
put under the cursor, names stay distinguishable, filters speak the screen's words, and a table can
be sorted by picking a column, frozen, read in full, copied from and exported."""
from __future__ import annotations

import csv
import json
import re

import pytest
from rich.text import Text

from console.audit_text import readable_params
from console.screens.audit import AuditScreen, audit_row
from console.screens.base import TableScreen
from console.screens.cells import cell_safe, untrusted
from console.screens.filtering import parse_filter
from console.screens.table_layout import Column, fit, uniquify
from console.screens.table_tools import PickScreen
from console.service.api import AuditRow
from tests.test_console import open_app, table, until

SCREENS = (("1", "GroupsScreen"), ("2", "AlertsScreen"), ("3", "FeedScreen"), ("4", "BlacklistScreen"),
           ("5", "SchedulesScreen"), ("6", "AuditScreen"))


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("GROUPWATCH_HOME", str(tmp_path / "home"))


# --- pure layout ---

def test_fit_drops_low_priority_columns_first_and_widens_flex_columns_on_wide_terminals():
    cols = (Column("time", "time", 8), Column("group", "group", 11, flex=1, max=40),
            Column("text", "message", 30, flex=4), Column("reasons", "reasons", 20, flex=2, drop=1))
    narrow = fit(cols, 80)
    assert "reasons" not in narrow and narrow["text"] >= 30
    wide = fit(cols, 200)
    assert set(wide) == {"time", "group", "text", "reasons"}
    assert wide["group"] > 14 and wide["group"] <= 40 and wide["text"] > narrow["text"]
    # every cell of the table is used, none beyond it: border 2, scrollbar 2, mark 1, padding 2 per column
    for width, layout in ((80, narrow), (200, wide)):
        assert sum(w + 2 for w in layout.values()) + 3 + 4 <= width
    assert sum(w + 2 for w in wide.values()) + 3 + 4 == 200


def test_names_cut_to_the_same_text_get_the_end_of_their_id():
    cells = [Text("前端技术交流群 1"), Text("前端技术交流群 2"), Text("Rust"), Text("前端技术交流群 1")]
    ids = ["demo:g1", "demo:g2", "demo:g3", "demo:g1"]
    out = uniquify(cells, ids, 10)
    plain = [c.plain for c in out]
    assert plain[0] != plain[1] and plain[0].endswith("~:g1") and plain[1].endswith("~:g2")
    assert plain[2] == "Rust" and plain[3] == plain[0]  # the same group twice is not a clash
    assert all(Text(p).cell_len <= 10 for p in plain)
    assert uniquify(cells[:3], ids[:3], 40) == cells[:3]  # wide enough: nothing changes
    assert uniquify([Text(""), Text("")], ["#1", "#2"], 10) == [Text(""), Text("")]  # "no member" stays empty


def test_keycaps_and_emoji_selectors_get_a_width_every_terminal_agrees_on():
    assert cell_safe("加1️⃣2⃣#️⃣") == "加１２＃"
    assert cell_safe("❤️") == "❤"
    assert untrusted("1️⃣\x1b[31m", 40).plain == "１␛[31m"


def test_filter_accepts_header_words_full_values_negation_and_warns_on_unknown_columns():
    fields = ("state", "tier", "group")
    aliases = {"st": "state"}
    f = parse_filter("!st:open", fields, aliases)
    assert not f.matches({"state": "open", "tier": "x", "group": "g"})
    assert f.matches({"state": "ack", "tier": "x", "group": "g"})
    f = parse_filter("colour:red fans", fields, aliases)
    assert "unknown column colour" in f.describe()
    assert not parse_filter("https://example.org", fields, aliases).unknown


def test_audit_rows_read_as_words_not_json():
    e = AuditRow(id=1, at=0.0, actor="alice", action="send", result="done: message 42", group="qq:1",
                 group_name="Fans", member="qq:7", member_name="Bob", params={"text": "hi", "key": "k-1"},
                 origin="post")
    r = audit_row(e)
    f = r.fields(AuditScreen.COLUMNS)
    assert f["result"] == "done" and f["group"] == "Fans" and f["member"] == "Bob"
    assert f["params"] == 'message 42 · text "hi"' and "{" not in f["params"] and "k-1" not in f["params"]
    assert readable_params({"seconds": 60, "reason": "spam"}) == 'reason "spam" · seconds 60'


# --- on the screen ---

async def _shown_widths(pilot, app):
    """(screen, {column: width}, table content width, table virtual width) for the current screen."""
    await pilot.pause(0.3)
    t = table(app)
    widths = {c.key.value: c.width for c in t.columns.values()}
    return app.screen, widths, t.scrollable_content_region.width, t.virtual_size.width


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_every_table_fits_the_terminal_and_text_columns_are_readable(tmp_path, size):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: table(app).row_count == 12 and rt.engine.alerts.live())
        for key, name in SCREENS:
            await pilot.press(key)
            await until(pilot, lambda: type(app.screen).__name__ == name)
            screen, widths, room, virtual = await _shown_widths(pilot, app)
            assert virtual <= room + 2, f"{name} at {size}: {virtual} cells in a {room}-cell table"  # no sideways scroll
            for c in screen.COLUMNS:
                if c.key in widths:
                    assert widths[c.key] >= min(3, c.base), f"{name}.{c.key} is {widths[c.key]} wide"
            if name == "FeedScreen":
                assert widths["text"] >= 30
                if size[0] >= 200:
                    assert widths["group"] > 14 and widths["sender"] > 12 and "reasons" in widths
            if name == "AlertsScreen" and size[0] >= 200:  # incidents: the title takes the width
                assert widths["title"] > 60, widths
            if name == "GroupsScreen":  # names cut to the column never read the same for two groups
                t = table(app)
                col = [c.key.value for c in t.columns.values()].index("group")
                shown_names = [t.get_row(k)[col] for k in
                               (x.value for x in t.ordered_keys())]
                plain = [c.plain if isinstance(c, Text) else str(c) for c in shown_names]
                assert len(set(plain)) == len(plain), plain
        await pilot.press("q")
    rt.close()


async def test_marks_stay_on_their_rows_while_rows_rerank_and_freeze_keeps_the_order(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")  # the test re-ranks the rows itself, through the service's window
        screen: TableScreen = app.screen
        views = app.host.service.views
        fixed, flipped = views.groups(), {"on": False}  # the fleet as it is now, re-ranked at will
        views.groups = lambda: list(reversed(fixed)) if flipped["on"] else list(fixed)
        screen.requery()
        await pilot.pause()
        await pilot.press("space", "space", "space")
        marked = set(screen.marks)
        cursor = table(app).cursor_key()
        assert len(marked) == 3
        before = [k.value for k in table(app).ordered_keys()]
        flipped["on"] = True  # the fleet re-ranks: every row moves
        screen.requery()
        await pilot.pause()
        t = table(app)
        assert [k.value for k in t.ordered_keys()] == list(reversed(before)) == [r.key for r in screen.rows]
        assert {k.value for k in t.ordered_keys() if t.get_row(k.value)[0].plain == "*"} == marked
        assert t.cursor_key() == cursor  # the cursor followed its row
        await pilot.press("space")  # the next mark lands on the row under the cursor, not a position
        assert screen.marks == marked | {cursor}
        await pilot.press("F")
        await pilot.pause()
        order = [k.value for k in t.ordered_keys()]
        flipped["on"] = False
        screen.requery()
        await pilot.pause()
        assert [k.value for k in t.ordered_keys()] == order and "order frozen" in str(t.border_title)
        await pilot.press("F")
        await pilot.pause()
        assert [k.value for k in t.ordered_keys()] == before == [r.key for r in screen.rows]
        await pilot.press("q")
    rt.close()


async def test_sort_picker_arrows_in_headers_and_the_title_says_the_order(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p")
        screen: TableScreen = app.screen
        assert str(table(app).border_title).startswith("Groups (worst first)")
        await pilot.press("o")
        assert isinstance(app.screen, PickScreen)
        left = [c.key for c in screen.COLUMNS].index("left")
        await pilot.press(*["down"] * (left + 1), "enter")  # the list starts with "default order"
        await pilot.pause()
        assert screen.sort_col == left and screen.sort_reverse  # numbers: biggest first
        title = str(table(app).border_title)
        assert "by l24h ▼" in title and "worst first" not in title
        labels = {c.key.value: str(c.label) for c in table(app).columns.values()}
        assert labels["left"].endswith("▼") and not any("▼" in v for k, v in labels.items() if k != "left")
        values = [r.sort[left] for r in screen.shown]
        assert values == sorted(values, reverse=True)
        await pilot.press("o", "home", "enter")  # the picker opens on the current sort; "default order" is first
        await pilot.pause()
        assert screen.sort_col is None and str(table(app).border_title).startswith("Groups (worst first)")
        assert not any("▼" in str(c.label) or "▲" in str(c.label) for c in table(app).columns.values())
        await pilot.press("q")
    rt.close()


async def test_filter_words_match_the_screen(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12 and rt.engine.alerts.live())
        await pilot.press("p")
        screen = app.screen
        tiers = {r.extra["tier"] for r in screen.rows}
        tier = sorted(tiers)[0]
        short = {"high": "high", "ordinary": "ord", "inactive": "inac", "critical": "crit"}[tier]
        screen.set_filter(f"tier:{tier}")
        full = {r.key for r in screen.shown}
        screen.set_filter(f"tier:{short}")
        assert full and {r.key for r in screen.shown} == full
        screen.set_filter("l24h:0")  # the header's word for the column
        assert screen.shown and not screen.row_filter.unknown
        screen.set_filter("colour:red")
        assert "unknown column colour" in str(table(app).border_title)
        await pilot.press("2")
        await until(pilot, lambda: table(app).row_count > 0)
        alerts = app.screen
        alerts.set_filter("!st:open")
        assert all(r.fields(alerts.COLUMNS)["state"] != "open" for r in alerts.shown)
        assert len(alerts.shown) < len(alerts.rows) or all(r.fields(alerts.COLUMNS)["state"] != "open"
                                                           for r in alerts.rows)
        await pilot.press("q")
    rt.close()


async def test_feed_detail_pane_copy_and_export(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: table(app).row_count > 5)
        await pilot.press("p")
        screen = app.screen
        item = screen.items[table(app).cursor_key()]
        await pilot.press("v")
        pane = screen.query_one("#row-detail")
        assert pane.display and "message: " in pane.render().plain
        assert untrusted(item.text, 2000).plain in pane.render().plain.replace("\n", "")
        await pilot.press("y")
        assert app.clipboard == item.sender
        await pilot.press("ctrl+e")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("enter")  # CSV
        await pilot.pause()
        files = sorted((tmp_path / "data").rglob("exports/feed-*.csv"))
        assert len(files) == 1
        with files[0].open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        # every matching row as the service has them now (the feed went on while the screen was paused)
        assert len(rows) >= screen.matching and {"time", "group", "sender", "text", "member_id"} <= set(rows[0])
        assert rows[-1]["member_id"]
        await pilot.press("ctrl+e", "down", "enter")  # JSON
        await pilot.pause()
        files = sorted((tmp_path / "data").rglob("exports/feed-*.json"))
        assert len(files) == 1 and len(json.loads(files[0].read_text(encoding="utf-8"))) >= len(rows)
        assert oct(files[0].stat().st_mode & 0o777) == "0o600"
        await pilot.press("q")
    rt.close()


async def test_detail_pane_on_groups_audit_and_blacklist(tmp_path):
    from console.engine.actions.blacklist import BlacklistEntry

    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("v")
        pane = app.screen.query_one("#row-detail")
        assert pane.display and "group: " in pane.render().plain and "id: " in pane.render().plain
        rt.moderation.blacklist.add(BlacklistEntry(pattern="demo:nobody", reason="a \x1b[31m reason " + "x" * 200), "owner")
        rt.moderation.ledger.audit("alice", "send", group=rt.engine.summaries()[0].id,
                                   params={"text": "hello " * 40, "key": "k"}, result="done: message 7")
        for key, wanted in (("4", ("pattern: demo:nobody", "reason: a ␛[31m reason", "x" * 200)),
                            ("6", ("actor: alice", "result: done: message 7", "text: " + "hello " * 3))):
            await pilot.press(key)
            await until(pilot, lambda: table(app).row_count > 0)
            app.screen.set_filter("actor:^alice$" if key == "6" else "")
            table(app).move_cursor(row=0)
            await pilot.press("v")
            await pilot.pause()
            text = app.screen.query_one("#row-detail").render().plain.replace("\n", "")
            assert all(w in text for w in wanted), text
        await pilot.press("q")
    rt.close()


async def test_post_confirm_names_the_groups(tmp_path):
    from console.screens.modals import FormScreen

    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("p", "space", "space")
        screen = app.screen
        names = [r.name for r in screen.data if r.id in screen.marks]
        await pilot.press("P")
        assert isinstance(app.screen, FormScreen)
        title = app.screen.title_text
        assert title.startswith("Post now to 2 groups: ") and all(untrusted(n, 30).plain in title for n in names)
        await pilot.press("escape", "q")
    rt.close()


async def test_purge_from_the_blacklist_asks_once_naming_the_count(tmp_path):
    from collections import Counter

    from console.engine.actions.blacklist import BlacklistEntry
    from console.engine.actions.model import ActionKind
    from console.screens.modals import ConfirmScreen

    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: sum(len(g.recent) for g in rt.engine.stats.groups.values()) > 40)
        await pilot.press("p")
        counts = Counter(m.sender for g in rt.engine.stats.groups.values() for m in g.recent)
        member = counts.most_common(1)[0][0]
        rt.moderation.blacklist.add(BlacklistEntry(pattern=member, reason="test"), "owner")
        await pilot.press("p", "4")
        await until(pilot, lambda: table(app).row_count == 1)
        n = sum(1 for g in rt.engine.stats.groups.values() for m in g.recent if m.sender == member)
        await pilot.press("X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen.question.plain
        said = re.match(r"Delete (\d+) recent message\(s\) in \d+ group\(s\) and resolve \d+ alert\(s\)\?", question)
        assert said and int(said.group(1)) >= n, question  # the engine runs on: a few more may have come
        await pilot.press("y")
        await until(pilot, lambda: len([a for a in rt.moderation.ledger.actions()
                                        if a.kind is ActionKind.DELETE and a.member == member]) == int(said.group(1)))
        await pilot.press("q")
    rt.close()


async def test_members_from_before_the_first_watch_read_before_watch_not_never(tmp_path):
    rt, app = await open_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 12)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "GroupScreen" and table(app).row_count > 0)
        screen = app.screen
        joined = [r.fields(screen.COLUMNS)["joined"] for r in screen.rows]
        unknown = [m for m in screen.data.members if m.joined_at is None]
        assert "never" not in joined
        assert joined.count("before watch") == len(unknown)
        await pilot.press("escape", "q")
    rt.close()
