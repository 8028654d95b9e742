"""The demo connector: the simulated fleet behind the ``Connector`` contract.

All behaviour lives in ``World``; this class adds pacing against the wall
clock, cursors, replay of recent batches, idempotent sends and the platform's
own log (see :meth:`DemoConnector.attach_log`).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, Sequence

from connectors.contract import Capability, ConnectorError, Health, HealthState, MediaTooLarge, SendResult
from connectors.events import Batch, Event, Group, Media, Member

from .images import image_bytes
from .world import DEMO_EPOCH, World

# Recent batches kept, so a caller that crashed before saving its cursor gets them again
# (a real platform keeps hours; the engine checkpoints every few seconds).
REPLAY_KEPT = 256
PLATFORM_LOG = "demo-platform.jsonl"

log = logging.getLogger("groupwatch.demo")


class DemoConnector:
    name = "demo"
    platform = "demo"
    capabilities: frozenset[Capability] = frozenset(Capability)
    idempotent_send = True  # a repeated idempotency key is answered, not posted again (like Matrix txnId)
    max_mentions = 10       # mentions per message, as a QQ-like platform would tolerate
    media_inline = True     # images are made in memory at once: the engine checks them before the next poll
    acknowledges_cursor = False

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
        self._log_fd: int | None = None

    def attach_log(self, path: Path) -> list[str]:
        """Keep the platform's side on disk: every call it received, one JSON line each.

        A real platform outlives the console; the simulated one is rebuilt from its seed at each
        start. Replaying this log (each call at the tick it arrived) rebuilds the world the operator
        left, bans and all, and remembers the idempotency keys of sends, so a send retried after a
        crash is answered, not posted again. It is also the record a crash test checks the ledger
        against. Returns warnings (a damaged line is skipped, never fatal)."""
        if self._log_fd is not None:
            return []  # attached already (a start that went back for a damaged state file)
        warnings: list[str] = []
        records: list[dict[str, Any]] = []
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        lines = raw.split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or not isinstance(rec.get("tick"), int):
                    raise ValueError("not a record")
            except ValueError:
                if n == len(lines):
                    break  # a line cut short by a crash mid-write: that call never finished
                warnings.append(f"{path}:{n}: damaged line skipped")
                continue
            records.append(rec)
        self._replay(records)
        if raw and not raw.endswith(b"\n"):
            # Drop the torn tail so the next line starts clean.
            with open(path, "r+b") as f:
                f.truncate(raw.rfind(b"\n") + 1)
        self._log_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.world.on_record = self._append
        return warnings

    def _append(self, rec: dict[str, Any]) -> None:
        # One write() per call: a SIGKILL of this process cannot lose or tear a line the kernel took,
        # which is the platform's guarantee being modelled (no fsync: a power cut is not the point).
        assert self._log_fd is not None
        os.write(self._log_fd, (json.dumps(rec, ensure_ascii=True) + "\n").encode())

    def _replay(self, records: list[dict[str, Any]]) -> None:
        """Step the world up to the last logged call, making each call again at its tick."""
        world, i = self.world, 0
        records = sorted(records, key=lambda r: r["tick"])  # stable: arrival order within a tick
        while i < len(records):
            while i < len(records) and records[i]["tick"] <= world.tick:
                try:
                    self._redo(records[i])
                except (ConnectorError, KeyError, TypeError, ValueError) as e:
                    log.warning("demo platform log: call %d not replayed: %s", i + 1, e)
                i += 1
            if i < len(records):
                n = world.tick + 1
                self._recent.append((n, world.step()))

    def _redo(self, r: dict[str, Any]) -> None:
        w, g, m = self.world, r["group"], r.get("member")
        kind = r["action"]
        if kind == "send":
            key = r.get("key")
            if key is not None and key in self._sent:
                w._record("send", g, True, text=r.get("text"), mentions=list(r.get("mentions") or ()), key=key)
                return
            result = SendResult(w.send(g, r.get("text") or "", tuple(r.get("mentions") or ()), key))
            if key is not None:
                self._sent[key] = result
        elif kind == "kick":
            w.kick(g, m, r.get("reason") or "")
        elif kind == "ban":
            w.ban(g, m, r.get("reason") or "", r.get("until"))
        elif kind == "unban":
            w.unban(g, m)
        elif kind == "delete":
            w.delete(g, r["message"])
        elif kind == "mute":
            w.mute(g, m, int(r["seconds"]))
        else:
            raise ValueError(f"unknown call {kind!r}")

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

    async def probe(self) -> list[str]:
        groups = self.world.group_list()
        shown = ", ".join(g.name for g in groups[:5]) + (", ..." if len(groups) > 5 else "")
        return [f"simulated fleet: {len(groups)} group(s)" + (f": {shown}" if groups else "")]

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        if idempotency_key is not None and idempotency_key in self._sent:
            # Like Matrix's txnId: a retried send is the same send.
            self.world._record("send", group_id, True, text=text, mentions=list(mentions), key=idempotency_key)
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

    async def media(self, group_id: str, media: Media, max_bytes: int) -> bytes:
        data = image_bytes(media.ref)
        if data is None:
            raise ConnectorError(f"demo: no media {media.ref[:40]!r}")
        if len(data) > max_bytes:
            raise MediaTooLarge(f"demo: {len(data)} bytes is over the {max_bytes} byte limit")
        return data

    def health(self) -> Health:
        return Health(HealthState.OK, "simulated", self._since)

    async def close(self) -> None:
        self._recent.clear()
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
            self.world.on_record = None

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
