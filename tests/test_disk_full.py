"""A full disk while running: the last good state stays on disk, nothing is acted on unrecorded,
the operator is told, and everything resumes once there is space again."""
from __future__ import annotations

import asyncio
import errno
import json
import os

import pytest
from rich.text import Text

import console.engine.store as store_mod
from connectors.contract import HealthState
from console.app import GroupWatchApp
from console.service.api import Command
from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.store import Store
from console.runtime import open_runtime
from tests.fakes import ScriptedConnector
from tests.helpers import T0, msg


class Disk:
    """Flip ``full`` to make every state write fail as a full disk does (part written, then ENOSPC)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        real = store_mod._write_all

        def write_all(fd: int, payload: bytes) -> None:
            if self.full:
                os.write(fd, payload[: len(payload) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd, payload)

        monkeypatch.setattr(store_mod, "_write_all", write_all)


class Endless(ScriptedConnector):
    """A message every poll, for ever."""

    async def poll(self, cursor, timeout):
        from connectors.events import Batch

        await asyncio.sleep(0.01)
        n = json.loads(cursor)["n"] + 1 if cursor else 1
        return Batch([msg("fake:g2", "fake:u2", T0 + n)], json.dumps({"n": n}))


class Acknowledging(ScriptedConnector):
    """Like Telegram: polling with a cursor makes the platform forget what came before it."""

    acknowledges_cursor = True


def settings() -> Settings:
    s = Settings()
    s.engine.poll_timeout = 0.05
    s.engine.backoff_start = 0.05
    s.engine.backoff_max = 0.2
    s.store.checkpoint_seconds = 0.1
    return s


async def until(cond, timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < end, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_an_acknowledging_connector_is_held_while_nothing_can_be_saved(tmp_path, monkeypatch):
    disk = Disk(monkeypatch)
    store = Store(tmp_path)
    tg = Acknowledging("tg", [[msg("fake:g1", "fake:u1", T0 + i)] for i in range(20)])
    other = Endless("other", [])
    engine = Engine(settings(), [tg, other], store, clock=lambda: T0)
    runner = asyncio.create_task(engine.run())
    await until(lambda: engine.status["tg"].events >= 2)
    disk.full = True
    await until(lambda: engine.save_error is not None)
    held_at = len(tg.polled_with)
    other_before = engine.status["other"].events
    await asyncio.sleep(0.5)
    # Held: asking again would let the platform drop what only memory holds. The other goes on.
    assert len(tg.polled_with) <= held_at + 1
    assert engine.status["tg"].health.state is HealthState.DEGRADED
    assert "No space left on device" in engine.status["tg"].health.reason
    assert engine.status["other"].events > other_before
    saved = json.loads((tmp_path / "state.json").read_text())  # the last good state, whole
    assert saved
    disk.full = False
    await until(lambda: engine.status["tg"].events == 20 and engine.save_error is None)
    engine.stop()
    await runner
    store.close()
    with Store(tmp_path) as again:
        cursors = {d["connector"]: d["cursor"] for d in again.read_table("state", "cursors")}
        assert json.loads(cursors["tg"])["pos"] == 20


async def test_the_console_says_so_and_sends_nothing_it_cannot_record(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPWATCH_CONFIG", str(tmp_path / "none.toml"))
    disk = Disk(monkeypatch)
    rt = open_runtime(None, str(tmp_path / "data"), groups=6, seed=5, speed=1200, pace=True)
    rt.settings.store.checkpoint_seconds = 0.2
    app = GroupWatchApp(rt, refresh_seconds=0.2)
    async with app.run_test(size=(120, 24)) as pilot:
        await until(lambda: len(rt.engine.stats.groups) == 6)
        groups = sorted(rt.engine.stats.groups)[:2]
        disk.full = True
        await until(lambda: rt.engine.save_error is not None)
        await pilot.pause(0.5)
        header = app.screen.query_one("StatusLine").render()
        assert "NOT SAVED" in (header.plain if isinstance(header, Text) else str(header))
        before = len(rt.demo.received)
        app.act(Command("post", groups, {"text": "notice"}))
        await until(lambda: any("could not save the action record" in n.text for n in app.messages.notes))
        assert len(rt.demo.received) == before  # recorded before sent: unrecorded means unsent
        assert app.is_running
        disk.full = False
        await until(lambda: rt.engine.save_error is None)
        app.act(Command("post", groups, {"text": "notice"}))
        await until(lambda: len([r for r in rt.demo.received if r["action"] == "send"]) == 2)
        await pilot.pause(0.3)
        header = app.screen.query_one("StatusLine").render()
        assert "NOT SAVED" not in (header.plain if isinstance(header, Text) else str(header))
        await pilot.press("q")
    rt.close()
