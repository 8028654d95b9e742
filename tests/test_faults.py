"""Faults: one engine, real connectors, peers that fail while it runs.

A Telegram bot keeps delivering while a second bot's server answers 500s and a
Matrix homeserver stalls until reads time out; the faulty ones show degraded or
down with the reason, and both recover by themselves once their peers do,
without a restart. The console stays responsive throughout.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Callable

from connectors.contract import HealthState
from connectors.events import Event
from connectors.matrix import MatrixConnector
from connectors.telegram import TelegramConnector
from console.engine.engine import Engine
from console.engine.moderation import Moderation
from console.engine.settings import Settings
from console.engine.store import Store
from console.runtime import Runtime
from tests.http_fakes import HANG_S, BotApiFake, HomeserverFake

TOKENS = {"healthy": "7100001:AAH-healthy-token-0123456789abcdefXYZ",
          "errors": "7100002:AAH-errors-token-0123456789abcdefXYZ"}
MX_TOKEN = "syt_c2xvdw_matrix_token_0123456789"
BAD = (HealthState.DEGRADED, HealthState.DOWN)


def settings() -> Settings:
    s = Settings()
    s.engine.poll_timeout = 0.5
    s.engine.backoff_start = 0.05  # a fast schedule keeps the test short; the shape is the same as 1 s..60 s
    s.engine.backoff_max = 0.3
    s.store.checkpoint_seconds = 0.5
    return s


class Fleet:
    """Three real connectors, each on its own fake peer, and when each group last delivered an event."""

    def __init__(self) -> None:
        self.healthy = BotApiFake(TOKENS["healthy"], -1001, "Healthy")
        self.errors = BotApiFake(TOKENS["errors"], -1002, "Flaky")
        self.slow = HomeserverFake(MX_TOKEN)
        env = {"HEALTHY": TOKENS["healthy"], "ERRORS": TOKENS["errors"], "MX": MX_TOKEN}
        self.connectors = [
            TelegramConnector.from_settings("healthy", {"token_env": "HEALTHY"}, environ=env,
                                            transport=self.healthy.transport()),
            TelegramConnector.from_settings("errors", {"token_env": "ERRORS"}, environ=env,
                                            transport=self.errors.transport()),
            MatrixConnector.from_settings("slow", {"homeserver": "https://hs.test", "token_env": "MX"}, environ=env,
                                          transport=self.slow.transport()),
        ]
        self.delivered: dict[str, list[float]] = {"telegram:-1001": [], "telegram:-1002": [],
                                                  "matrix:!room:hs.test": []}

    # an engine observer
    def on_event(self, ev: Event) -> None:
        self.delivered.setdefault(ev.group, []).append(time.monotonic())

    def on_tick(self, now: float) -> None:
        pass

    def faults(self, on: bool) -> None:
        self.errors.mode = "500" if on else "ok"
        self.slow.mode = "timeout" if on else "ok"

    def count(self, group: str, since: float = 0.0) -> int:
        return sum(1 for t in self.delivered[group] if t >= since)


async def until(cond: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


def all_flowing(fleet: Fleet, since: float = 0.0, n: int = 3) -> bool:
    return all(fleet.count(g, since) >= n for g in fleet.delivered)


async def test_a_healthy_connector_keeps_delivering_while_others_fail_and_both_recover():
    fleet = Fleet()
    engine = Engine(settings(), fleet.connectors, None)
    engine.observers.append(fleet)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: all_flowing(fleet), 15, "all three connectors to deliver")

        fleet.faults(True)
        fault_at = time.monotonic()
        await until(lambda: all(engine.status[n].health.state in BAD for n in ("errors", "slow")), 15,
                    "the faulty connectors to show their health")
        await asyncio.sleep(2 * HANG_S)  # at least two stalled polls of the Matrix connector
        faults_end = time.monotonic()
        errors, slow = engine.status["errors"].health, engine.status["slow"].health
        assert errors.state in BAD and errors.reason == "telegram getUpdates: Internal Server Error"
        assert slow.state in BAD and slow.reason == "matrix sync: https://hs.test did not answer in time"
        assert engine.status["errors"].failures >= 3 and errors.state is HealthState.DOWN  # repeated 500s
        assert engine.status["healthy"].health.state is HealthState.OK

        healthy = [t for t in fleet.delivered["telegram:-1001"] if fault_at <= t <= faults_end]
        gaps = [b - a for a, b in zip([fault_at, *healthy], [*healthy, faults_end])]
        assert len(healthy) >= 10, f"only {len(healthy)} events from the healthy bot during the faults"
        # A stalled peer holds its request for HANG_S: the healthy bot must never wait on it.
        assert max(gaps) < 0.8 * HANG_S, f"the healthy bot stalled for {max(gaps):.2f} s"
        assert fleet.count("telegram:-1002", fault_at + 0.5) == 0  # nothing is invented while failing

        fleet.faults(False)
        cleared = time.monotonic()
        await until(lambda: all_flowing(fleet, cleared), 15, "the faulty connectors to deliver again")
        await until(lambda: all(st.health.state is HealthState.OK for st in engine.status.values()), 5,
                    "every connector to be healthy again")
        assert not run.done()  # recovered in the same run: no restart
        assert all(engine.status[n].failures == 0 for n in engine.status)
    finally:
        engine.stop()
        await asyncio.wait_for(run, 10)
        for c in fleet.connectors:
            await c.close()


async def test_an_expired_token_is_down_and_named_and_the_others_carry_on():
    fleet = Fleet()
    engine = Engine(settings(), fleet.connectors, None)
    engine.observers.append(fleet)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: all_flowing(fleet), 15, "all three connectors to deliver")
        fleet.errors.mode = "refused"
        refused_at = time.monotonic()
        await until(lambda: engine.status["errors"].health.state is HealthState.DOWN, 10, "the refusal to show")
        assert "the bot token was refused (HTTP 401" in engine.status["errors"].health.reason
        assert TOKENS["errors"] not in engine.status["errors"].health.reason
        await until(lambda: fleet.count("telegram:-1001", refused_at) >= 10
                    and fleet.count("matrix:!room:hs.test", refused_at) >= 10, 10, "the others to carry on")
        fleet.errors.mode = "ok"  # a new token in place (the same one here): it comes back by itself
        back = time.monotonic()
        await until(lambda: fleet.count("telegram:-1002", back) >= 3, 15, "the bot to come back")
        assert engine.status["errors"].health.state is HealthState.OK
    finally:
        engine.stop()
        await asyncio.wait_for(run, 10)
        for c in fleet.connectors:
            await c.close()


async def test_the_console_stays_responsive_and_names_the_failing_connectors(tmp_path: Path):
    from console.app import GroupWatchApp

    fleet = Fleet()
    s = settings()
    store = Store(tmp_path / "data")
    engine = Engine(s, fleet.connectors, store)
    engine.restore()
    engine.observers.append(fleet)
    moderation = Moderation(s, store, engine)
    rt = Runtime(s, engine, store, tmp_path / "data", tmp_path / "none.toml", None, moderation)
    app = GroupWatchApp(rt, refresh_seconds=0.2)

    def status() -> str:
        return str(app.screen.query_one("#status").render())

    async with app.run_test(size=(200, 30)) as pilot:
        async def wait(cond: Callable[[], bool], what: str, timeout: float = 15) -> None:
            end = time.monotonic() + timeout
            while not cond():
                assert time.monotonic() < end, f"timed out waiting for {what}; status: {status()}"
                await pilot.pause(0.05)

        await wait(lambda: all_flowing(fleet), "all three connectors to deliver")
        fleet.faults(True)
        await wait(lambda: "errors:down" in status() and ("slow:degraded" in status() or "slow:down" in status()),
                   "the header to show both faults")
        text = status()
        assert "healthy:ok" in text
        assert "errors:down (telegram getUpdates: Internal Server" in text
        assert "(matrix sync: https://hs.test did not" in text

        from console.bench_ui import send_key

        # Each key press is handled while peers stall. The key is posted as the terminal driver would
        # (Pilot.press also waits for the whole app to go idle, which a failing, retrying connector
        # delays); the bound is loose for busy machines, yet far below a stall (a peer's 1.5 s).
        for expected in (True, False, True):
            started = time.perf_counter()
            send_key(app, "p")
            while app.paused is not expected and time.perf_counter() - started < 5:
                await asyncio.sleep(0.005)
            assert app.paused is expected
            assert time.perf_counter() - started < 1.0
        await wait(lambda: "PAUSED" in status(), "the header to show the pause")

        fleet.faults(False)
        await wait(lambda: all(f"{n}:ok" in status() for n in ("healthy", "errors", "slow")),
                   "the header to show every connector healthy again")
        await pilot.press("q")
    await rt.aclose()
    assert engine.cursors["errors"] is not None and engine.cursors["slow"] is not None
