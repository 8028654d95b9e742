"""``groupwatch bench ui``: key-press-to-screen latency of the real console under load.

The console runs headless (Textual's test driver, real compositor) on a demo
fleet of ``--groups`` groups whose pre-generated events are replayed at
``--rate`` events per wall second, while a scripted operator presses keys
across the screens. For each key we time from posting it to the frame that
shows its effect: the first frame composed whose UI state (screen, focus,
cursor row, marks, filter, sort, pause) differs from the state before the key.

The pieces the soak (``bench_soak``) reuses live here too: the paced
connector, the headless runtime, the frame recorder and the timed key press.
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
KEY_TIMEOUT = 3.0  # seconds a key gets to show its effect before it counts as having none
# An operator's tour: move, mark, sort, filter, switch screens, drill in and out, pause.
KEYS = ["down", "down", "space", "up", "s", "s", "S", "slash", "a", "b", "enter", "escape", "escape",
        "2", "down", "space", "down", "space", "escape", "3", "down", "f", "f", "1", "enter", "down", "escape",
        "p", "down", "p", "question_mark", "escape", "end", "home", "4", "6", "1"]


class PacedConnector:
    """Events at a fixed wall-clock rate, delivered every ``SLOT``; actions go to the demo world underneath.

    Subclasses say where the events come from (``_take``)."""

    def __init__(self, demo, rate: float, clock: float) -> None:
        self.demo, self.rate = demo, rate
        self.name, self.platform = demo.name, demo.platform
        self.capabilities = demo.capabilities
        self.idempotent_send, self.max_mentions = True, demo.max_mentions
        self.clock = clock  # the time of the newest event delivered: the engine's "now"
        self._t0: float | None = None
        self.delivered = 0

    def now(self) -> float:
        return self.clock

    def _take(self, n: int) -> list[Event]:
        raise NotImplementedError

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        await asyncio.sleep(SLOT)
        batch = self._take(int((loop.time() - self._t0) * self.rate) - self.delivered)
        if batch:
            self.clock = batch[-1].at
        self.delivered += len(batch)
        return Batch(batch, json.dumps({"pos": self.delivered}))

    def __getattr__(self, name):  # groups, members, send, kick, ban...: the demo world's
        return getattr(self.demo, name)

    def health(self) -> Health:
        return Health()

    async def close(self) -> None:
        pass


class ReplayConnector(PacedConnector):
    """Pre-generated demo events replayed at a fixed wall-clock rate."""

    def __init__(self, demo, events: list[Event], rate: float) -> None:
        super().__init__(demo, rate, events[0].at if events else demo.now())
        self.events = events
        self.pos = 0

    def _take(self, n: int) -> list[Event]:
        batch = self.events[self.pos:self.pos + max(0, n)]
        self.pos += len(batch)
        return batch


def headless_runtime(settings: Settings, connector, data: Path) -> Runtime:
    """The console's wiring, by hand, around one connector and a scratch data dir."""
    store = Store(data)
    engine = Engine(settings, [connector], store, clock=connector.now)
    moderation = Moderation(settings, store, engine)
    return Runtime(settings, engine, store, data, data / "none.toml", connector, moderation)


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
    from textual.css.query import NoMatches

    screen = app.screen
    try:
        table = getattr(screen, "table", None) if hasattr(screen, "refresh_live") else None
    except NoMatches:  # a screen just switched to, not composed yet (a loaded machine)
        table = None
    return (id(screen), len(app.screen_stack), id(app.focused), app.paused,
            table.cursor_key() if table is not None else None,
            len(getattr(screen, "marks", ())), getattr(getattr(screen, "row_filter", None), "text", None),
            getattr(screen, "sort_col", None), getattr(screen, "sort_reverse", None),
            getattr(screen, "flagged_only", None))


class FrameLog:
    """Frames the console composes, each with when and the UI state it shows (since the last ``clear``)."""

    def __init__(self, app) -> None:
        self.app = app
        self.frames: list[tuple[float, float, tuple]] = []  # (wall, this process's CPU, UI state)
        self.last_cpu = 0.0  # CPU seconds this process spent between the last key and its frame
        display = app._display

        def recording_display(screen, renderable) -> None:
            # Headless Textual composes every frame but skips encoding it for the terminal; do that
            # work too (to a string), so the figure includes what a real terminal would cost.
            display(screen, renderable)
            if renderable is not None and not app._batch_count:
                renderable.render_segments(app.console)
                self.frames.append((time.perf_counter(), time.process_time(), ui_state(app)))

        app._display = recording_display

    async def press(self, key: str, timeout: float = KEY_TIMEOUT) -> float | None:
        """Seconds from posting ``key`` to the first frame showing its effect; None if none within ``timeout``."""
        before = ui_state(self.app)
        self.frames.clear()  # only frames after the key count (and a long run must not keep them all)
        t0, cpu0 = time.perf_counter(), time.process_time()
        send_key(self.app, key)
        while time.perf_counter() - t0 < timeout:
            await asyncio.sleep(0.001)
            shown = next(((t, cpu) for t, cpu, state in self.frames if state != before), None)
            if shown is not None:
                # the CPU this process spent meanwhile (its threads too): far below the latency, the
                # key waited for a CPU (a loaded machine) or for the service, not for the console's work
                self.last_cpu = shown[1] - cpu0
                return shown[0] - t0
        return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def latency_figures(latencies: list[float]) -> dict:
    """Percentiles of key latencies, in ms (zeros when no key had a visible effect)."""
    if not latencies:
        return {"latency_ms_p50": 0.0, "latency_ms_p90": 0.0, "latency_ms_p95": 0.0, "latency_ms_p99": 0.0,
                "latency_ms_max": 0.0,
                "under_100ms": 0.0}
    return {
        "latency_ms_p50": ms(statistics.median(latencies)), "latency_ms_p90": ms(pct(latencies, 0.9)),
        "latency_ms_p95": ms(pct(latencies, 0.95)),
        "latency_ms_p99": ms(pct(latencies, 0.99)), "latency_ms_max": ms(max(latencies)),
        "under_100ms": round(sum(1 for v in latencies if v <= 0.1) / len(latencies), 3),
    }


async def measure(app, presses: int, seed: int, warmup: float, size: tuple[int, int]) -> dict:
    """Drive ``app`` through the operator's tour, timing each key from posting to the frame showing it."""
    rng = random.Random(seed)
    latencies: list[float] = []
    per_key: dict[str, list[float]] = {}
    refresh: list[float] = []
    missed = 0
    async with app.run_test(size=size) as pilot:
        frames = FrameLog(app)
        await pilot.pause(warmup)
        ru0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for i in range(presses):
            key = KEYS[i % len(KEYS)]
            await asyncio.sleep(rng.uniform(0.05, 0.2))  # an operator's pace; refreshes land in between
            latency = await frames.press(key)
            if latency is None:
                missed += 1  # the key had no visible effect (say, down on the last row)
                continue
            latencies.append(latency)
            per_key.setdefault(key, []).append(latency)
            refresh.append(app.last_refresh_s)
        wall = time.perf_counter() - wall0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        if app.host is not None:
            app.host.rt.engine.stop()
        await app.workers.wait_for_complete() if app.host is not None else None
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "presses": presses, "measured": len(latencies), "no_visible_effect": missed,
        "terminal": f"{size[0]}x{size[1]}",
        **latency_figures(latencies),
        "console_cpu_percent": round(100 * cpu / wall, 1),
        "refresh_ms_p50": ms(statistics.median(refresh)) if refresh else 0.0,
        "refresh_ms_max": ms(max(refresh)) if refresh else 0.0,
        "slowest_keys": sorted(((k, ms(max(v))) for k, v in per_key.items()), key=lambda kv: -kv[1])[:5],
        "events_per_s_seen": round(app.header.events_per_s) if app.header is not None else 0,
        "_wall": wall,
    }


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
        rt = headless_runtime(settings, replay, Path(tmp))
        app = GroupWatchApp(rt, refresh_seconds=1.0)
        result = await measure(app, presses, seed, warmup, size)
        rows = len(rt.engine.stats.groups)
        rt.store.close()
    result.pop("_wall")
    return {"groups_seen": rows, **result, "peak_rss_mb": round(peak_rss_mb(), 1)}


def ui(groups: int, rate: float, presses: int, seed: int = 7, warmup: float = 5.0,
       size: tuple[int, int] = (80, 24), modes: tuple[str, ...] = ("embedded", "attached"),
       consoles: int = 0) -> dict:
    """Both modes in the same run: the engine in the console's process, and the console attached over
    the socket to a service in a process of its own (two cores); optionally what N attached consoles
    cost the service's ingest."""
    from console.bench import loop_s

    out: dict = {"bench": "ui", "groups": groups, "rate": rate, "loop_s": loop_s()}
    if "embedded" in modes:
        out["embedded"] = asyncio.run(_drive(groups, rate, presses, seed, warmup, size))
    if "attached" in modes:
        from console.bench_attached import attached

        r = attached(groups, rate, presses, seed, warmup, size)
        r.pop("_wall", None)
        out["attached"] = r
    for mode in ("embedded", "attached"):
        if mode in out:
            for k in ("latency_ms_p50", "latency_ms_p95", "latency_ms_p99"):
                out[f"{mode}_{k}"] = out[mode].get(k)
    if consoles:
        from console.bench_attached import ingest_cost

        out["ingest_cost"] = ingest_cost(groups, consoles, 8.0, seed)
    return out
