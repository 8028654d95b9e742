"""The engine: polls connectors, feeds events through stats and detectors,
keeps alerts, and checkpoints state. Headless; the console only reads it.

Order of work per batch, which is what makes a crash lose nothing: events are
applied to stats and detectors first, the connector's cursor is taken in
memory after, and both reach disk together in the next atomic checkpoint. A
crash before that checkpoint replays the batch from the old cursor.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from connectors.contract import (AuthFailed, Capability, Connector, ConnectorError, Health, HealthState,
                                 RateLimited)
from connectors.events import Event
from connectors.secrets import scrub
from console.engine.activity import GroupSummary, summarize
from console.engine.alerts import AlertBook, AlertState
from console.engine.checkpoint import STATE_DB, StateWriter, gil_handed_over_often
from console.engine.heap import COLLECT_SECONDS, HeapPacer
from console.engine.incidents import Incidents
from console.engine.silences import Silences
from console.engine.detectors.base import Context, Detector
from console.engine.detectors.registry import build_detectors
from console.engine.settings import Settings
from console.engine.stats import FleetStats

log = logging.getLogger("groupwatch.engine")

STAGE_SLICE = 1000  # documents a checkpoint stages per turn of the event loop (about 5 ms where loop_s is 0.6)
SUMMARY_TTL = 10.0  # wall seconds an unchanged group's summary is reused


@dataclass(slots=True)
class ConnectorStatus:
    health: Health
    events: int = 0
    failures: int = 0
    last_poll_at: float | None = None


class EventRate:
    """Events per second over the last few wall seconds, for the header."""

    def __init__(self, span: float = 5.0) -> None:
        self.span = span
        self._marks: deque[tuple[float, int]] = deque()

    def add(self, n: int, wall: float) -> None:
        self._marks.append((wall, n))
        while self._marks and self._marks[0][0] < wall - self.span:
            self._marks.popleft()

    def per_second(self, wall: float) -> float:
        total = sum(n for t, n in self._marks if t >= wall - self.span)
        return total / self.span


class Engine:
    def __init__(self, settings: Settings, connectors: Iterable[Connector], store=None,
                 clock: Callable[[], float] | None = None,
                 detectors: list[Detector] | None = None) -> None:
        self.settings = settings
        self.connectors: dict[str, Connector] = {c.name: c for c in connectors}
        self.store = store
        self.clock = clock or time.time
        self.stats = FleetStats(settings.store.recent_messages)
        self.alerts = AlertBook(keep_resolved=settings.alerts.keep_history)
        self.silences = Silences(self.now, groups=self)
        self.incidents = Incidents(self.alerts, self.now, names=self, silences=self.silences,
                                   churn_window=settings.alerts.churn_ads_hours * 3600,
                                   keep_ended=settings.alerts.keep_history)
        self.detectors = detectors if detectors is not None else build_detectors(settings.detectors)
        self.cursors: dict[str, str | None] = {}
        self.status = {name: ConnectorStatus(Health()) for name in self.connectors}
        self.rate = EventRate()
        self.events_total = 0
        self._next_tick: float | None = None
        self._stop = asyncio.Event()
        self._dirty = False
        self._jitter = random.Random()
        self.last_checkpoint_s = 0.0
        self.save_error: str | None = None  # why the last checkpoint failed (a full disk), until one succeeds
        self._summaries: dict[str, tuple[int, float, GroupSummary]] = {}
        self._route_mark: tuple[int, ...] | None = None
        self._route_table: dict[type, tuple] = {}
        self._checkpointing: asyncio.Lock | None = None
        self.group_owner: dict[str, str] = {}  # group id -> name of the connector that watches it
        self.observers: list = []  # objects with on_event(event) and on_tick(now): moderation
        # more tables saved in the same atomic write as the stats (the service's feed): name -> docs
        self.saved_with_checkpoint: dict[str, Callable[[], list[dict]]] = {}
        self.services: list[Callable[[], Awaitable[None]]] = []  # long-running coroutines started by run()
        # Chats a connector reads that are not watched groups (the moderators' chat of an on-call route):
        # their events go to the listener, never to stats or detectors.
        self.side_chats: dict[str, Callable[[Event], None]] = {}
        self.media = self._media_scanner()
        self.writer: StateWriter | None = None
        self._last_hold_s = 0.0
        # Told of every stretch a checkpoint holds the loop: (what: "stage" or "gc", seconds, documents).
        self.on_hold: Callable[[str, float, int], None] | None = None
        self.heap = HeapPacer()  # the garbage collector paced while run() runs (a console in the process: slower)
        if store is not None:
            store.journal(STATE_DB)  # checkpoints append what changed (console.engine.journal)
            self.writer = StateWriter(self)

    def _media_scanner(self):
        """Images in messages checked for QR codes, off the hot path (see console.engine.media)."""
        ad = next((d for d in self.detectors if getattr(d, "name", None) == "ad"), None)
        if ad is None or not getattr(ad.settings, "scan_images", False):
            return None
        from console.engine.media import MediaScanner

        scanner = MediaScanner(self, ad)
        self.observers.append(scanner)
        self.services.append(scanner.run)
        return scanner

    # --- state ---

    def restore(self) -> None:
        """Load the last checkpoint, if any."""
        if self.writer is not None:
            self.writer.restore()

    def saved_table(self, name: str) -> list[dict]:
        """A table another part saved with the checkpoint (``saved_with_checkpoint``), as last saved."""
        if self.store is None:
            return []
        with self.store.decoding(STATE_DB):
            return self.store.read_table(STATE_DB, name)

    def checkpoint(self) -> None:
        """One atomic write of cursors, stats and alerts together."""
        started = time.perf_counter()
        if self._stage():
            self.store.commit(STATE_DB)
            self._dirty = self.alerts.dirty = self.incidents.dirty = self.silences.dirty = False
            self.last_checkpoint_s = time.perf_counter() - started

    async def checkpoint_async(self) -> None:
        """The same, with the encoding and the write in a thread, so the console keeps taking keys."""
        started = time.perf_counter()
        if self.writer is not None:
            # A big backlog (a fleet's first snapshot) is staged in slices, letting the loop run between
            # them; what changes meanwhile is marked again and staged in a later slice, and the cursors go
            # in with the last one, so the one record written is still a consistent picture.
            hold = 0.0
            heap = self.heap
            froze, began = heap.young_freezes, heap.clock()
            while True:
                done = self.writer.stage(STAGE_SLICE)
                hold = max(hold, self.writer.last_stage_s)
                self._held("stage", self.writer.last_stage_s, self.writer.last_slice_docs)
                if done:
                    break
                heap.between_slices(began)  # (a long staging: its snapshots frozen now and then, never walked)
                hold = max(hold, self._held("gc", heap.last_settle_s, 0))
                await asyncio.sleep(0)
            if heap.young_freezes != froze:
                heap.between_slices(began, force=True)  # the last ones too, before the commit's wait below
                hold = max(hold, self._held("gc", heap.last_settle_s, 0))
            self._dirty = self.alerts.dirty = self.incidents.dirty = self.silences.dirty = False  # changes from now on go into the next checkpoint
            try:
                with gil_handed_over_often():
                    commit = asyncio.ensure_future(asyncio.to_thread(self.store.commit, STATE_DB))
                    commit.add_done_callback(_retrieved)  # (told below, unless this is cancelled first)
                    while not (await asyncio.wait({commit}, timeout=COLLECT_SECONDS))[0]:
                        # A long commit (a fleet's first): its snapshots, alive until written, frozen rather
                        # than walked by a full collection; the next one after it walks what is new.
                        heap.between_slices(began, force=True)
                        hold = max(hold, self._held("gc", heap.last_settle_s, 0))
                    commit.result()
            except BaseException:
                self._dirty = True  # not saved: the next checkpoint must write it
                raise
            # The checkpoint's snapshots are gone: the cheapest moment for a paced full collection.
            heap.settle()
            self._last_hold_s = max(hold, self._held("gc", heap.last_settle_s, 0))
            self.last_checkpoint_s = time.perf_counter() - started

    def _held(self, what: str, seconds: float, docs: int) -> float:
        """Tell ``on_hold`` of a stretch on the loop (a collection that did nothing: not one); ``seconds``."""
        if self.on_hold is not None and (seconds or what != "gc"):
            self.on_hold(what, seconds, docs)
        return seconds

    def _stage(self) -> bool:
        """Put what changed into the store's memory (on the loop: proportional to the changes)."""
        if self.writer is None:
            return False
        self.writer.stage()
        return True

    @property
    def last_checkpoint_loop_s(self) -> float:
        """The longest the last checkpoint held the event loop at once: its longest slice, or the paced
        garbage collection after it (the rest runs in a thread)."""
        return self._last_hold_s

    @property
    def dirty(self) -> bool:
        return self._dirty or self.alerts.dirty or self.incidents.dirty or self.silences.dirty

    # --- the hot path ---

    def now(self) -> float:
        return self.clock()

    def ingest(self, events: Iterable[Event]) -> int:
        apply, findings_to_alerts = self.stats.apply, self.alerts.apply
        routes = self._routes()
        observers = self.observers
        ctx = Context(self.stats, self.now())
        n = 0
        for ev in events:
            apply(ev)
            ctx.now = ev.at
            handlers = routes.get(type(ev))
            if handlers is None:
                handlers = routes[type(ev)] = self._handlers(type(ev))
            for on_event in handlers:
                found = on_event(ev, ctx)
                if found:  # (nearly always an empty tuple: no iterator made for it)
                    for f in found:
                        if findings_to_alerts(f) is None and not f.clears:
                            self._kept_quiet(f)
            for o in observers:
                o.on_event(ev)
            n += 1
        self.events_total += n
        self._dirty = self._dirty or n > 0
        return n

    def _routes(self) -> dict[type, tuple]:
        """Event type -> the detectors' on_event to call for it (see ``Detector.events``), made again
        when the detectors change (once per batch: a handful of ids)."""
        mark = tuple(map(id, self.detectors))
        if self._route_mark != mark:
            self._route_mark, self._route_table = mark, {}
        return self._route_table

    def _handlers(self, kind: type) -> tuple:
        out = []
        for d in self.detectors:
            wanted = getattr(d, "events", None)  # (optional: a detector without it sees every event)
            if wanted is None or any(issubclass(kind, w) for w in wanted):
                out.append(d.on_event)
        return tuple(out)

    def _kept_quiet(self, f) -> None:
        """A finding that changed an alert without telling anyone (a snoozed one): still saved."""
        alert = self.alerts.open_for(f.kind, f.group, f.member)
        if alert is not None and alert.state is AlertState.SNOOZED and self.writer is not None:
            self.writer.alert_touched(alert)

    def take(self, name: str, events: list[Event], cursor: str | None) -> int:
        """One connector's batch: note who watches each group, process it, then advance its cursor."""
        owner = self.group_owner
        if self.side_chats:
            events = self._divert(events)
        for ev in events:
            if ev.group not in owner:
                owner[ev.group] = name
        n = self.ingest(events)
        self.cursors[name] = cursor
        return n

    def _divert(self, events: list[Event]) -> list[Event]:
        side = self.side_chats
        kept = []
        for ev in events:
            listener = side.get(ev.group)
            if listener is None:
                kept.append(ev)
                continue
            try:
                listener(ev)
            except Exception:  # a broken listener must not cost the watched groups' events
                log.exception("side chat listener failed")
        return kept

    def maybe_tick(self) -> bool:
        now = self.now()
        if self._next_tick is not None and now < self._next_tick:
            return False
        self.tick(now)
        return True

    def tick(self, now: float) -> None:
        ctx = Context(self.stats, now)
        for d in self.detectors:
            for f in d.on_tick(ctx):
                if self.alerts.apply(f) is None and not f.clears:
                    self._kept_quiet(f)
        self.alerts.wake_snoozed(now)
        life = self.settings.alerts
        with self.incidents.batch():  # a thousand expiries recount each incident once
            self.alerts.expire(now, life.expire_hours * 3600, life.max_open)
        self.incidents.tick(now)
        self.stats.touched.clear()  # (before pruning: what it changes is for the next tick to see)
        self.stats.prune(now)
        for o in self.observers:
            o.on_tick(now)
        self._next_tick = now + self.settings.engine.tick_seconds
        self._dirty = True

    # --- views for reports and screens ---

    def summaries(self) -> list[GroupSummary]:
        now = self.now()
        open_by_group: dict[str | None, int] = {}
        for a in self.alerts.live():
            open_by_group[a.group] = open_by_group.get(a.group, 0) + 1
        # A group's summary is recomputed when the group changed, or every few wall seconds for the
        # windows sliding by: the screens ask every second, and most of a big fleet is quiet in any one.
        wall = time.monotonic()
        cache = self._summaries
        activity = self.settings.detectors.activity
        rows = []
        for g in self.stats.groups.values():
            hit = cache.get(g.id)
            if hit is None or hit[0] != g.version or wall - hit[1] > SUMMARY_TTL:
                summary = summarize(g, now, activity, 0)
                cache[g.id] = (g.version, wall, summary)
            else:
                summary = hit[2]
            summary.open_alerts = open_by_group.get(g.id, 0)
            rows.append(summary)
        if len(cache) > len(self.stats.groups):
            for gid in [k for k in cache if k not in self.stats.groups]:
                del cache[gid]
        rows.sort(key=lambda r: r.worst_key)
        return rows

    def connector_for(self, group_id: str) -> Connector | None:
        """The connector that watches a group (by its platform when we have not seen it yet)."""
        name = self.group_owner.get(group_id)
        if name is not None:
            return self.connectors.get(name)
        platform = group_id.split(":", 1)[0]
        matches = [c for c in self.connectors.values() if c.platform == platform]
        return matches[0] if len(matches) == 1 else None

    def group_name(self, group_id: str | None) -> str | None:
        if group_id is None:
            return None
        g = self.stats.groups.get(group_id)
        return g.name if g else group_id

    def member_name(self, group_id: str | None, member_id: str | None) -> str | None:
        if member_id is None:
            return None
        m = self.stats.member(group_id, member_id) if group_id else None
        return m.name if m else member_id

    # --- running ---

    async def load_snapshots(self) -> None:
        """Groups and, where the platform lists them, members: the starting picture (all at once,
        so one slow peer does not hold up the others)."""
        await asyncio.gather(*(self.load_snapshot(name) for name in self.connectors))

    async def load_snapshot(self, name: str) -> bool:
        """One connector's groups and members; False (and the connector degraded) if that failed."""
        conn = self.connectors[name]
        now = self.now()
        try:
            groups = await conn.groups()
            for grp in groups:
                if grp.id in self.side_chats:
                    continue  # a moderators' chat, not a watched group
                self.group_owner[grp.id] = name
                self.stats.load_group(grp, now)
                members = await conn.members(grp.id)
                if members is not None:
                    complete = Capability.MEMBER_LIST in conn.capabilities
                    self.stats.load_members(grp.id, members, now, complete)
        except ConnectorError as e:
            self._set_health(name, HealthState.DEGRADED, f"snapshot failed: {_one_line(e)}")
            return False
        finally:
            self._dirty = True
        return True

    async def _checkpoint_locked(self) -> None:
        if self._checkpointing is None:
            self._checkpointing = asyncio.Lock()
        async with self._checkpointing:
            try:
                await self.checkpoint_async()
            except Exception as e:
                self.save_error = _one_line(e)
                raise
            self.save_error = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self, until: Callable[[], bool] | None = None) -> None:
        """Poll every connector until ``stop()`` or ``until()``; checkpoint on the way out."""
        tasks = [asyncio.create_task(self._poll_loop(name, until), name=f"poll:{name}")
                 for name in self.connectors]
        tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        tasks.extend(asyncio.create_task(service(), name="service") for service in self.services)
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.maybe_tick()
            self.checkpoint()

    async def _save_before_acknowledging(self, name: str) -> None:
        """Checkpoint; while that fails (a full disk), hold this connector rather than let the
        platform drop events that exist only in memory. The others go on."""
        delay = self.settings.engine.backoff_start
        while not self._stop.is_set():
            try:
                await self._checkpoint_locked()
                return
            except Exception as e:
                log.error("checkpoint failed: %s", e)
                self._set_health(name, HealthState.DEGRADED, f"held until the state can be saved: {_one_line(e)}")
                await asyncio.sleep(delay * (0.5 + self._jitter.random()))
                delay = min(delay * 2, self.settings.engine.backoff_max)

    async def _housekeeping(self) -> None:
        heap = self.heap
        heap.install()
        try:
            await self._housekeep(heap)
        finally:
            heap.uninstall()

    async def _housekeep(self, heap: HeapPacer) -> None:
        last_checkpoint = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(0.5)
            self.maybe_tick()
            # A checkpoint costs what changed, so a longer wait only makes the next one bigger; but a slow
            # disk (or a busy machine) must not make them back to back.
            interval = max(self.settings.store.checkpoint_seconds, self.last_checkpoint_s)
            if self.dirty and time.monotonic() - last_checkpoint >= interval:
                try:
                    await self._checkpoint_locked()  # (the heap settles after it)
                except Exception as e:  # a full disk must not stop the watch; the next try may succeed
                    log.error("checkpoint failed: %s", e)
                last_checkpoint = time.monotonic()
            else:
                heap.settle(checkpoint=False)  # (paced: a collection every half second between checkpoints)
                self._held("gc", heap.last_settle_s, 0)

    async def _poll_loop(self, name: str, until: Callable[[], bool] | None) -> None:
        conn = self.connectors[name]
        status = self.status[name]
        backoff_start, backoff_max = self.settings.engine.backoff_start, self.settings.engine.backoff_max
        backoff = backoff_start
        timeout = self.settings.engine.poll_timeout
        snapshot = self.cursors.get(name) is None  # a first run starts from the groups' present state
        while not self._stop.is_set():
            if until is not None and until():
                self._stop.set()
                return
            if snapshot:
                if not await self.load_snapshot(name):
                    await asyncio.sleep(backoff * (0.5 + self._jitter.random()))
                    backoff = min(backoff * 2, backoff_max)
                    continue
                snapshot = False
                self.maybe_tick()
            try:
                batch = await asyncio.wait_for(conn.poll(self.cursors.get(name), timeout), timeout + 15)
            except asyncio.CancelledError:
                raise
            except RateLimited as e:
                self._set_health(name, HealthState.DEGRADED, f"rate limited for {e.retry_after:g} s")
                await asyncio.sleep(e.retry_after)
                continue
            except Exception as e:  # timeouts, 5xx, garbage, bugs: back off, never take the others down
                status.failures += 1
                auth = isinstance(e, AuthFailed)
                state = HealthState.DOWN if auth or status.failures >= 3 else HealthState.DEGRADED
                self._set_health(name, state, _one_line(e))
                log.warning("connector %s: %s", name, _one_line(e))
                await asyncio.sleep(backoff * (0.5 + self._jitter.random()))
                backoff = min(backoff * 2, backoff_max)
                continue
            backoff, status.failures = backoff_start, 0
            n = self.take(name, batch.events, batch.cursor)
            if n and self.media is not None and self.media.pending and conn.media_inline:
                # A simulated platform serves its images at once: checked before its next tick, so that a
                # seeded demo run shows the same alerts in the same order every time.
                await self.media.drain()
            if n and conn.acknowledges_cursor:
                # Polling with this cursor makes the platform forget what came before it (Telegram's
                # offset): save the state that holds these events before asking for more.
                await self._save_before_acknowledging(name)
            status.events += n
            status.last_poll_at = self.now()
            self.rate.add(n, time.monotonic())
            health = conn.health()
            # Shown in the header: one line, never a token, whatever a connector put in it.
            reason = scrub(" ".join(health.reason.split()))
            if health.state != status.health.state or reason != status.health.reason:
                status.health = dataclasses.replace(health, reason=reason)
            self.maybe_tick()
            await asyncio.sleep(0)  # a connector that answers at once must not starve the UI or the others

    def _set_health(self, name: str, state: HealthState, reason: str) -> None:
        self.status[name].health = Health(state, reason)


def _retrieved(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # (its outcome is read where it is awaited; this only marks it seen)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = scrub(text)  # shown in the header and logged: never a token, even from a careless message
    return text if isinstance(e, ConnectorError) else f"{type(e).__name__}: {text}"
