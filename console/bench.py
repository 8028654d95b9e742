"""``groupwatch bench ingest``: events per second through every detector and
the store, and peak memory. Prints machine-readable results."""
from __future__ import annotations

import asyncio
import gc
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from console.engine.engine import Engine
from console.engine.settings import Settings
from console.engine.store import Store

CHUNK = 500  # events per ingest call, about what one poll of a busy fleet returns


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def ingest(groups: int, events: int, seed: int, repeat: int, checkpoint_every: int = 0) -> dict:
    """``checkpoint_every`` N: also checkpoint after every N events, as a running engine does every few
    seconds (0: once, at the end)."""
    from connectors.demo import DemoConnector

    settings = Settings()
    runs = []
    for _ in range(repeat):
        demo = DemoConnector(groups=groups, seed=seed, speed=settings.demo.speed, pace=False)
        t0 = time.perf_counter()
        evs = demo.bench_events(events)
        gen_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp))
            engine = Engine(settings, [demo], store, clock=lambda: now)
            now = evs[0].at if evs else 0.0
            asyncio.run(engine.load_snapshots())
            gc.collect()
            collector = CollectorTime()
            t0 = time.perf_counter()
            checkpoints = []
            tick_s = 0.0
            with collector:
                for i in range(0, len(evs), CHUNK):
                    chunk = evs[i:i + CHUNK]
                    engine.ingest(chunk)
                    now = chunk[-1].at
                    t1 = time.perf_counter()
                    engine.maybe_tick()
                    tick_s += time.perf_counter() - t1
                    if checkpoint_every and (i + CHUNK) % checkpoint_every < CHUNK:
                        engine.checkpoint()
                        checkpoints.append(engine.last_checkpoint_s)
                ingest_s = time.perf_counter() - t0
            engine.checkpoint()
            total_s = time.perf_counter() - t0
            size = (Path(tmp) / "state.json").stat().st_size
            runs.append({"ingest_s": ingest_s, "checkpoint_s": engine.last_checkpoint_s, "total_s": total_s,
                         "tick_s": tick_s, "gc_s": collector.total, "gc_pause_max_s": collector.longest,
                         "checkpoints_s": checkpoints,
                         "generate_s": gen_s, "alerts": len(engine.alerts), "state_bytes": size,
                         "sim_hours": (evs[-1].at - evs[0].at) / 3600 if evs else 0})
            store.close()
        del evs, demo, engine
        gc.collect()
    med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
    return {
        "bench": "ingest", "groups": groups, "events": events, "repeat": repeat,
        "checkpoint_every": checkpoint_every,
        "periodic_checkpoint_s_max": round(max(runs[-1]["checkpoints_s"], default=0.0), 3),
        "events_per_s": round(events / med("total_s")),
        "events_per_s_ingest_only": round(events / med("ingest_s")),
        "events_per_s_runs": [round(events / r["total_s"]) for r in runs],
        "median_total_s": round(med("total_s"), 3), "median_checkpoint_s": round(med("checkpoint_s"), 3),
        # Of the events' time (ingest_s): the ticks' part, and the cyclic garbage collector's (its longest
        # pause too: a full collection holds the event loop as long as a slow checkpoint).
        "median_ingest_s": round(med("ingest_s"), 3), "median_tick_s": round(med("tick_s"), 3),
        "median_gc_s": round(med("gc_s"), 3), "gc_pause_max_s": round(max(r["gc_pause_max_s"] for r in runs), 3),
        "generate_s": round(med("generate_s"), 3), "sim_hours": round(med("sim_hours"), 2),
        "alerts": runs[-1]["alerts"], "state_mb": round(runs[-1]["state_bytes"] / 1e6, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


class CollectorTime:
    """Time spent in Python's cyclic garbage collector while inside the ``with``."""

    def __init__(self) -> None:
        self.total = self.longest = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = time.perf_counter() - self._started
            self.total += spent
            self.longest = max(self.longest, spent)

    def __enter__(self) -> "CollectorTime":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)


def loop_s(repeat: int = 3) -> float:
    """A fixed pure-Python loop (10 million additions), median of ``repeat`` runs: printed beside every
    figure so runs on different machines compare (rate x loop_s / 0.6 is the rate where it takes 0.6 s)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def print_result(result: dict, fmt: str) -> None:
    result = {**result, "loop_s": result.get("loop_s") or loop_s()}
    if fmt == "json":
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>26}: {v}")
