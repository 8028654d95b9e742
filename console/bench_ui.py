"""``groupwatch bench ui``: key-press-to-screen latency of the real console under load.

The console runs headless (Textual's test driver, real compositor) on a demo
fleet of ``--groups`` groups whose pre-generated events are replayed at
``--rate`` events per wall second, while a scripted operator presses keys
across the screens. For each key we time from posting it to the frame that
shows its effect: the first frame composed whose UI state (screen, focus,
cursor row, marks, filter, sort, pause) differs from the state before the key.
"""
from __future__ import annotations

import asyncio
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from connectors.contract import Health
from connectors.events import Batch, Event
from console.bench import peak_rss_mb
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.store import Store
from console.runtime import Runtime

SLOT = 0.1  # the replay delivers events ten times a second, like a busy long poll
# An operator's tour: move, mark, sort, filter, switch screens, drill in and out, pause.
KEYS = ["down", "down", "space", "up", "s", "s", "S", "slash", "a", "b", "enter", "escape", "escape",
        "2", "down", "space", "down", "space", "escape", "3", "down", "f", "f", "1", "enter", "down", "escape",
        "p", "down", "p", "question_mark", "escape", "end", "home", "4", "6", "1"]


class ReplayConnector:
    """The demo's events at a fixed wall-clock rate; actions go to the demo world underneath."""

    def __init__(self, demo, events: list[Event], rate: float) -> None:
        self.demo, self.events, self.rate = demo, events, rate
        self.name, self.platform = demo.name, demo.platform
        self.capabilities = demo.capabilities
        self.idempotent_send, self.max_mentions = True, demo.max_mentions
        self.pos = 0
        self.clock = events[0].at if events else demo.now()
        self._t0: float | None = None
        self.delivered = 0

    def now(self) -> float:
        return self.clock

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        await asyncio.sleep(SLOT)
        due = min(len(self.events), int((loop.time() - self._t0) * self.rate))
        batch = self.events[self.pos:due]
        self.pos = max(self.pos, due)
        if batch:
            self.clock = batch[-1].at
        self.delivered += len(batch)
        return Batch(batch, json.dumps({"pos": self.pos}))

    def __getattr__(self, name):  # groups, members, send, kick, ban...: the demo world's
        return getattr(self.demo, name)

    def health(self) -> Health:
        return Health()

    async def close(self) -> None:
        pass


def send_key(app, key: str) -> None:
    """Post a key as the terminal driver would (Pilot.press would also wait for the app to go idle,
    which under a live event stream it never quite does)."""
    import unicodedata

    from textual import events
    from textual.keys import _get_unicode_name_from_key

    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


def ui_state(app) -> tuple:
    """What a key press can change that the operator sees: the key has taken effect once this differs."""
    screen = app.screen
    table = getattr(screen, "table", None) if hasattr(screen, "refresh_live") else None
    return (id(screen), len(app.screen_stack), id(app.focused), app.paused,
            table.cursor_key() if table is not None else None,
            len(getattr(screen, "marks", ())), getattr(getattr(screen, "row_filter", None), "text", None),
            getattr(screen, "sort_col", None), getattr(screen, "sort_reverse", None),
            getattr(screen, "flagged_only", None))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def _drive(groups: int, rate: float, presses: int, seed: int, warmup: float, size: tuple[int, int]) -> dict:
    from connectors.demo import DemoConnector
    from console.app import GroupWatchApp

    settings = Settings()
    settings.demo.groups = groups
    demo = DemoConnector(groups=groups, seed=seed, speed=settings.demo.speed, pace=False)
    # enough events for the whole run at the rate, with room to spare
    per_press = 0.25
    need = int(rate * (warmup + presses * per_press * 2 + 10))
    events = demo.bench_events(need)
    replay = ReplayConnector(demo, events, rate)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        engine = Engine(settings, [replay], store, clock=replay.now)
        moderation = Moderation(settings, store, engine)
        rt = Runtime(settings, engine, store, Path(tmp), Path(tmp) / "none.toml", replay, moderation)
        app = GroupWatchApp(rt, refresh_seconds=1.0)
        frames: list[tuple[float, tuple]] = []  # (when composed, the UI state it shows)
        rng = random.Random(seed)
        latencies: list[float] = []
        per_key: dict[str, list[float]] = {}
        async with app.run_test(size=size) as pilot:
            display = app._display

            def recording_display(screen, renderable) -> None:
                # Headless Textual composes every frame but skips encoding it for the terminal; do that
                # work too (to a string), so the figure includes what a real terminal would cost.
                display(screen, renderable)
                if renderable is not None and not app._batch_count:
                    renderable.render_segments(app.console)
                    frames.append((time.perf_counter(), ui_state(app)))

            app._display = recording_display
            await pilot.pause(warmup)
            ru0, wall0, delivered0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), replay.delivered
            refresh: list[float] = []
            missed = 0
            for i in range(presses):
                key = KEYS[i % len(KEYS)]
                await asyncio.sleep(rng.uniform(0.05, 0.2))  # an operator's pace; refreshes land in between
                before = ui_state(app)
                n0 = len(frames)
                t0 = time.perf_counter()
                send_key(app, key)
                shown = None
                while shown is None and time.perf_counter() - t0 < 3.0:
                    await asyncio.sleep(0.001)
                    shown = next((t for t, state in frames[n0:] if state != before), None)
                if shown is None:
                    missed += 1  # the key had no visible effect (say, down on the last row)
                    continue
                latencies.append(shown - t0)
                per_key.setdefault(key, []).append(shown - t0)
                refresh.append(app.last_refresh_s)
            wall = time.perf_counter() - wall0
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            delivered = replay.delivered - delivered0
            rows = sum(1 for _ in engine.stats.groups)
            rt.engine.stop()
            await app.workers.wait_for_complete()
        store.close()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    return {
        "bench": "ui", "groups": groups, "groups_seen": rows, "rate": rate, "presses": presses,
        "measured": len(latencies), "no_visible_effect": missed,
        "terminal": f"{size[0]}x{size[1]}",
        "latency_ms_p50": ms(statistics.median(latencies)), "latency_ms_p90": ms(_pct(latencies, 0.9)),
        "latency_ms_p99": ms(_pct(latencies, 0.99)), "latency_ms_max": ms(max(latencies)),
        "under_100ms": round(sum(1 for v in latencies if v <= 0.1) / len(latencies), 3),
        "events_per_s_delivered": round(delivered / wall), "cpu_percent": round(100 * cpu / wall, 1),
        "refresh_ms_p50": ms(statistics.median(refresh)), "refresh_ms_max": ms(max(refresh)),
        "slowest_keys": sorted(((k, ms(max(v))) for k, v in per_key.items()), key=lambda kv: -kv[1])[:5],
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def ui(groups: int, rate: float, presses: int, seed: int = 7, warmup: float = 5.0,
       size: tuple[int, int] = (80, 24)) -> dict:
    return asyncio.run(_drive(groups, rate, presses, seed, warmup, size))
