"""Every key that changes something, on every screen, under --read-only and for a viewer: refused at
once with a message, no dialog opened, nothing changed anywhere."""
from __future__ import annotations

import asyncio

import pytest

from console.app import GroupWatchApp
from console.engine.actions.blacklist import BlacklistEntry
from console.runtime import open_runtime, poll_once
from console.screens.modals import ConfirmScreen, FormScreen
from console.service.client import LocalClient
from console.service.service import Service
from console.widgets.keyed_table import KeyedTable

# The keys that change something (the rest move, mark, filter, sort, open and help), per screen.
CHANGING = {
    "groups": ("m", "P"),
    "alerts": ("a", "u", "c", "z", "r", "w", "b", "d", "M", "n", "U", "ctrl+z"),
    "feed": ("b", "d"),
    "group": ("m", "P", "w", "b", "K"),
    "blacklist": ("a", "e", "d", "X"),
    "schedules": ("a", "e", "t", "r", "d"),
    "audit": (),
    "silences": ("a", "d"),
}
SCREEN_KEY = {"groups": "1", "alerts": "2", "feed": "3", "blacklist": "4", "schedules": "5", "audit": "6",
              "silences": "7"}


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))


def test_every_changing_binding_is_listed_here():
    """A new changing key must join CHANGING (and so this test): every binding not known to be
    harmless is in the list."""
    from console.app import GroupWatchApp as App

    harmless = {"start_filter", "mark", "mark_all", "sort", "sort_reverse", "back", "open", "alerts",
                "mark_quiet", "flagged", "this_group", "dry_run", "sort_pick", "freeze", "toggle_detail", "copy_id",
                "export", "toggle_handled", "toggle_view",
                "cursor(1)", "cursor(-1)", "top_g", "bottom", "home", "end"}  # moving
    for mode, cls in {**App.MODES, "group": __import__("console.screens.group", fromlist=["GroupScreen"]).GroupScreen}.items():
        keys = set()
        for klass in cls.__mro__:
            if not klass.__module__.startswith("console."):
                continue  # Textual's own (focus moves, copy)
            for b in klass.__dict__.get("BINDINGS", ()):
                if b.action not in harmless:
                    keys.update(k for k in b.key.split(",") if k != "delete")
        assert keys == set(CHANGING[mode]), (mode, keys ^ set(CHANGING[mode]))


async def _prepared(tmp_path, read_only: bool, service: bool = False):
    # With no service of ours the console runs this engine: paced, or the demo would spin the loop.
    # With one, nothing runs it: the polls here make the picture, unpaced.
    rt = open_runtime(None, str(tmp_path / "data"), groups=6, seed=5, speed=1200, pace=not service,
                      read_only=read_only)
    rt.moderation.blacklist.add(BlacklistEntry(pattern="demo:u9", reason="seed"), "owner")
    rt.moderation.schedules.add(times="09:00", target="all", template="hello {group}", actor="owner")
    rt.engine.silences.add({"kind": "flood", "group": "tag:archive"}, 86400, "owner", "seed")
    svc = Service(rt, owner="owner") if service else None  # before the events: its feed sees them
    for _ in range(400):
        await poll_once(rt.engine)
        if any(a.kind == "ad" and a.member for a in rt.engine.alerts.live()):
            break
    return (rt, svc) if service else rt


def _state(rt) -> tuple:
    mod = rt.moderation
    return (len(mod.ledger.actions()), len(mod.ledger.audit_entries()),
            [(e.pattern, e.reason) for e in mod.blacklist.entries()],
            [(s.id, s.paused, s.template) for s in mod.schedules.list()],
            [(s.id, s.matchers, s.ends_at) for s in rt.engine.silences.list()])


def _untouched(rt) -> None:
    """No alert triaged, claimed or acted on by anyone (the engine's own changes aside)."""
    for a in rt.engine.alerts.live():
        assert a.state.value == "open" and a.claimed_by is None and a.handled_by is None, a
    assert all(a.resolved_by == "auto" for a in rt.engine.alerts.resolved())


async def _press_everything(app, rt, pilot) -> list[str]:
    notes: list[str] = []
    original = app.notify

    def spy(message, **kw):
        notes.append(str(message))
        original(message, **kw)

    app.notify = spy
    refused = []
    for mode, keys in CHANGING.items():
        if not keys:
            continue
        if mode == "group":
            await pilot.press("1")
            await _rows(pilot, app)
            await pilot.press("enter")
            await _until(pilot, lambda: type(app.screen).__name__ == "GroupScreen")
        else:
            await pilot.press(SCREEN_KEY[mode])
        await _rows(pilot, app)
        for key in keys:
            before = len(notes)
            await pilot.press(key)
            await pilot.pause(0.05)
            assert not isinstance(app.screen, (ConfirmScreen, FormScreen)), (mode, key)
            said = " ".join(notes[before:])
            assert "refused" in said, (mode, key, notes[before:])
            refused.append(f"{mode}:{key}")
        if mode == "group":
            await pilot.press("escape")
    return refused


async def _until(pilot, cond, timeout: float = 15.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def _rows(pilot, app) -> None:
    try:
        await _until(pilot, lambda: hasattr(app.screen, "refresh_live")
                     and app.screen.query_one("#table", KeyedTable).row_count > 0)
    except AssertionError:
        raise AssertionError(f"no rows on {type(app.screen).__name__}") from None


async def test_read_only_refuses_every_changing_key_on_every_screen(tmp_path):
    rt = await _prepared(tmp_path, read_only=True)
    before = _state(rt)
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")  # the rows stay put; the engine is not what is tested here
        refused = await _press_everything(app, rt, pilot)
        assert len(refused) == sum(len(k) for k in CHANGING.values())
        await pilot.press("q")
    assert _state(rt) == before
    _untouched(rt)
    rt.close()


async def test_a_viewer_is_refused_every_changing_key_on_every_screen(tmp_path):
    rt, svc = await _prepared(tmp_path, read_only=False, service=True)
    before = _state(rt)
    rt.settings.operators.default = "viewer"
    viewer = svc.open_session("vic", [], session="console")
    app = GroupWatchApp(LocalClient(svc, viewer), refresh_seconds=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        refused = await _press_everything(app, rt, pilot)
        assert len(refused) == sum(len(k) for k in CHANGING.values())
        await pilot.press("q")
    assert _state(rt) == before
    _untouched(rt)
    rt.close()
