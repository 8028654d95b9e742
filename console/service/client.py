"""How a console or a subcommand talks to the service: the same calls whether the service runs
in this process (:class:`LocalClient`) or elsewhere behind the socket (``remote.RemoteClient``)."""
from __future__ import annotations

from typing import Any, Callable, Protocol

from console.service.api import Actor, Command, Report

PushListener = Callable[[str, Any], None]
"""("changed", version), ("notice", NoticeView), ("connection", "lost" | "back")."""


class Client(Protocol):
    actor: Actor | None
    lost: str  # "" while connected, else why ("service lost, reconnecting")

    async def query(self, name: str, **params: Any) -> Any: ...

    async def run(self, cmd: Command) -> Report: ...

    def on_push(self, listener: PushListener) -> None: ...

    async def close(self) -> None: ...


class LocalClient:
    """The service in this process: the same views and commands, no socket in between."""

    def __init__(self, service, actor: Actor) -> None:
        self.service = service
        self.actor: Actor | None = actor
        self.lost = ""
        self._unsubscribe: list[Callable[[], None]] = []

    async def query(self, name: str, **params: Any) -> Any:
        return await self.service.query(self.actor, name, params)

    def query_now(self, name: str, **params: Any) -> Any:
        """Without awaiting: the engine is in this loop (a screen's first paint can use it)."""
        return self.service.query_now(self.actor, name, params)

    async def run(self, cmd: Command) -> Report:
        return await self.service.execute(self.actor, cmd)

    def on_push(self, listener: PushListener) -> None:
        self._unsubscribe.append(self.service.subscribe(listener))

    async def close(self) -> None:
        for u in self._unsubscribe:
            u()
        self._unsubscribe.clear()
        if self.actor is not None:
            self.service.close_session(self.actor)
