"""Wiring: settings, data dir, store, connectors and engine, shared by every
command (console, watch, report, bench) so each builds the world one way."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connectors.contract import Connector
from console.engine.config import ConfigError, load_settings
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.paths import config_path, data_dir
from console.engine.settings import Settings
from console.engine.store import Store


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: Store
    data_dir: Path
    config_path: Path
    demo: object | None  # the DemoConnector when running on the embedded default
    moderation: "Moderation"

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    def close(self) -> None:
        """Save what changed since the last checkpoint, then release the data dir."""
        try:
            if self.engine.dirty:
                self.engine.checkpoint()
        finally:
            self.store.close()


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


def build_connectors(settings: Settings, *, pace: bool) -> tuple[list[Connector], object | None]:
    if settings.is_demo:
        from connectors.demo import DemoConnector

        d = settings.demo
        demo = DemoConnector(groups=d.groups, seed=d.seed, speed=d.speed, pace=pace)
        return [demo], demo
    unavailable = sorted({c.type for c in settings.connectors})
    raise ConfigError(f"connector type(s) {', '.join(unavailable)} are not available in this version yet; "
                      "remove the [[connector]] tables to run the demo")


def open_runtime(config: str | None, data: str | None, *, groups: int | None = None, seed: int | None = None,
                 speed: float | None = None, pace: bool = True, recover: bool = False,
                 read_only: bool = False) -> Runtime:
    settings, path = load(config, groups=groups, seed=seed, speed=speed)
    base = data_dir(data)
    connectors, demo = build_connectors(settings, pace=pace)
    where = demo_dir(base, settings) if demo is not None else base
    store = Store(where, recover=recover)
    try:
        engine = Engine(settings, connectors, store, clock=demo.now if demo is not None else None)
        engine.restore()
        moderation = Moderation(settings, store, engine, read_only=read_only or settings.actions.read_only)
    except BaseException:
        store.close()
        raise
    return Runtime(settings, engine, store, where, path, demo, moderation)


async def start(rt: Runtime) -> None:
    """First run of a connector: take its groups and members as the starting picture."""
    if any(rt.engine.cursors.get(name) is None for name in rt.engine.connectors):
        await rt.engine.load_snapshots()
    rt.engine.maybe_tick()


async def poll_once(engine: Engine) -> None:
    """Poll each connector once and take in what it returns (the CLI's way to be current)."""
    if any(engine.cursors.get(name) is None for name in engine.connectors):
        await engine.load_snapshots()
    for name, conn in engine.connectors.items():
        batch = await conn.poll(engine.cursors.get(name), 0.0)
        engine.take(name, batch.events, batch.cursor)
    engine.maybe_tick()
