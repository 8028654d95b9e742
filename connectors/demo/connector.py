"""The demo connector: the simulated fleet behind the ``Connector`` contract.

All behaviour lives in ``World``; this class adds pacing against the wall
clock, cursors, replay of recent batches and idempotent sends.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any, Sequence

from connectors.contract import Capability, ConnectorError, Health, HealthState, SendResult
from connectors.events import Batch, Event, Group, Member

from .world import DEMO_EPOCH, World

REPLAY_KEPT = 16  # recent batches kept, so a caller that crashed before saving its cursor gets them again


class DemoConnector:
    name = "demo"
    platform = "demo"
    capabilities: frozenset[Capability] = frozenset(Capability)
    idempotent_send = True  # a repeated idempotency key is answered, not posted again (like Matrix txnId)
    max_mentions = 10       # mentions per message, as a QQ-like platform would tolerate

    def __init__(self, groups: int = 40, seed: int = 7, speed: float = 60.0, tick_seconds: float = 1.0,
                 pace: bool = True, start: float = DEMO_EPOCH) -> None:
        if speed <= 0 or tick_seconds <= 0:
            raise ValueError("speed and tick_seconds must be positive")
        self.world = World(groups=groups, seed=seed, tick_span=tick_seconds * speed, start=start)
        self._seed = seed
        self.tick_seconds = tick_seconds
        self.pace = pace
        self.received: list[dict[str, Any]] = self.world.received
        self._sent: dict[str, SendResult] = {}
        self._recent: deque[tuple[int, list[Event]]] = deque(maxlen=REPLAY_KEPT)
        self._wall0: float | None = None  # wall (loop) time at which tick 0 ended
        self._since = time.time()

    def now(self) -> float:
        return self.world.now

    @staticmethod
    def _cursor(tick: int) -> str:
        return json.dumps({"v": 1, "tick": tick})

    @staticmethod
    def _parse(cursor: str | None) -> int | None:
        if not cursor:
            return None
        try:
            data = json.loads(cursor)
            tick = data["tick"] if data.get("v") == 1 else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # another connector's cursor, or garbage: start from now
        return tick if isinstance(tick, int) and tick >= 0 else None

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        world = self.world
        want = self._parse(cursor)
        if want is not None and want > world.tick:
            # A restart resumes where it left off: replay the world silently.
            while world.tick < want:
                world.step()
            self._recent.clear()
            self._wall0 = None
        elif want is not None and want < world.tick:
            for tick, events in self._recent:
                if tick == want + 1:
                    return Batch(list(events), self._cursor(tick))
        n = world.tick + 1
        if self.pace:
            loop = asyncio.get_running_loop()
            if self._wall0 is None:
                self._wall0 = loop.time() - world.tick * self.tick_seconds
            wait = self._wall0 + n * self.tick_seconds - loop.time()
            if wait > 0:
                if wait > timeout:
                    await asyncio.sleep(max(0.0, timeout))
                    return Batch([], self._cursor(world.tick))
                await asyncio.sleep(wait)
        events = world.step()
        self._recent.append((n, events))
        return Batch(list(events), self._cursor(n))

    async def groups(self) -> list[Group]:
        return self.world.group_list()

    async def members(self, group_id: str) -> list[Member]:
        return self.world.member_list(group_id)

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        if idempotency_key is not None and idempotency_key in self._sent:
            # Like Matrix's txnId: a retried send is the same send.
            return self._sent[idempotency_key]
        result = SendResult(self.world.send(group_id, text, tuple(mentions), idempotency_key))
        if idempotency_key is not None:
            self._sent[idempotency_key] = result
        return result

    async def kick(self, group_id: str, member_id: str, reason: str = "") -> None:
        self.world.kick(group_id, member_id, reason)

    async def ban(self, group_id: str, member_id: str, reason: str = "", until: float | None = None) -> None:
        self.world.ban(group_id, member_id, reason, until)

    async def unban(self, group_id: str, member_id: str) -> None:
        self.world.unban(group_id, member_id)

    async def delete(self, group_id: str, message_id: str) -> None:
        self.world.delete(group_id, message_id)

    async def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        if seconds < 0:
            raise ConnectorError("mute seconds must not be negative")
        self.world.mute(group_id, member_id, seconds)

    def health(self) -> Health:
        return Health(HealthState.OK, "simulated", self._since)

    async def close(self) -> None:
        self._recent.clear()

    def bench_events(self, count: int) -> list[Event]:
        """At least ``count`` events (whole ticks) from the start, unpaced.

        They come from a twin world built with the same parameters, so this
        connector is left untouched: its ``groups()``/``members()`` snapshot is
        the starting picture these events follow on from.
        """
        w = self.world
        twin = World(groups=len(w.groups), seed=self._seed, tick_span=w.span, start=w.start)
        out: list[Event] = []
        idle = 0
        while len(out) < count and idle < 100_000:
            events = twin.step()
            out.extend(events)
            idle = 0 if events else idle + 1
        return out
