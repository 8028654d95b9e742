"""On call inside the service: routes, receivers, the dispatcher and the chat commands put together
from the settings, started and stopped with the service."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from connectors.events import Event
from console.engine import digest
from console.engine.matching import group_matches
from console.oncall.chatops import ChatOps
from console.oncall.dispatcher import Dispatcher
from console.oncall.receivers import build_receivers
from console.oncall.routes import ChatTarget, Route, qualify_chat

if TYPE_CHECKING:
    from console.service.service import Service

log = logging.getLogger("groupwatch.oncall")


def chat_targets(routes: list[Route]) -> list[ChatTarget]:
    out = []
    for r in routes:
        out += [r.chat] if r.chat else []
        out += [s.chat for s in r.steps if s.chat]
    return out


class OnCall:
    def __init__(self, service: "Service") -> None:
        self.service = service
        engine = service.engine
        self.routes: list[Route] = list(service.rt.settings.routes)
        self.console_routes = any(r.console for r in self.routes)
        receivers = build_receivers(self.routes, engine.connectors, service.announce)
        self.dispatcher = Dispatcher(self.routes, receivers, engine.incidents, clock=engine.now,
                                     store=service.rt.store, names=engine, group_matches=self._group_matches)
        chats = {}
        for target in chat_targets(self.routes):
            conn = engine.connectors.get(target.connector)
            if conn is not None:
                chats[qualify_chat(conn.platform, target.chat)] = conn
        self.chatops = ChatOps(service, chats, self._incident_of)
        # The moderators' chats are not watched groups: their messages come here, never to the detectors.
        for chat in chats:
            engine.side_chats[chat] = self._on_chat_event
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None

    def _group_matches(self, group_id: str, pattern: str) -> bool:
        return group_matches(self.service.engine, group_id, pattern)

    def _incident_of(self, connector: str, group: str, message_id: str) -> int | None:
        return self.dispatcher.incident_of(connector, group, message_id)

    def _on_chat_event(self, ev: Event) -> None:
        task = asyncio.get_running_loop().create_task(self.chatops.on_event(ev), name="oncall:chat")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("on call: a chat command failed: %s", type(task.exception()).__name__)

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="oncall")

    async def _run(self) -> None:
        digests = [r for r in self.routes if r.digest]
        if not digests:
            await self.dispatcher.run()
            return
        runner = asyncio.get_running_loop().create_task(self.dispatcher.run())
        try:
            while True:
                try:
                    self.post_digests()
                except Exception:  # a digest that cannot be made must not stop the notifications
                    log.exception("on call: the digest could not be made")
                await asyncio.sleep(30)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    def post_digests(self) -> int:
        """Each digest route's daily summary (and on Mondays the weekly digest) once its time of day has
        come, once per day (the delivery key is the date: a restart does not post it again)."""
        now = self.service.engine.now()
        day = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        posted = 0
        for r in self.routes:
            hh, mm = (int(x) for x in r.digest_at.split(":"))
            if (day.hour, day.minute) < (hh, mm):
                continue
            for kind in r.digest:
                if kind == "weekly" and day.weekday() != 0:
                    continue
                key = f"{kind}-{day.date().isoformat()}"
                if self.dispatcher.digest_posted(r.name, key):
                    continue
                make = digest.daily_summary if kind == "daily" else digest.weekly_digest
                text = make(self.service.engine, now)
                self.dispatcher.add_digest(r.name, key, f"groupwatch {kind} {'summary' if kind == 'daily' else 'digest'}"
                                           f" {day.date().isoformat()}", text)
                posted += 1
        return posted

    async def stop(self) -> None:
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        self.dispatcher.close()

    def problems(self) -> list[tuple[str, str]]:
        return self.dispatcher.problems()
