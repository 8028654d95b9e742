"""The one contract every connector implements, with its typed errors."""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from connectors.events import Batch, Group, Media, Member


class Capability(enum.StrEnum):
    SEND = "send"
    MENTION = "mention"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    DELETE = "delete"
    MUTE = "mute"
    MEMBER_LIST = "member_list"  # members() returns the full list, not only those seen


class HealthState(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(slots=True, frozen=True)
class Health:
    state: HealthState = HealthState.OK
    reason: str = ""
    since: float = field(default_factory=time.time)


class ConnectorError(Exception):
    """A connector failed; the message is one line, safe to show (no secrets)."""


class BadOptions(ValueError):
    """A ``[[connector]]`` table is wrong (a missing URL, an unreadable secret...): one line naming the key."""


class Unsupported(ConnectorError):
    """The platform cannot do this action."""


class RateLimited(ConnectorError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailed(ConnectorError):
    """Token missing, expired or refused: retrying will not help."""


class TransientError(ConnectorError):
    """Timeouts, 5xx, dropped connections, garbage answers: back off and retry."""


class MediaTooLarge(ConnectorError):
    """A media file bigger than the caller's limit (announced, or found while downloading it)."""


@dataclass(slots=True, frozen=True)
class SendResult:
    message_id: str


@runtime_checkable
class Connector(Protocol):
    """A platform account watching some groups.

    ``poll`` returns the events after ``cursor`` (None: start from now) and
    waits at most about ``timeout`` seconds for some to arrive.
    """

    name: str
    platform: str
    capabilities: frozenset[Capability]
    idempotent_send: bool
    """A repeated idempotency key is not posted twice, so a send cut off by a crash may be retried."""
    max_mentions: int
    """Mentions one message may carry."""
    acknowledges_cursor: bool
    """Polling with a cursor makes the platform forget what came before it (Telegram's offset): the
    engine saves the events of a batch before it polls again."""
    media_inline: bool
    """Images are served at once (the simulated fleet): checked before the next poll, so a seeded run
    replays the same alerts."""

    async def poll(self, cursor: str | None, timeout: float) -> Batch: ...

    async def groups(self) -> list[Group]: ...

    async def members(self, group_id: str) -> list[Member] | None:
        """Members of a group, or None where the platform cannot list them."""
        ...

    async def send(self, group_id: str, text: str, mentions: Sequence[str] = (),
                   idempotency_key: str | None = None) -> SendResult:
        """Post ``text``; for each id in ``mentions`` the text holds "@<display name>", which the
        connector turns into the platform's own mention form (pill, [CQ:at], text_mention)."""
        ...

    async def kick(self, group_id: str, member_id: str, reason: str = "") -> None: ...

    async def ban(self, group_id: str, member_id: str, reason: str = "",
                  until: float | None = None) -> None: ...

    async def unban(self, group_id: str, member_id: str) -> None: ...

    async def delete(self, group_id: str, message_id: str) -> None: ...

    async def mute(self, group_id: str, member_id: str, seconds: int) -> None: ...

    async def media(self, group_id: str, media: Media, max_bytes: int) -> bytes:
        """The bytes of ``media`` from a message in ``group_id`` (OneBot image URL or get_image,
        Matrix media download, Telegram getFile). Raises MediaTooLarge past ``max_bytes`` without
        reading further, Unsupported where the platform cannot serve it, TransientError/ConnectorError
        otherwise. The caller bounds the time (and never waits for it on the event loop's hot path)."""
        ...

    async def probe(self) -> list[str]:
        """What ``groupwatch config check`` says of this account (who it is, what it can see and do,
        each group with the id to put in the config); raises ConnectorError when the platform refuses
        it. Names are given as the platform has them: the caller shows them inertly (``visible``), so
        a control character reads as the console shows it (␛), not as a ``?``."""
        ...

    def health(self) -> Health: ...

    async def close(self) -> None: ...
