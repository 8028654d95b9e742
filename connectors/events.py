"""Normalised events and the things they talk about.

Every id is platform-qualified (``matrix:@a:server``, ``qq:12345``,
``telegram:777``, ``demo:u42``) so that ids from different platforms can never
collide in one store. Times are POSIX seconds (float): events are the hot path
and datetime objects cost more than they give here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union


def qualify(platform: str, raw_id: str | int) -> str:
    """``qualify("qq", 12345) -> "qq:12345"``."""
    return f"{platform}:{raw_id}"


def platform_of(qualified_id: str) -> str:
    return qualified_id.split(":", 1)[0]


def raw_id(qualified_id: str) -> str:
    return qualified_id.split(":", 1)[1] if ":" in qualified_id else qualified_id


@dataclass(slots=True, frozen=True)
class Group:
    id: str
    name: str
    platform: str
    member_count: int | None = None
    tags: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class Member:
    id: str
    name: str
    joined_at: float | None = None
    # Known on platforms that report it (OneBot's last_sent_time); lets the
    # lurker detector work from the first poll instead of after 14 days.
    last_message_at: float | None = None
    is_admin: bool = False
    is_bot: bool = False


@dataclass(slots=True, frozen=True)
class Media:
    """An image (or other file) in a message, as the platform names it: fetched only on demand,
    through the connector's ``media`` method (the ad detector looks for QR codes in images)."""

    kind: str
    """"image" (the only kind fetched today), "file", "video"..."""
    ref: str
    """The platform's handle: a OneBot file id, a Matrix mxc:// URI, a Telegram file_id, a demo key."""
    url: str | None = None
    """A direct URL when the event carries one (OneBot image segments)."""
    size: int | None = None
    """Bytes, as announced by the platform (a download still stops at the limit, announced or not)."""
    key: str | None = None
    """The platform's own content id (OneBot file name, Telegram file_unique_id): the same key, the same bytes."""


@dataclass(slots=True)
class Message:
    kind: ClassVar[str] = "message"
    group: str
    sender: str
    sender_name: str
    text: str
    at: float
    id: str
    reply_to: str | None = None
    mentions: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()


@dataclass(slots=True)
class Join:
    kind: ClassVar[str] = "join"
    group: str
    member: str
    member_name: str
    at: float
    inviter: str | None = None


@dataclass(slots=True)
class Leave:
    kind: ClassVar[str] = "leave"
    group: str
    member: str
    at: float
    # None for a voluntary leave; the actor's id for a kick.
    kicked_by: str | None = None

    @property
    def voluntary(self) -> bool:
        return self.kicked_by is None


@dataclass(slots=True)
class Ban:
    kind: ClassVar[str] = "ban"
    group: str
    member: str
    at: float
    by: str | None = None


@dataclass(slots=True)
class MessageDeleted:
    kind: ClassVar[str] = "deleted"
    group: str
    message_id: str
    at: float
    by: str | None = None


Event = Union[Message, Join, Leave, Ban, MessageDeleted]


@dataclass(slots=True)
class Batch:
    """What one poll returns: events in order, and the cursor that follows them.

    The caller persists ``cursor`` only after it has processed ``events``, so a
    crash in between replays the batch instead of losing it.
    """

    events: list[Event] = field(default_factory=list)
    cursor: str | None = None
