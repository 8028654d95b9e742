"""``groupwatch bench soak``: the engine and the console, headless, on the demo fleet under load for minutes.

A demo world is stepped on demand (unpaced) and exactly ``--rate`` of its events
are handed to the engine per wall second, ten times a second, while the real
console (Textual's headless driver) refreshes its screens and a scripted
operator presses keys spread over the whole run. By default the service runs in
a process of its own and the console attaches to it over the socket, as
operators run it (``bench_soak_attached``); ``--embedded`` runs both here. At the end the world stops
producing, what it produced is drained, and we report:

* events the world generated, the connector delivered and the engine took
  (all three must be equal: nothing lost or doubled on the way);
* alerts raised, by kind;
* memory (RSS, and Python's allocated blocks) every minute, with its growth
  over the second half, so "flat, not growing with time" can be judged next to
  the state that legitimately grows with simulated time (open alerts, members);
* key-press-to-screen latency percentiles (``bench_ui``'s measure);
* every warning or error logged, and any exception in the app, its workers or
  the event loop.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

from connectors.events import Event
from console.bench import peak_rss_mb
from console.bench_ui import KEYS, FrameLog, PacedConnector, headless_runtime, latency_figures, ms, pct
from console.engine.alerts import Change
from console.engine.settings import Settings

WARMUP = 10.0          # wall seconds after the first events, before measuring: the console settles
MAX_BATCH_SECONDS = 1  # a poll hands over at most a second's worth: a lagging engine shows as falling behind
DRAIN_TIMEOUT = 30.0   # wall seconds the engine gets to take the last events once the world stops
FIRST_MESSAGES = 5     # logged messages quoted in the report (the count covers all of them)
LONG_HOLD_S = 0.008    # a checkpoint's stretch on the loop this long or longer is listed with what it was
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class LiveWorldConnector(PacedConnector):
    """A demo world stepped on demand: ``rate`` events per wall second without holding the run in memory.

    The world's ticks yield events in lumps; what a slot does not take waits in a small buffer for the
    next one. ``generated`` counts every event the world produced, ``delivered`` every one handed out."""

    def __init__(self, demo, rate: float) -> None:
        super().__init__(demo, rate, demo.world.now)
        self.world = demo.world
        self.buffer: deque[Event] = deque()
        self.generated = 0
        self.max_batch = max(1, int(rate * MAX_BATCH_SECONDS))
        self.draining = False  # set at the end: the world stops, the buffer empties at once

    def _take(self, n: int) -> list[Event]:
        buf = self.buffer
        n = len(buf) if self.draining else min(max(0, n), self.max_batch)
        while len(buf) < n:
            events = self.world.step()
            self.generated += len(events)
            buf.extend(events)
        return [buf.popleft() for _ in range(n)]

    @property
    def behind(self) -> int:
        """Events the wall clock asked for that have not been delivered yet (the engine fell behind)."""
        if self._t0 is None:
            return 0
        return max(0, int((asyncio.get_running_loop().time() - self._t0) * self.rate) - self.delivered)


class ProblemLog(logging.Handler):
    """Every warning and error logged anywhere: counted by logger, the first few quoted."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_logger: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.by_logger[record.name] += 1
        if len(self.first) < FIRST_MESSAGES:
            try:
                text = record.getMessage()
            except Exception:  # a bad format string is itself worth reporting, not a crash
                text = str(record.msg)
            self.first.append(f"{record.levelname} {record.name}: {text.splitlines()[0] if text else ''}"[:300])


def memory_sample(engine, demo, live, wall0: float, sim0: float, processed0: int) -> dict:
    """One row of the memory figures: RSS and Python's blocks next to the state that grows with
    simulated time (open alerts, members, the demo world's people)."""
    return {
        "t_s": round(time.perf_counter() - wall0, 1), "rss_mb": round(rss_mb(), 1),
        "py_blocks": sys.getallocatedblocks(),
        "sim_hours": round((live.clock - sim0) / 3600, 2),
        "events": engine.events_total - processed0,
        "open_alerts": len(engine.alerts), "open_incidents": len(engine.incidents),
        "members": sum(len(g.members) for g in engine.stats.groups.values()),
        "world_people": len(demo.world.people),
        "checkpoint_s": round(engine.last_checkpoint_s, 3),  # the latest: grows with the state
    }


async def end_and_drain(live, engine, wall0: float, taken0: int, pause) -> tuple:
    """The figures at the end of the measured time (wall, rusage, simulated clock, events processed, events
    behind, Python blocks, trimmed RSS); then the world stops and the engine gets up to DRAIN_TIMEOUT to
    take what is left (``pause`` waits: the pilot's or asyncio's)."""
    end = (time.perf_counter() - wall0, resource.getrusage(resource.RUSAGE_SELF), live.clock, engine.events_total,
           live.behind, live_blocks(), trimmed_rss_mb())
    live.draining = True
    t_drain = time.perf_counter()
    while engine.events_total - taken0 < live.generated and time.perf_counter() - t_drain < DRAIN_TIMEOUT:
        await pause(0.05)
    return end


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 1e6
    except OSError:  # no /proc (macOS): the peak is the best we have
        return peak_rss_mb()


def live_blocks() -> int:
    """Python's allocated blocks after a full collection (a pause of a second or so on a big fleet:
    taken only before and after the measured stretch)."""
    gc.collect()
    return sys.getallocatedblocks()


def trimmed_rss_mb() -> float | None:
    """RSS once the C allocator has handed back the free memory it can (glibc only; None elsewhere)."""
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return None
    return round(rss_mb(), 1)


def growth_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 3600


class Recorder:
    """What the run observed, filled in as it goes and turned into the report at the end."""

    def __init__(self) -> None:
        self.problems = ProblemLog()
        self.exceptions: list[str] = []
        self.raised: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.when: list[float] = []  # wall seconds into the run of each measured key
        self.per_key: dict[str, list[float]] = {}
        self.refresh: list[float] = []
        self.cpu: list[float] = []  # the console's CPU seconds between each measured key and its frame
        self.missed = 0
        self.samples: list[dict] = []
        self.checkpoints: list[float] = []  # seconds each checkpoint took (the console waits on part of it)
        self.holds: list[float] = []  # the longest each checkpoint held the event loop at once (the rest: a thread)
        self.slices: list[int] = []  # stretches of each checkpoint on the loop (slices and the collection after)
        self.gc_holds: list[float] = []  # the paced garbage collections (after checkpoints and between them)
        self.long_holds: list[tuple[float, str, float, int]] = []  # (when, what, ms, documents) of the long ones

    @contextlib.contextmanager
    def watching(self, loop: asyncio.AbstractEventLoop):
        """Warnings and errors logged anywhere, and exceptions nobody retrieved, while the run lasts."""
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(self.problems)
        if old_level > logging.WARNING:
            root.setLevel(logging.WARNING)

        def on_loop_error(loop, context) -> None:
            exc = context.get("exception")
            self.exceptions.append(f"event loop: {context.get('message', '')}"
                                   + (f": {type(exc).__name__}: {exc}" if exc else ""))

        loop.set_exception_handler(on_loop_error)
        try:
            yield
        finally:
            root.removeHandler(self.problems)
            root.setLevel(old_level)
            loop.set_exception_handler(None)

    def on_alert(self, alert, change: Change) -> None:
        if change is Change.NEW:
            self.raised[alert.kind] += 1

    def timed_checkpoints(self, engine) -> None:
        """Every checkpoint's time, and every stretch it held the event loop: each staging slice (with
        whatever ran inside it: a garbage collection, a wait for the GIL) and the paced garbage collection
        after it (see Engine.on_hold); also the paced collections made between checkpoints."""
        checkpoint_async = engine.checkpoint_async
        current: list[float] = []

        def on_hold(what: str, seconds: float, docs: int) -> None:
            current.append(seconds)
            if seconds >= LONG_HOLD_S:
                self.long_holds.append((round(time.perf_counter(), 3), what, round(1000 * seconds, 1), docs))
            if what == "gc":
                self.gc_holds.append(seconds)

        async def timed() -> None:
            current.clear()
            try:
                await checkpoint_async()
            finally:
                self.checkpoints.append(engine.last_checkpoint_s)
                self.holds.append(max(current, default=0.0))
                self.slices.append(len(current))
                current.clear()

        engine.checkpoint_async = timed
        engine.on_hold = on_hold

    def key(self, key: str, latency: float | None, at: float, refresh_s: float, cpu_s: float = 0.0) -> None:
        if latency is None:
            self.missed += 1  # the key had no visible effect (say, down on the last row)
            return
        self.latencies.append(latency)
        self.cpu.append(cpu_s)
        self.when.append(at)
        self.per_key.setdefault(key, []).append(latency)
        self.refresh.append(refresh_s)

    def key_figures(self, wall: float) -> dict:
        lat, when = self.latencies, self.when
        return {
            "presses": len(lat) + self.missed, "measured": len(lat), "no_visible_effect": self.missed,
            **latency_figures(lat),
            # the same, per half: a console that slows as the run goes on shows here
            "latency_ms_p90_first_half": ms(pct([v for v, t in zip(lat, when) if t < wall / 2], 0.9)),
            "latency_ms_p90_second_half": ms(pct([v for v, t in zip(lat, when) if t >= wall / 2], 0.9)),
            "slowest_keys": sorted(((k, ms(max(v))) for k, v in self.per_key.items()), key=lambda kv: -kv[1])[:5],
            # what the console's process itself spent on the CPU while each key waited for its frame
            "key_cpu_ms_p50": ms(statistics.median(self.cpu)) if self.cpu else 0.0,
            "key_cpu_ms_p95": ms(pct(self.cpu, 0.95)),
            "refresh_ms_p50": ms(statistics.median(self.refresh)) if self.refresh else 0.0,
            "refresh_ms_max": ms(max(self.refresh)) if self.refresh else 0.0,
        }

    def memory_figures(self, wall: float) -> dict:
        samples = self.samples
        middle = min(samples, key=lambda s: abs(s["t_s"] - wall / 2))
        half = [(s["t_s"], s["rss_mb"]) for s in samples if s["t_s"] >= wall / 2]
        start, mid, end = samples[0]["rss_mb"], middle["rss_mb"], samples[-1]["rss_mb"]
        return {
            "rss_mb_start": start, "rss_mb_middle": mid, "rss_mb_end": end,
            "rss_growth_pct_first_half": round(100 * (mid - start) / start, 1) if start else 0.0,
            "rss_growth_pct_second_half": round(100 * (end - mid) / mid, 1) if mid else 0.0,
            "rss_growth_mb_second_half": round(samples[-1]["rss_mb"] - middle["rss_mb"], 1),
            "rss_growth_mb_per_hour_second_half": round(growth_per_hour(half), 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "memory": samples,
        }

    def checkpoint_figures(self) -> dict:
        holds = self.holds
        return {
            "checkpoints": len(self.checkpoints), "checkpoint_s_max": round(max(self.checkpoints, default=0.0), 3),
            # The longest a checkpoint held the event loop at once (keys wait that long on the engine's loop),
            # the first one included; the first one of a fresh data dir stages the whole fleet, so it is also
            # given apart.
            "checkpoint_loop_ms_max": round(1000 * max(holds, default=0.0), 1),
            "checkpoint_loop_ms_first": round(1000 * holds[0], 1) if holds else 0.0,
            "checkpoint_loop_ms_max_after_first": round(1000 * max(holds[1:], default=0.0), 1),
            "checkpoint_loop_ms_p50": round(1000 * statistics.median(holds), 1) if holds else 0.0,
            "checkpoint_loop_ms_p99": round(1000 * pct(holds, 0.99), 1) if holds else 0.0,
            "checkpoint_slices_max": max(self.slices, default=0),
            "gc_paced_ms_max": round(1000 * max(self.gc_holds, default=0.0), 1),
            "gc_paced_ms_p50": round(1000 * statistics.median(self.gc_holds), 1) if self.gc_holds else 0.0,
            # the longest stretches, with what they were ("stage": a slice; "gc": the paced collection)
            "checkpoint_long_holds": sorted(self.long_holds, key=lambda h: -h[2])[:8],
        }

    def problem_figures(self) -> dict:
        return {"logged_problems": sum(self.problems.by_logger.values()),
                "logged_by_logger": dict(self.problems.by_logger), "logged_first": self.problems.first,
                "exceptions": self.exceptions}


async def operator(app, frames: FrameLog, rec: Recorder, rng: random.Random, wall0: float, seconds: float,
                   presses_per_minute: float, sample, every: float) -> None:
    """The scripted operator: keys spread over ``seconds`` from ``wall0``, each timed to the frame that
    shows it; ``sample()`` every ``every`` seconds in between."""
    deadline = wall0 + seconds
    next_sample = wall0
    gap = 60.0 / presses_per_minute if presses_per_minute > 0 else float("inf")
    next_press = wall0 + rng.uniform(0.2, 1.0) * min(gap, seconds / 2) if presses_per_minute > 0 else float("inf")
    presses = 0
    while True:
        now = time.perf_counter()
        if now >= next_sample:
            sample()
            next_sample += every
        if now >= deadline:
            break
        if now >= next_press:
            key = KEYS[presses % len(KEYS)]
            presses += 1
            latency = await frames.press(key)
            rec.key(key, latency, time.perf_counter() - wall0, app.last_refresh_s, frames.last_cpu)
            next_press = time.perf_counter() + rng.uniform(0.5, 1.5) * gap
        await asyncio.sleep(max(0.0, min(next_sample, next_press, deadline) - time.perf_counter()))


async def _soak(groups: int, rate: float, seconds: float, seed: int, presses_per_minute: float,
                size: tuple[int, int], warmup: float, every: float, routes: bool = True, traffic: float = 1.0) -> dict:
    from connectors.demo import DemoConnector
    from textual.worker import WorkerState

    from console.app import GroupWatchApp

    from console.oncall.bench_sink import WebhookSink

    settings = Settings()
    settings.demo.groups = groups
    sink = WebhookSink()  # on-call routes at work during the soak (a webhook on loopback, the consoles)
    settings.routes = sink.routes() if routes else []
    demo = DemoConnector(groups=groups, seed=seed, speed=settings.demo.speed, pace=False)
    demo.world.traffic = traffic
    live = LiveWorldConnector(demo, rate)
    rec = Recorder()
    with rec.watching(asyncio.get_running_loop()), tempfile.TemporaryDirectory() as tmp:
        rt = headless_runtime(settings, live, Path(tmp))
        try:
            engine = rt.engine
            taken0 = engine.events_total  # 0 on a fresh data dir; counted from here regardless
            engine.alerts.subscribe(rec.on_alert)
            rec.timed_checkpoints(engine)
            app = GroupWatchApp(rt, refresh_seconds=1.0)
            async with app.run_test(size=size) as pilot:
                frames = FrameLog(app)
                # Warm-up: the snapshot of the fleet loads, events start flowing, the console settles.
                t_begin = time.perf_counter()
                while live.delivered == 0 and time.perf_counter() - t_begin < 120:
                    await pilot.pause(0.1)
                await pilot.pause(warmup)
                blocks0 = live_blocks()
                sim0, ru0, wall0 = live.clock, resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                processed0 = engine.events_total

                def sample() -> None:
                    rec.samples.append(memory_sample(engine, demo, live, wall0, sim0, processed0))

                await operator(app, frames, rec, random.Random(seed), wall0, seconds, presses_per_minute, sample,
                               every)
                if rec.samples[-1]["t_s"] < seconds - 0.5:
                    sample()  # the end
                wall, ru1, sim1, processed1, behind, blocks1, rss_trimmed = await end_and_drain(
                    live, engine, wall0, taken0, pilot.pause)
                engine_workers = [w for w in app.workers if w.group == "engine"]
                engine_ok = bool(engine_workers) and all(w.state is WorkerState.RUNNING for w in engine_workers)
                for w in app.workers:
                    if w.error is not None:
                        rec.exceptions.append(f"worker {w.name}: {type(w.error).__name__}: {w.error}")
                rt.engine.stop()
                await app.workers.wait_for_complete()
                generated, delivered, processed = live.generated, live.delivered, engine.events_total - taken0
                alerts_open, groups_seen = len(engine.alerts), len(engine.stats.groups)
                incidents_open = len(engine.incidents)
        finally:
            rt.store.close()
            sink.close()

    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "bench": "soak", "groups": groups, "groups_seen": groups_seen, "rate": rate, "seed": seed,
        "traffic": traffic,
        "minutes": round(seconds / 60, 2), "wall_s": round(wall, 1), "sim_hours": round((sim1 - sim0) / 3600, 2),
        "events_generated": generated, "events_delivered": delivered, "events_processed": processed,
        "events_equal": generated == delivered == processed,
        "events_per_s": round((processed1 - processed0) / wall, 1),
        "events_behind_at_end": behind, "sustained": behind <= rate * MAX_BATCH_SECONDS * 2,
        "cpu_percent": round(100 * cpu / wall, 1),
        "alerts_raised": dict(sorted(rec.raised.items())), "alerts_raised_total": sum(rec.raised.values()),
        "alerts_open_end": alerts_open, "incidents_open_end": incidents_open,
        **rec.memory_figures(wall),
        # Live Python objects after a full collection, start and end: growth here is state kept, while RSS
        # also keeps what the allocator holds on to after each checkpoint's transient copy of the state.
        "py_blocks_start": blocks0, "py_blocks_end": blocks1, "rss_mb_end_trimmed": rss_trimmed,
        "terminal": f"{size[0]}x{size[1]}", **rec.key_figures(wall),
        **rec.checkpoint_figures(),
        **rec.problem_figures(), "engine_running_at_end": engine_ok,
        "oncall_webhook_posts": sink.posts,
    }


def soak(groups: int, rate: float, minutes: float, seed: int = 7, presses_per_minute: float = 30.0,
         size: tuple[int, int] = (80, 24), warmup: float | None = None, sample_every: float | None = None,
         routes: bool = True, traffic: float = 1.0, embedded: bool = False) -> dict:
    """Run the soak for ``minutes`` of wall time after a warm-up (``WARMUP``, or a quarter of a shorter
    run). Memory is sampled every minute, or more often so that a run has at least twenty samples.
    ``traffic`` scales the demo's messages per simulated second: at 0.1 the same event rate covers ten
    times the simulated time (days in a few wall minutes: time-bound state, at the same load).

    The service runs in a process of its own and the measured console attaches to it over the socket,
    as operators run it; ``embedded``: both in this process (the console hosting the engine)."""
    seconds = minutes * 60
    warmup = min(WARMUP, seconds / 4) if warmup is None else warmup
    every = sample_every or min(60.0, max(1.0, seconds / 20))
    if embedded:
        result = asyncio.run(_soak(groups, rate, seconds, seed, presses_per_minute, size, warmup, every, routes,
                                   traffic))
    else:
        from console.bench_soak_attached import attached_soak

        result = asyncio.run(attached_soak(groups, rate, seconds, seed, presses_per_minute, size, warmup, every,
                                           routes, traffic))
    return {"mode": "embedded" if embedded else "attached", **result}
