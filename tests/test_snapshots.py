"""SVG snapshots of every screen at 80x24 on a fixed demo world, so a layout regression fails.

The world is made before the screenshot and then stands still: the seeded demo (12 groups, seed 5) is
polled a fixed number of times without pacing, the engine is never started (no clock, no live
events), the events-per-second rate reads 0 and times are shown in UTC. Update after a deliberate
change of layout with ``pytest tests/test_snapshots.py --snapshot-update`` and look at the SVGs
(tests/__snapshots__/test_snapshots/) before committing them.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import console.app

from console.app import GroupWatchApp
from console.runtime import open_runtime, poll_once

POLLS = 40  # demo batches taken in before the screenshot: ads, floods and silence alerts by then


class StillApp(GroupWatchApp):
    """The console over a world that does not move: the engine is not run."""

    CSS_PATH = str(Path(console.app.__file__).with_name("app.tcss"))  # relative paths resolve beside the class

    def run_engine(self) -> None:  # type: ignore[override]
        pass


@pytest.fixture
def still(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)
    time.tzset()
    rt = open_runtime(None, str(tmp_path / "data"), groups=12, seed=5, speed=600, pace=False)
    rt.engine.rate.per_second = lambda now: 0.0  # events per second is wall-clock: frozen at 0
    app = StillApp(rt, refresh_seconds=3600)
    yield rt, app
    rt.close()
    monkeypatch.undo()
    time.tzset()


async def settled(pilot, need_rows: bool = False) -> None:
    """Until the screen's first answer is in: a table screen's rows come from a worker, and a key such as
    enter (open the cursor row) means nothing before them; the picture is of rows, not "loading…"."""
    for i in range(300):
        screen = pilot.app.screen
        if getattr(screen, "data", True) is not None and (getattr(screen, "rows", True) or not need_rows):
            break
        if need_rows and i % 20 == 19:  # an answer from before the world was made: ask again
            pilot.app.refresh_view()
        await pilot.pause(0.01)
    await pilot.pause()


def world(rt, *keys_after: str):
    async def run_before(pilot) -> None:
        for _ in range(POLLS):
            await poll_once(rt.engine)
        pilot.app.refresh_view()
        await settled(pilot, need_rows=True)  # the first screen is Groups: 12 groups, never "loading…"
        for key in keys_after:
            await pilot.press(key)
            pilot.app.refresh_view()
            await settled(pilot)
    return run_before


SCREENS = {
    "groups": (),
    "alerts": ("2",),
    "feed": ("3",),
    "blacklist": ("4",),
    "schedules": ("5",),
    "audit": ("6",),
    "silences": ("7",),
    "group": ("enter",),
    "help": ("2", "question_mark"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_at_80x24(snap_compare, still, name):
    rt, app = still
    assert snap_compare(app, terminal_size=(80, 24), run_before=world(rt, *SCREENS[name]))
