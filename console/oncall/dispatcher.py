"""When each route tells its receivers about an incident, as Alertmanager does it.

Per incident and route (a *thread*): the first notification waits ``group_wait`` so the incident's
first alerts go out together; later changes go out at most once per ``group_interval``; a paging
incident nobody acknowledged is told again after ``repeat_interval``. Nothing is sent for an incident
that is silenced, inhibited, snoozed, acknowledged or over. A high incident not acknowledged within a
step's ``after`` reaches that step's receivers (acknowledging stops the steps); an acknowledged one not
resolved within ``ack_timeout`` fires again, once.

Nothing twice: each notification to each receiver is a *delivery*, written to the ``oncall`` database
as pending before it is sent, marked sending (committed) just before, and done or failed after; one
found "sending" at start was cut off by a crash and is never sent again (a webhook gets a ``key`` it
may use to drop a repeat of a retried one). Thread timings are saved there too, so a restart keeps them.
Sends run as tasks (Apprise in a thread with a timeout): the event loop never waits on a receiver.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Any, Callable

from console.engine.detectors.base import Severity
from console.engine.store import StoreError
from console.oncall import messages
from console.oncall.receivers import ChatReceiver, Receiver, ReceiverError
from console.oncall.records import Delivery, ReceiverHealth, Thread
from console.oncall.routes import Route

log = logging.getLogger("groupwatch.oncall")

DB = "oncall"                 # deliveries, chat message refs, digests posted
TIMING_DB = "oncall_timing"   # each thread's timings
BACKOFF_START = 30.0   # seconds (engine time) before a failed delivery is tried again, doubling...
BACKOFF_MAX = 1800.0   # ...up to this
MAX_ATTEMPTS = 6       # then it is given up (failed, in the log and the health line)
KEEP_FINISHED = 100    # finished deliveries kept for the record (without their text)
KEEP_DIGESTS = 60      # digests posted, remembered so that none is posted twice
KEEP_CHAT_REFS = 2000  # posted chat messages remembered, so a reply names its incident
TIMING_SAVE_EVERY = 5.0  # wall seconds between saves of timings alone
ENDED = ("resolved", "expired")
QUIET = ("acknowledged", "claimed", "snoozed", "silenced")


class Dispatcher:
    """``receivers`` maps a route's name to its receivers by id (see :class:`Delivery`); ``incidents``
    has ``get(id)``, ``live()`` and ``subscribe(callback)`` (console.engine.incidents)."""

    def __init__(self, routes: list[Route], receivers: dict[str, dict[str, Receiver]], incidents: Any, *,
                 clock: Callable[[], float], store=None, names: messages.Names | None = None,
                 group_matches: Callable[[str, str], bool] = lambda g, p: g == p or p == "all") -> None:
        self.routes = {r.name: r for r in routes}
        self.receivers = receivers
        self.incidents = incidents
        self.clock = clock
        self.store = store
        self.names = names
        self.group_matches = group_matches
        self.threads: dict[str, Thread] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.chat_refs: dict[str, int] = {}   # "<connector>|<group>|<message id>" -> incident id
        self.health: dict[str, ReceiverHealth] = {}
        self._tasks: set[asyncio.Task] = set()
        self._dirty = False
        self._flushed_at = 0.0
        self._sends_dirty = False
        self.digests: list[str] = []  # "<route>/<kind>-<date>" of the digests posted
        self._wake: asyncio.Event | None = None
        self._load()
        incidents.subscribe(self.on_incident)
        for inc in incidents.live():  # what changed while nothing ran (a crash, a restart)
            self.on_incident(inc, "opened", quiet=True)

    def close(self) -> None:
        """Save the timings (the way out)."""
        self.flush(timings=True)

    # --- persistence ---

    def _load(self) -> None:
        if self.store is None:
            return
        try:
            self._read()
        except StoreError as e:
            # Timings are worth less than a running service: start afresh (live incidents are told again).
            log.error("on call: its saved state cannot be read, starting afresh: %s", e)
            self.threads.clear()
            self.deliveries.clear()
            self.chat_refs.clear()

    def _read(self) -> None:
        with self.store.decoding(TIMING_DB):
            for d in self.store.read_table(TIMING_DB, "threads"):
                t = Thread(**{k: v for k, v in d.items() if k != "_key"})
                if t.route in self.routes:
                    self.threads[t.key] = t
        with self.store.decoding(DB):
            for d in self.store.read_table(DB, "deliveries"):
                dl = Delivery(**{k: v for k, v in d.items() if k != "_key"})
                if dl.state == "sending":
                    # Cut off by a crash while being sent: it may have gone out. Never sent twice.
                    dl.state, dl.error = "unknown", "the service stopped while sending it; not sent again"
                    log.warning("on call: %s may or may not have been delivered (stopped while sending)", dl.key)
                    self._sends_dirty = True
                self.deliveries[dl.key] = dl
            for d in self.store.read_table(DB, "chat_refs"):
                self.chat_refs[d["ref"]] = d["incident"]
            self.digests = [d["key"] for d in self.store.read_table(DB, "digests")]

    def flush(self, timings: bool = False) -> None:
        """Write what changed. Deliveries (the record that makes a notification go out once) are written
        at once, in the ``oncall`` database; timings, which a busy fleet changes all the time, in
        ``oncall_timing`` at most every few seconds (or now, with ``timings``)."""
        if self.store is None:
            self._dirty = self._sends_dirty = False
            return
        if self._sends_dirty:
            finished = [d for d in self.deliveries.values() if d.state not in ("pending", "sending")]
            if len(finished) > KEEP_FINISHED:
                for d in sorted(finished, key=lambda d: d.done_at or 0)[:len(finished) - KEEP_FINISHED]:
                    del self.deliveries[d.key]
            if len(self.chat_refs) > KEEP_CHAT_REFS:
                for ref in list(self.chat_refs)[:len(self.chat_refs) - KEEP_CHAT_REFS]:
                    del self.chat_refs[ref]
            self.store.replace_table(DB, "deliveries", [asdict(d) for d in self.deliveries.values()])
            self.store.replace_table(DB, "chat_refs", [{"ref": r, "incident": i} for r, i in self.chat_refs.items()])
            self.store.replace_table(DB, "digests", [{"key": k} for k in self.digests])
            self.store.commit(DB)
            self._sends_dirty = False
        wall = time.monotonic()
        if self._dirty and (timings or wall - self._flushed_at >= TIMING_SAVE_EVERY):
            self.store.replace_table(TIMING_DB, "threads", [asdict(t) for t in self.threads.values()])
            self.store.commit(TIMING_DB)
            self._flushed_at = wall
            self._dirty = False

    # --- incidents change ---

    def on_incident(self, inc: Any, change: str, quiet: bool = False) -> None:
        """From ``Incidents.subscribe``: keep each route's thread for ``inc`` in step with it."""
        now = self.clock()
        for route in self.routes.values():
            key = f"{route.name}/{inc.id}"
            t = self.threads.get(key)
            if change in ENDED or _state(inc) in ENDED:
                if t is not None:
                    del self.threads[key]
                    self._drop(route.name, inc.id, "the incident is over")
                continue
            if t is None:
                if not inc.paging or not route.matches(inc.kind, Severity(inc.severity), list(inc.groups),
                                                       self.group_matches):
                    continue
                t = self.threads[key] = Thread(route.name, inc.id, opened_at=now, due=now + route.group_wait)
                self._dirty = True
                if route.group_wait == 0:
                    self._poke()
                continue
            if not inc.paging:
                # Acknowledged, claimed, snoozed, silenced or inhibited: no updates, no repeats, no steps.
                if t.due is not None or change in QUIET:
                    t.due = None
                    if _state(inc) == "acknowledged" and t.acked_at is None:
                        t.acked_at = inc.acked_at if inc.acked_at is not None else now
                        t.ack_fired = False
                    self._drop(route.name, inc.id, f"the incident was {change}", keep=("ack_timeout",))
                    self._dirty = True
                continue
            if t.due is None or change in ("reopened", "unsilenced"):
                # Paging again (reopened, snooze over, silence gone): told again, batched as a new one.
                t.acked_at, t.ack_fired, t.changed = None, False, True
                t.due = now + (route.group_wait if t.sent == 0 else 0.0)
                self._dirty = True
                self._poke()
            elif change == "grew" and not quiet:
                t.changed = True
                if t.sent:
                    t.due = min(t.due, max(now, (t.last_sent_at or now) + route.group_interval))
                self._sends_dirty = True

    def _drop(self, route: str, incident: int, why: str, keep: tuple[str, ...] = ()) -> None:
        for d in self.deliveries.values():
            if d.route == route and d.incident == incident and d.state == "pending" and d.why not in keep:
                d.state, d.error, d.done_at = "dropped", why, self.clock()
                self._dirty = True

    # --- time passes ---

    def run_due(self) -> int:
        """Decide what is due now, record it, and start sending it; how many deliveries were started."""
        now = self.clock()
        new: list[Delivery] = []
        for t in list(self.threads.values()):
            route = self.routes[t.route]
            inc = self.incidents.get(t.incident)
            if inc is None or _state(inc) in ENDED:
                del self.threads[t.key]
                self._dirty = True
                continue
            if inc.paging and t.due is not None and t.due <= now:
                why = "new" if t.sent == 0 else ("update" if t.changed else "repeat")
                t.sent += 1
                new += self._deliveries(route, inc, why, str(t.sent), "", now)
                t.last_sent_at, t.changed = now, False
                t.due = now + route.repeat_interval
                self._dirty = True
            if inc.paging and Severity(inc.severity) >= Severity.HIGH:
                while t.step < len(route.steps) and now >= t.opened_at + route.steps[t.step].after:
                    t.step += 1
                    new += self._deliveries(route, inc, "escalation", f"s{t.step}", f"s{t.step}", now)
                    self._dirty = True
            if route.ack_timeout is not None and _state(inc) == "acknowledged" and t.acked_at is not None \
                    and not t.ack_fired and now >= t.acked_at + route.ack_timeout:
                t.ack_fired = True
                new += self._deliveries(route, inc, "ack_timeout", f"a{int(t.acked_at)}", "", now)
                self._dirty = True
        for d in new:
            # A key told before (its thread's timing not yet saved when the service stopped) is not told again.
            if d.key not in self.deliveries:
                self.deliveries[d.key] = d
                self._sends_dirty = True
        return self._start_sends(now)

    def _deliveries(self, route: Route, inc: Any, why: str, seq: str, step: str, now: float) -> list[Delivery]:
        title = messages.title(inc, why)
        body = messages.body(inc, self.names, why, now)
        fields = {"severity": _severity(inc), "kind": inc.kind, "count": len(inc.alert_ids),
                  "groups": list(inc.groups), "state": _state(inc)}
        ids = [rid for rid in self.receivers.get(route.name, {}) if _of_step(rid, step)]
        return [Delivery(f"{route.name}/{inc.id}/{seq}/{rid}", route.name, rid, inc.id, why, title, body, fields,
                         next_try=now) for rid in ids]

    def digest_posted(self, route: str, key: str) -> bool:
        return f"{route}/{key}" in self.digests

    def add_digest(self, route: str, key: str, title: str, text: str) -> None:
        """A digest's text to ``route``'s receivers (not its steps), once per ``key``."""
        now = self.clock()
        if self.digest_posted(route, key):
            return
        self.digests = (self.digests + [f"{route}/{key}"])[-KEEP_DIGESTS:]
        for rid in self.receivers.get(route, {}):
            if rid.startswith("s"):
                continue
            dkey = f"{route}/digest/{key}/{rid}"
            if dkey not in self.deliveries:
                self.deliveries[dkey] = Delivery(dkey, route, rid, None, "digest", title, text, next_try=now)
                self._sends_dirty = True

    def _start_sends(self, now: float) -> int:
        ready = [d for d in self.deliveries.values() if d.state == "pending" and d.next_try <= now]
        if not ready:
            self.flush()
            return 0
        for d in ready:
            d.state = "sending"
            d.attempts += 1
        self._sends_dirty = True
        try:
            self.flush()  # recorded as being sent before anything goes out
        except StoreError:
            for d in ready:  # not recorded: not sent either; tried again when the store can be written
                d.state = "pending"
                d.attempts -= 1
            raise
        for d in ready:
            task = asyncio.get_running_loop().create_task(self._send(d), name=f"oncall:{d.key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(ready)

    async def _send(self, d: Delivery) -> None:
        receiver = self.receivers.get(d.route, {}).get(d.receiver)
        health = self.health.setdefault(f"{d.route}/{d.receiver}",
                                        ReceiverHealth(receiver.label if receiver else d.receiver))
        try:
            if receiver is None:
                raise ReceiverError(f"route {d.route!r} has no receiver {d.receiver!r} any more")
            result = await receiver.send(d.notification())
        except ReceiverError as e:
            self._failed(d, health, str(e))
        except Exception as e:  # a bug in one receiver must cost one delivery, not the service
            log.exception("on call: delivery %s failed", d.key)
            self._failed(d, health, f"{type(e).__name__}")
        else:
            d.state, d.error, d.done_at = "sent", "", self.clock()
            d.title = d.body = ""  # told: the record says to whom and when, the text is not kept
            health.failures, health.error = 0, ""
            health.sent += 1
            if isinstance(receiver, ChatReceiver) and d.incident is not None:
                self.chat_refs[chat_ref(receiver.connector.name, receiver.group_id, result)] = d.incident
        # Marked in memory, written with the next round's save (one write for many sends): a crash before
        # that leaves it "sending", which is never sent again.
        self._sends_dirty = True

    def _failed(self, d: Delivery, health: ReceiverHealth, error: str) -> None:
        health.failures += 1
        health.error = error
        d.error = error
        if d.attempts >= MAX_ATTEMPTS:
            d.state, d.done_at = "failed", self.clock()
            log.error("on call: gave up on %s after %d tries: %s", d.key, d.attempts, error)
        else:
            d.state = "pending"
            d.next_try = self.clock() + min(BACKOFF_START * 2 ** (d.attempts - 1), BACKOFF_MAX)
            log.warning("on call: %s not delivered (try %d): %s", d.key, d.attempts, error)

    async def drain(self) -> None:
        """Wait for the sends started so far and save their marks (tests, and the way out)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.flush(timings=True)

    def incident_of(self, connector: str, group: str, message_id: str) -> int | None:
        """The incident a posted chat message was about (a reply to it acts on that incident)."""
        return self.chat_refs.get(chat_ref(connector, group, message_id))

    def problems(self) -> list[tuple[str, str]]:
        """Receivers whose last delivery failed: (label, one-line reason), for the health line."""
        return [(h.label, h.error) for h in self.health.values() if h.failures]

    # --- running ---

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self, every: float = 1.0) -> None:
        """Until cancelled: decide and send what is due, at least every ``every`` wall seconds."""
        self._wake = asyncio.Event()
        try:
            while True:
                try:
                    self.run_due()
                except Exception:  # e.g. the store cannot be written: logged, tried again next round
                    log.exception("on call: dispatch failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), every)
                except (asyncio.TimeoutError, TimeoutError):
                    pass
                self._wake.clear()
        finally:
            if self._tasks:  # sends under way get a moment; one cut off stays "sending": never repeated
                waiter = asyncio.ensure_future(self.drain())
                waiter.add_done_callback(_drained)
                try:
                    await asyncio.wait([waiter], timeout=5)
                finally:
                    # Cut off (the 5 s passed, or the way out was cancelled again): it must not go on
                    # to save into a store that is closed by then.
                    waiter.cancel()


def _drained(task: "asyncio.Future[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("on call: the last sends could not be saved: %s", task.exception())


def chat_ref(connector: str, group: str, message_id: str) -> str:
    return f"{connector}|{group}|{message_id}"


def _state(inc: Any) -> str:
    return str(getattr(inc.state, "value", inc.state))


def _severity(inc: Any) -> str:
    sev = inc.severity
    return getattr(sev, "label", None) or str(sev).lower()


def _of_step(rid: str, step: str) -> bool:
    """Is receiver ``rid`` one of escalation step ``step``'s ("s2n0", "s2chat"), or of the route itself ("")?"""
    if not step:
        return not rid.startswith("s")
    rest = rid[len(step):] if rid.startswith(step) else ""
    return rest == "chat" or (rest.startswith("n") and rest[1:].isdigit())
