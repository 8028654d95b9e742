"""Where the service's memory goes over a soak: the service half of ``bench soak`` (engine, on-call
routes, the service's pulse), no console, the demo world at ``--rate`` events per wall second.

Prints a JSON line per sample (RSS, Python's blocks, the glibc arenas' figures, the big structures'
sizes) and, with ``--trace N``, the N lines whose allocations grew most between the first sample
and each later one (tracemalloc: about three times slower). A tool for finding leaks, not a benchmark.

    .venv/bin/python tools/memory_soak.py --groups 1000 --rate 2000 --minutes 3 --traffic 0.3
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def arguments(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--groups", type=int, default=1000)
    p.add_argument("--rate", type=float, default=500)
    p.add_argument("--minutes", type=float, default=3)
    p.add_argument("--traffic", type=float, default=1.0)
    p.add_argument("--every", type=float, default=30)
    p.add_argument("--trace", type=int, default=0)
    p.add_argument("--trace-from", type=int, default=0, help="the sample whose snapshot later ones compare with")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--garbage", action="store_true", help="at the end: what cycles the collector would free")
    return p.parse_args(argv)


def mallinfo() -> dict:
    try:
        libc = ctypes.CDLL(None)

        class MI2(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in
                        ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                         "fordblks", "keepcost")]
        libc.mallinfo2.restype = MI2
        mi = libc.mallinfo2()
        return {"malloc_arena_mb": round(mi.arena / 1e6, 1), "malloc_mmap_mb": round(mi.hblkhd / 1e6, 1),
                "malloc_used_mb": round(mi.uordblks / 1e6, 1), "malloc_free_mb": round(mi.fordblks / 1e6, 1)}
    except (OSError, AttributeError):
        return {}


def sizes(engine, demo) -> dict:
    st = engine.store
    out = {}
    try:
        js = st._journals.get("state")
    except Exception:
        js = None
    tables = getattr(js, "tables", None)
    if tables:
        with js.lock:  # (the committing thread changes them)
            out["journal_docs"] = sum(len(t) for t in tables.values())
            out["journal_text_mb"] = round(sum(len(x) for t in tables.values() for x in t.values()) / 1e6, 1)
    out["members"] = sum(len(g.members) for g in engine.stats.groups.values())
    out["members_present"] = sum(g.present_count for g in engine.stats.groups.values())
    out["world_people"] = len(demo.world.people)
    out["alerts_open"] = len(engine.alerts)
    out["alerts_history"] = len(getattr(engine.alerts, "history", ()) or ())
    out["incidents"] = len(engine.incidents)
    out["alerts_expired_keys"] = len(getattr(engine.alerts, "_expired", ()))
    out["gc_objects"] = len(gc.get_objects())
    return out


async def main(a) -> None:
    from connectors.demo import DemoConnector
    from console.bench_soak import LiveWorldConnector, rss_mb
    from console.bench_ui import headless_runtime
    from console.engine.settings import Settings
    from console.oncall.bench_sink import WebhookSink
    from console.runtime import start
    from console.service.service import Service

    if a.trace:
        tracemalloc.start(1)
    settings = Settings()
    settings.demo.groups = a.groups
    sink = WebhookSink()
    settings.routes = sink.routes()
    demo = DemoConnector(groups=a.groups, seed=a.seed, speed=settings.demo.speed, pace=False)
    demo.world.traffic = a.traffic
    live = LiveWorldConnector(demo, a.rate)
    with tempfile.TemporaryDirectory() as tmp:
        rt = headless_runtime(settings, live, Path(tmp))
        engine = rt.engine
        svc = Service(rt)
        await engine.load_snapshots()
        await start(rt)
        svc.start()
        task = asyncio.get_running_loop().create_task(engine.run())
        t0 = time.perf_counter()
        sim0 = live.clock
        first = None
        samples = 0
        end = t0 + a.minutes * 60
        while True:
            await asyncio.sleep(min(a.every, max(0.0, end - time.perf_counter())))
            row = {"t_s": round(time.perf_counter() - t0), "sim_h": round((live.clock - sim0) / 3600, 1),
                   "events": engine.events_total, "rss_mb": round(rss_mb(), 1),
                   "py_blocks": sys.getallocatedblocks(), **mallinfo(), **sizes(engine, demo)}
            if a.trace:
                snap = tracemalloc.take_snapshot()
                samples += 1
                if first is None:
                    if samples > a.trace_from:
                        first = snap
                else:
                    diff = snap.compare_to(first, "lineno")[:a.trace]
                    row["grew"] = [f"{d.traceback[0].filename.split('/')[-1]}:{d.traceback[0].lineno} "
                                   f"{d.size_diff / 1e6:+.1f}MB {d.count_diff:+d}" for d in diff]
                by_file = snap.statistics("filename")
                row["traced_mb"] = round(sum(s.size for s in by_file) / 1e6, 1)
                row["files"] = [f"{s.traceback[0].filename.split('/')[-1]} {s.size / 1e6:.1f}MB" for s in by_file[:a.trace]]
                row["top"] = [f"{s.traceback[0].filename.split('/')[-1]}:{s.traceback[0].lineno} "
                              f"{s.size / 1e6:.1f}MB {s.count}" for s in snap.statistics("lineno")[:a.trace]]
            print(json.dumps(row), flush=True)
            if time.perf_counter() >= end:
                break
        if a.garbage:
            from collections import Counter
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
            young = gc.collect()
            kinds = Counter(type(o).__name__ for o in gc.garbage)
            gc.garbage.clear()
            gc.unfreeze()
            frozen = gc.collect()
            kinds_frozen = Counter(type(o).__name__ for o in gc.garbage)
            gc.garbage.clear()
            gc.set_debug(0)
            print(json.dumps({"garbage_young": young, "young_kinds": kinds.most_common(15),
                              "garbage_frozen": frozen, "frozen_kinds": kinds_frozen.most_common(25)}), flush=True)
        engine.stop()
        await svc.stop()
        await asyncio.gather(task, return_exceptions=True)
        gc.collect()
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass
        print(json.dumps({"end_trimmed_rss_mb": round(rss_mb(), 1), **mallinfo()}), flush=True)
        rt.store.close()
        sink.close()


if __name__ == "__main__":
    asyncio.run(main(arguments(sys.argv[1:])))
