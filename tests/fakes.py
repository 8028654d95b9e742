"""A scripted connector that a type checker holds to the Connector protocol."""
from __future__ import annotations

import json
from typing import Sequence

from connectors.contract import (Capability, Connector, ConnectorError, Health, HealthState, MediaTooLarge,
                                 SendResult, TransientError)
from connectors.events import Batch, Event, Group, Media, Member


class ScriptedConnector:
    """Serves pre-made batches; an item that is an exception is raised once instead."""

    platform = "fake"
    capabilities = frozenset({Capability.SEND, Capability.KICK, Capability.MEMBER_LIST})
    idempotent_send = False
    max_mentions = 10
    acknowledges_cursor = False
    media_inline = False

    def __init__(self, name: str, batches: list[list[Event] | Exception], groups: list[Group] = (),
                 members: dict[str, list[Member]] | None = None) -> None:
        self.name = name
        self.batches = list(batches)
        self._groups = list(groups)
        self._members = members or {}
        self.polled_with: list[str | None] = []
        self.sent: list[tuple[str, str]] = []
        # media ref -> bytes, an exception to raise, or a coroutine function to await (a slow download)
        self.media_items: dict[str, object] = {}
        self.media_fetched: list[str] = []

    async def probe(self) -> list[str]:
        return [f"{len(self._groups)} scripted group(s)"]

    async def poll(self, cursor: str | None, timeout: float) -> Batch:
        self.polled_with.append(cursor)
        pos = json.loads(cursor)["pos"] if cursor else 0
        if pos >= len(self.batches):
            import asyncio
            await asyncio.sleep(0.01)
            return Batch([], cursor)
        item = self.batches[pos]
        if isinstance(item, Exception):
            self.batches[pos] = []  # fail once, then serve an empty batch there
            raise item
        return Batch(list(item), json.dumps({"pos": pos + 1}))

    async def groups(self) -> list[Group]:
        return self._groups

    async def members(self, group_id: str) -> list[Member] | None:
        return self._members.get(group_id)

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        self.sent.append((group_id, text))
        return SendResult(f"s{len(self.sent)}")

    async def kick(self, group_id: str, member_id: str, reason: str = "") -> None:
        raise ConnectorError("not scripted")

    async def ban(self, group_id: str, member_id: str, reason: str = "", until: float | None = None) -> None:
        raise ConnectorError("not scripted")

    async def unban(self, group_id: str, member_id: str) -> None:
        raise ConnectorError("not scripted")

    async def delete(self, group_id: str, message_id: str) -> None:
        raise ConnectorError("not scripted")

    async def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        raise ConnectorError("not scripted")

    async def media(self, group_id: str, media: Media, max_bytes: int) -> bytes:
        self.media_fetched.append(media.ref)
        item = self.media_items.get(media.ref)
        if item is None:
            raise ConnectorError("no such media")
        if isinstance(item, Exception):
            raise item
        if callable(item):
            item = await item()
        if len(item) > max_bytes:
            raise MediaTooLarge(f"{len(item)} bytes is over the limit")
        return item

    def health(self) -> Health:
        return Health(HealthState.OK)

    async def close(self) -> None:
        pass


__all__ = ["ScriptedConnector", "TransientError", "Connector"]
