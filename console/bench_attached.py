"""``groupwatch bench ui`` attached mode, and what attached consoles cost the service.

The service runs in a process of its own (as ``groupwatch serve`` does) on a replayed demo fleet;
the measured console attaches to it over the socket, so engine and UI use two cores. The ingest
cost of consoles is measured with the service saturated (events delivered as fast as it takes them):
events per second taken in with no console attached, then with N consoles refreshing the Groups
view (the largest) and the header every second, as open consoles do.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from connectors.events import Batch

SATURATE_CHUNK = 1000  # events per poll when delivering as fast as the engine takes them


class SaturatingConnector:
    """Pre-generated events, a chunk per poll, no waiting: the engine's own speed is the limit."""

    def __init__(self, replay) -> None:
        self.inner = replay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        await asyncio.sleep(0)  # let the socket and the consoles' queries in between chunks
        r = self.inner
        batch = r.events[r.pos:r.pos + SATURATE_CHUNK]
        r.pos += len(batch)
        r.delivered += len(batch)
        if batch:
            r.clock = batch[-1].at
        else:
            await asyncio.sleep(0.1)  # ran out: idle, as a quiet fleet would
        return Batch(batch, json.dumps({"pos": r.pos}))


def _service(argv: list[str]) -> None:
    """The service process: the replayed fleet, the engine, the service and its socket."""
    p = argparse.ArgumentParser()
    p.add_argument("--groups", type=int)
    p.add_argument("--rate", type=float)
    p.add_argument("--events", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--socket")
    p.add_argument("--data")
    p.add_argument("--saturate", action="store_true")
    a = p.parse_args(argv)
    from connectors.demo import DemoConnector
    from console.bench_ui import ReplayConnector, headless_runtime
    from console.engine.settings import Settings

    settings = Settings()
    settings.demo.groups = a.groups
    demo = DemoConnector(groups=a.groups, seed=a.seed, speed=settings.demo.speed, pace=False)
    replay = ReplayConnector(demo, demo.bench_events(a.events), a.rate)
    conn = SaturatingConnector(replay) if a.saturate else replay
    rt = headless_runtime(settings, conn, Path(a.data))
    asyncio.run(_serve(rt, Path(a.socket)))


async def _serve(rt, path: Path) -> None:
    from console.runtime import start
    from console.service.server import serve
    from console.service.service import Service

    svc = Service(rt)
    await rt.engine.load_snapshots()
    server = await serve(svc, path)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await start(rt)
    svc.start()
    engine = asyncio.get_running_loop().create_task(rt.engine.run())
    print("ready", flush=True)
    await stop.wait()
    rt.engine.stop()
    await server.close()
    await svc.stop()
    engine.cancel()
    rt.store.close()


class ServiceProcess:
    def __init__(self, groups: int, rate: float, events: int, seed: int, saturate: bool = False) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.socket = Path(self.tmp.name) / "gw.sock"
        (Path(self.tmp.name) / "data").mkdir()
        prefix = os.environ.get("GW_BENCH_SERVICE_PREFIX", "").split()  # e.g. a profiler, for a look inside
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "console.bench_attached", "--groups", str(groups), "--rate", str(rate),
             "--events", str(events), "--seed", str(seed), "--socket", str(self.socket),
             "--data", str(Path(self.tmp.name) / "data"), *(["--saturate"] if saturate else [])],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the bench service did not start (exit {self.proc.poll()})")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()


async def _drive_attached(groups: int, rate: float, presses: int, seed: int, warmup: float,
                          size: tuple[int, int]) -> dict:
    from console.app import GroupWatchApp
    from console.bench_ui import measure
    from console.service.remote import RemoteClient

    need = int(rate * (warmup + presses * 0.5 + 30))
    svc = ServiceProcess(groups, rate, need, seed)
    try:
        client = RemoteClient(svc.socket, session="bench")
        await client.connect()
        app = GroupWatchApp(client, refresh_seconds=1.0)
        cpu0, t0 = svc.cpu_s(), time.perf_counter()
        result = await measure(app, presses, seed, warmup, size)
        result["service_cpu_percent"] = round(100 * (svc.cpu_s() - cpu0) / (time.perf_counter() - t0), 1)
        await client.close()
    finally:
        svc.close()
    return result


async def _ingest_cost(groups: int, consoles: int, seconds: float, seed: int) -> dict:
    from console.service.remote import RemoteClient

    svc = ServiceProcess(groups, 1.0, int(60_000 * seconds) + 100_000, seed, saturate=True)
    try:
        probe = RemoteClient(svc.socket, session="bench probe")
        await probe.connect()

        async def total() -> int:
            return (await probe.query("header")).events_total

        async def window() -> tuple[float, float]:
            n0, c0, t0 = await total(), svc.cpu_s(), time.perf_counter()
            await asyncio.sleep(seconds)
            n1, c1, t1 = await total(), svc.cpu_s(), time.perf_counter()
            return (n1 - n0) / (t1 - t0), 100 * (c1 - c0) / (t1 - t0)

        await asyncio.sleep(1.0)  # past the first snapshot
        alone, cpu_alone = await window()
        clients = [RemoteClient(svc.socket, session=f"bench console {i}") for i in range(consoles)]
        for c in clients:
            await c.connect()
        fetched = [0]
        done = asyncio.Event()

        async def console_like(c) -> None:
            while not done.is_set():  # a console on the Groups screen: header and groups every second
                await c.query("header")
                await c.query("groups")
                fetched[0] += 1
                await asyncio.sleep(1.0)

        tasks = [asyncio.create_task(console_like(c)) for c in clients]
        await asyncio.sleep(1.0)
        shared, cpu_shared = await window()
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.close()
        await probe.close()
    finally:
        svc.close()
    return {"ingest_events_per_s_alone": round(alone), f"ingest_events_per_s_with_{consoles}_consoles": round(shared),
            "ingest_cost_percent": round(100 * (1 - shared / alone), 1) if alone else None,
            # events per CPU-second of the service: what the consoles cost the service itself, apart
            # from the CPU their own processes take from it on a small machine
            "service_events_per_cpu_s_alone": round(alone / (cpu_alone / 100)) if cpu_alone else None,
            "service_events_per_cpu_s_shared": round(shared / (cpu_shared / 100)) if cpu_shared else None,
            "service_cost_percent": round(100 * (1 - (shared / cpu_shared) / (alone / cpu_alone)), 1)
            if alone and cpu_alone and cpu_shared else None,
            "service_cpu_percent_alone": round(cpu_alone, 1), "service_cpu_percent_shared": round(cpu_shared, 1),
            "console_refreshes": fetched[0], "consoles": consoles, "window_s": seconds}


def attached(groups: int, rate: float, presses: int, seed: int, warmup: float = 5.0,
             size: tuple[int, int] = (80, 24)) -> dict:
    return asyncio.run(_drive_attached(groups, rate, presses, seed, warmup, size))


def ingest_cost(groups: int, consoles: int, seconds: float, seed: int) -> dict:
    return asyncio.run(_ingest_cost(groups, consoles, seconds, seed))


if __name__ == "__main__":
    _service(sys.argv[1:])
