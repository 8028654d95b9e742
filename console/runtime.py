"""Wiring: settings, data dir, store, connectors and engine, shared by every
command (console, watch, report, bench) so each builds the world one way."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Mapping, TypeVar

from connectors.contract import Connector
from connectors.secrets import scrub
from console.engine import config as config_mod
from console.engine.config import ConfigError, load_settings
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.paths import config_path, data_dir
from console.engine.settings import Settings
from console.engine.store import RecordsDamaged, Store, StoreError, set_aside

STATE_FILES = ("state", "ledger", "moderation")  # the databases whose records are read at start

log = logging.getLogger("groupwatch.runtime")
T = TypeVar("T")
CLOSE_TIMEOUT = 5.0  # seconds a connector gets to close its sessions on the way out


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: Store
    data_dir: Path
    config_path: Path
    demo: object | None  # the DemoConnector when running on the embedded default
    moderation: "Moderation"
    _closing: list = field(default_factory=list, repr=False)  # close tasks scheduled by a sync close()
    _connectors_closed: bool = field(default=False, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    async def close_connectors(self) -> None:
        """Close every connector's sessions (idempotent). Call it from the event loop that used them:
        an httpx client's connections belong to the loop that opened them."""
        if self._connectors_closed:
            return
        self._connectors_closed = True
        await close_all(self.engine.connectors.values())

    async def aclose(self) -> None:
        """``close()`` for async callers: the connectors are closed in this loop first."""
        await self.close_connectors()
        self.close()

    def close(self) -> None:
        """Save what changed since the last checkpoint, close the connectors, release the data dir
        (once: a hang-up closes early, and the command's own ``finally`` closes again)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.engine.dirty:
                self.engine.checkpoint()
        finally:
            try:
                self._close_connectors_sync()
            finally:
                self.store.close()

    def _close_connectors_sync(self) -> None:
        if self._connectors_closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.close_connectors())
            return
        # Called without await from inside a running loop: close there as soon as the caller yields.
        self._closing.append(loop.create_task(self.close_connectors()))


async def then_close(rt: Runtime, aw: Awaitable[T]) -> T:
    """Await ``aw``, then close the connectors in this same loop (for a command's one ``asyncio.run``)."""
    try:
        return await aw
    finally:
        await rt.close_connectors()


async def close_all(connectors) -> None:
    """Close connectors concurrently; one that fails or hangs is logged, never raised."""
    async def close(conn: Connector) -> None:
        # close() is called in here, not in the gather() line: if the loop ends before this task
        # runs, no coroutine is left behind un-awaited.
        try:
            await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, TimeoutError):
            log.warning("connector %s did not close within %g s", conn.name, CLOSE_TIMEOUT)
        except Exception as e:  # closing must never stop the others from closing, nor the exit
            log.warning("connector %s did not close cleanly: %s", conn.name, scrub(str(e)) or type(e).__name__)

    await asyncio.gather(*(close(c) for c in list(connectors)))


def demo_dir(base: Path, s: Settings) -> Path:
    """The demo's state lives apart from real groups', one dir per simulated world."""
    return base / f"demo-seed{s.demo.seed}-groups{s.demo.groups}-speed{s.demo.speed:g}"


def load(config: str | None, *, groups: int | None = None, seed: int | None = None,
         speed: float | None = None) -> tuple[Settings, Path]:
    path = config_path(config)
    settings = load_settings(path, must_exist=config is not None)
    if groups is not None:
        if not 1 <= groups <= 2000:
            raise ConfigError(f"--groups must be between 1 and 2000, got {groups}")
        settings.demo.groups = groups
    if seed is not None:
        settings.demo.seed = seed
    if speed is not None:
        if not 0 < speed <= 100000:
            raise ConfigError(f"--speed must be above 0 and at most 100000, got {speed:g}")
        settings.demo.speed = speed
    return settings, path


def build_connectors(settings: Settings, *, pace: bool = True,
                     environ: Mapping[str, str] | None = None) -> tuple[list[Connector], object | None]:
    """The configured connectors (ConfigError naming file, line and key for a bad table), or, with no
    [[connector]] table, the built-in demo, which is then also returned second."""
    if settings.is_demo:
        from connectors.demo import DemoConnector

        d = settings.demo
        demo = DemoConnector(groups=d.groups, seed=d.seed, speed=d.speed, pace=pace)
        return [demo], demo
    return config_mod.build_connectors(settings.connectors, environ), None


def open_runtime(config: str | None, data: str | None, *, groups: int | None = None, seed: int | None = None,
                 speed: float | None = None, pace: bool = True, recover: bool = False,
                 read_only: bool = False) -> Runtime:
    settings, path = load(config, groups=groups, seed=seed, speed=speed)
    base = data_dir(data)
    connectors, demo = build_connectors(settings, pace=pace)
    where = demo_dir(base, settings) if demo is not None else base
    notes: list[str] = []
    for _ in range(2 * len(STATE_FILES) + 1):  # each file at worst: set aside, then its previous save too
        try:
            store = Store(where, recover=recover)
        except BaseException:
            _close_now(connectors)
            raise
        store.warnings[:0] = notes
        try:
            if demo is not None:
                from connectors.demo.connector import PLATFORM_LOG

                # Under the data dir's lock: one process at a time writes the simulated platform's log.
                store.warnings.extend(demo.attach_log(where / PLATFORM_LOG))
            engine = Engine(settings, connectors, store, clock=demo.now if demo is not None else None)
            engine.restore()
            moderation = Moderation(settings, store, engine, read_only=read_only or settings.actions.read_only)
        except RecordsDamaged as e:
            store.close()
            if not recover:
                _close_now(connectors)
                raise
            notes.append(set_aside(e.path))
            continue
        except BaseException:
            store.close()
            _close_now(connectors)
            raise
        return Runtime(settings, engine, store, where, path, demo, moderation)
    _close_now(connectors)
    raise StoreError(f"the state files in {where} could not be recovered: {'; '.join(notes)}")


def _close_now(connectors: list[Connector]) -> None:
    """Close connectors that were built but never used (so no loop owns their connections yet)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(close_all(connectors))


async def first_picture(rt: Runtime) -> None:
    """Without running the engine (one-shot commands): connectors never polled start from their
    groups' and members' present state."""
    if any(rt.engine.cursors.get(name) is None for name in rt.engine.connectors):
        await rt.engine.load_snapshots()
    rt.engine.maybe_tick()


async def start(rt: Runtime) -> None:
    """Before the engine runs. Each connector's first-run snapshot (its groups and members) is taken
    by its own poll loop, so one slow peer never holds up the others or the console."""
    rt.engine.maybe_tick()


async def poll_once(engine: Engine) -> None:
    """Poll each connector once and take in what it returns (the CLI's way to be current)."""
    if any(engine.cursors.get(name) is None for name in engine.connectors):
        await engine.load_snapshots()
    for name, conn in engine.connectors.items():
        batch = await conn.poll(engine.cursors.get(name), 0.0)
        engine.take(name, batch.events, batch.cursor)
    engine.maybe_tick()
