"""``groupwatch bench soak`` as operators run it: the service in a process of its own (as ``groupwatch
serve`` runs) and the measured console attached to it over the socket.

The service process (``run``, this module's main) steps the live demo world at ``--rate`` events per wall second into the engine, serves the socket the
measured console attaches to, and records what only the service can see: events generated, delivered
and taken; alerts raised; its own memory every sample; how long checkpoints held its event loop; every
warning logged and every exception. The parent drives it with lines on stdin:

* ``start``: the measured stretch begins (memory is sampled from here on);
* ``stop``: the world stops, what it produced is drained, the figures are written as JSON to ``--out``
  and ``done`` is printed;
* end of input: the process leaves.

The console (``attached_soak``, in the caller's process) times the scripted operator's keys and
samples its own memory; the two halves' figures are merged into one result.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from console.bench import peak_rss_mb
from console.bench_soak import DRAIN_TIMEOUT, MAX_BATCH_SECONDS, LiveWorldConnector, Recorder, end_and_drain, \
    live_blocks, memory_sample, operator, rss_mb

START_TIMEOUT = 300.0  # seconds the service process gets to build the world and open its socket


def arguments(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m console.bench_soak_service")
    p.add_argument("--groups", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--traffic", type=float, default=1.0)
    p.add_argument("--every", type=float, required=True, help="seconds between memory samples")
    p.add_argument("--socket", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--no-routes", action="store_true")
    p.add_argument("--data", help="the data dir (default: a scratch one, removed at the end)")
    return p.parse_args(argv)


async def _lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run(a: argparse.Namespace) -> None:
    from connectors.demo import DemoConnector
    from console.bench_ui import headless_runtime
    from console.engine.settings import Settings
    from console.oncall.bench_sink import WebhookSink
    from console.runtime import start
    from console.service.server import serve
    from console.service.service import Service

    settings = Settings()
    settings.demo.groups = a.groups
    sink = WebhookSink()  # on-call routes at work during the soak (a webhook on loopback, the consoles)
    settings.routes = [] if a.no_routes else sink.routes()
    demo = DemoConnector(groups=a.groups, seed=a.seed, speed=settings.demo.speed, pace=False)
    demo.world.traffic = a.traffic
    live = LiveWorldConnector(demo, a.rate)
    rec = Recorder()
    loop = asyncio.get_running_loop()
    with rec.watching(loop), tempfile.TemporaryDirectory() as tmp:
        rt = headless_runtime(settings, live, Path(a.data or tmp))
        try:
            engine = rt.engine
            engine.alerts.subscribe(rec.on_alert)
            rec.timed_checkpoints(engine)
            svc = Service(rt)
            await engine.load_snapshots()
            taken0 = engine.events_total
            server = await serve(svc, Path(a.socket))
            await start(rt)
            svc.start()
            engine_task = loop.create_task(engine.run())
            commands = await _lines()
            print("ready", flush=True)

            if (await commands.readline()).strip() != b"start":
                return
            blocks0 = live_blocks()
            print("started", flush=True)  # after the full collection: the keys must not wait on it
            sim0, ru0, wall0 = live.clock, resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            processed0 = engine.events_total

            traced = Traced()

            def sample() -> None:
                rec.samples.append(memory_sample(engine, demo, live, wall0, sim0, processed0))
                traced.sample()

            async def sampling() -> None:
                while True:
                    sample()
                    await asyncio.sleep(a.every)

            sampler = loop.create_task(sampling())
            await commands.readline()  # "stop" (or the parent went away: report anyway)
            sampler.cancel()
            sample()  # the end
            wall, ru1, sim1, processed1, behind, blocks1, rss_trimmed = await end_and_drain(
                live, engine, wall0, taken0, asyncio.sleep)
            engine_ok = not engine_task.done()
            if engine_task.done() and engine_task.exception() is not None:
                exc = engine_task.exception()
                rec.exceptions.append(f"engine: {type(exc).__name__}: {exc}")
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            generated, delivered, processed = live.generated, live.delivered, engine.events_total - taken0
            result = {
                "groups_seen": len(engine.stats.groups), "wall_s": round(wall, 1),
                "sim_hours": round((sim1 - sim0) / 3600, 2),
                "events_generated": generated, "events_delivered": delivered, "events_processed": processed,
                "events_equal": generated == delivered == processed,
                "events_per_s": round((processed1 - processed0) / wall, 1),
                "events_behind_at_end": behind, "sustained": behind <= a.rate * MAX_BATCH_SECONDS * 2,
                "cpu_percent": round(100 * cpu / wall, 1),
                "alerts_raised": dict(sorted(rec.raised.items())), "alerts_raised_total": sum(rec.raised.values()),
                "alerts_open_end": len(engine.alerts), "incidents_open_end": len(engine.incidents),
                **rec.memory_figures(wall),
                "py_blocks_start": blocks0, "py_blocks_end": blocks1, "rss_mb_end_trimmed": rss_trimmed,
                **rec.checkpoint_figures(), **rec.problem_figures(), "engine_running_at_end": engine_ok,
                "oncall_webhook_posts": sink.posts, **traced.figures(),
            }
            Path(a.out).write_text(json.dumps(result))
            print("done", flush=True)
            await commands.read()  # until the parent closes our input: its console detaches first
            engine.stop()
            await server.close()
            await svc.stop()
            await asyncio.wait_for(asyncio.gather(engine_task, return_exceptions=True), 10)
        finally:
            rt.store.close()
            sink.close()


class Traced:
    """With ``PYTHONTRACEMALLOC`` set for the service (``GW_BENCH_SERVICE_PREFIX="env PYTHONTRACEMALLOC=1"``):
    the source lines whose live allocations grew most between the first sample and the last, and
    what the cyclic collector would free at the end (frozen or not). A look inside, three times slower.
    ``GW_BENCH_TRACE_FROM``: the wall seconds into the measured stretch of the snapshot compared with (0: the
    first sample; later, to see what still grows once the queues are full)."""

    LINES = 25

    def __init__(self) -> None:
        import tracemalloc

        self.tracemalloc = tracemalloc
        self.first = self.last = None
        self.since = float(os.environ.get("GW_BENCH_TRACE_FROM", "0") or 0)
        self.t0 = time.perf_counter()

    def sample(self) -> None:
        if self.tracemalloc.is_tracing() and time.perf_counter() - self.t0 >= self.since:
            snap = self.tracemalloc.take_snapshot()
            if self.first is None:
                self.first = snap
            else:
                self.last = snap

    def figures(self) -> dict:
        if self.first is None or self.last is None:
            return {}
        import gc
        from collections import Counter

        grew = [f"{d.traceback[0].filename.rsplit('/', 1)[-1]}:{d.traceback[0].lineno} {d.size_diff / 1e6:+.2f} MB "
                f"{d.count_diff:+d}" for d in self.last.compare_to(self.first, "lineno")[:self.LINES]]
        top = [f"{s.traceback[0].filename.rsplit('/', 1)[-1]} {s.size / 1e6:.1f} MB"
               for s in self.last.statistics("filename")[:self.LINES]]
        self.first = self.last = None
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            young = Counter(type(o).__name__ for o in gc.garbage)
            gc.garbage.clear()
            gc.unfreeze()
            gc.collect()
            frozen = Counter(type(o).__name__ for o in gc.garbage)
            gc.garbage.clear()
        finally:
            gc.set_debug(0)
        return {"traced_growth": grew, "traced_by_file": top, "garbage_young": young.most_common(12),
                "garbage_frozen": frozen.most_common(12)}


async def _line(proc: asyncio.subprocess.Process, want: str, timeout: float) -> None:
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if line.strip() != want.encode():
        raise RuntimeError(f"the soak's service process said {line.strip()!r}, not {want!r} "
                           f"(exit {proc.returncode})")


async def _say(proc: asyncio.subprocess.Process, word: str) -> None:
    proc.stdin.write(word.encode() + b"\n")
    await proc.stdin.drain()


async def attached_soak(groups: int, rate: float, seconds: float, seed: int, presses_per_minute: float,
                        size: tuple[int, int], warmup: float, every: float, routes: bool, traffic: float) -> dict:
    """The service in a child process, this process's console attached to it, the keys timed here."""
    from textual.worker import WorkerState

    from console.app import GroupWatchApp
    from console.bench_ui import FrameLog
    from console.service.remote import RemoteClient

    rec = Recorder()  # the console's side: its keys, what it logged, its exceptions
    console_memory: list[dict] = []
    loop = asyncio.get_running_loop()
    with rec.watching(loop), tempfile.TemporaryDirectory() as tmp:
        sock, out = Path(tmp) / "gw.sock", Path(tmp) / "service.json"
        prefix = os.environ.get("GW_BENCH_SERVICE_PREFIX", "").split()  # e.g. a profiler, for a look inside
        proc = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, "-m", "console.bench_soak_attached", "--groups", str(groups), "--rate", str(rate),
            "--seed", str(seed), "--traffic", str(traffic), "--every", str(every), "--socket", str(sock),
            "--out", str(out), *([] if routes else ["--no-routes"]),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            await _line(proc, "ready", START_TIMEOUT)
            client = RemoteClient(sock, session="bench soak")
            await client.connect()
            app = GroupWatchApp(client, refresh_seconds=1.0)
            async with app.run_test(size=size) as pilot:
                frames = FrameLog(app)
                # Warm-up: events start flowing, the console settles.
                t_begin = time.perf_counter()
                while (app.header is None or not app.header.events_total) and time.perf_counter() - t_begin < 120:
                    await pilot.pause(0.1)
                await pilot.pause(warmup)
                await _say(proc, "start")
                await _line(proc, "started", 120)
                ru0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()

                def sample() -> None:
                    console_memory.append({"t_s": round(time.perf_counter() - wall0, 1), "rss_mb": round(rss_mb(), 1)})

                await operator(app, frames, rec, random.Random(seed), wall0, seconds, presses_per_minute, sample,
                               every)
                sample()
                wall = time.perf_counter() - wall0
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
                await _say(proc, "stop")  # the console stays attached while the service drains
                await _line(proc, "done", DRAIN_TIMEOUT + 120)
                for w in app.workers:
                    if w.error is not None and w.state is WorkerState.ERROR:
                        rec.exceptions.append(f"worker {w.name}: {type(w.error).__name__}: {w.error}")
            await client.close()
        finally:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except (asyncio.TimeoutError, TimeoutError):
                proc.kill()
                await proc.wait()
        service = json.loads(out.read_text())
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    console_problems = rec.problem_figures()
    service["logged_problems"] += console_problems["logged_problems"]
    service["logged_by_logger"].update({f"console {k}": v for k, v in console_problems["logged_by_logger"].items()})
    service["logged_first"] += [f"console {m}" for m in console_problems["logged_first"]]
    service["exceptions"] += [f"console {m}" for m in console_problems["exceptions"]]
    rss = [m["rss_mb"] for m in console_memory]
    return {
        "bench": "soak", "groups": groups, "rate": rate, "seed": seed, "traffic": traffic,
        "minutes": round(seconds / 60, 2), **service,
        "terminal": f"{size[0]}x{size[1]}", **rec.key_figures(wall),
        "console_cpu_percent": round(100 * cpu / wall, 1),
        "console_rss_mb_start": rss[0], "console_rss_mb_end": rss[-1], "console_peak_rss_mb": round(peak_rss_mb(), 1),
    }


if __name__ == "__main__":
    asyncio.run(run(arguments(sys.argv[1:])))
