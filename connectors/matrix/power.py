"""Who may do what in a room: power levels, and the creators of room versions 12 and later.

From room version 12 the room's creators (the create event's sender and its
``additional_creators``) stand above every power level and are not listed in
``m.room.power_levels`` at all, so reading ``users`` alone would take the bot
that created a room for a powerless member.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATOR = 2**53  # above any power level a room can hold
LEGACY_VERSIONS = frozenset(str(v) for v in range(1, 12))  # versions without privileged creators


def as_level(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    try:
        return int(value)  # very old rooms hold levels as strings
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf), from a JSON "Infinity"
        return default


def creators_of(create_event: dict[str, Any] | None) -> frozenset[str]:
    """The privileged creators named by an ``m.room.create`` event (in the event format), if any."""
    if not isinstance(create_event, dict):
        return frozenset()
    content = create_event.get("content") if isinstance(create_event.get("content"), dict) else {}
    if str(content.get("room_version", "1")) in LEGACY_VERSIONS:
        return frozenset()
    out = {create_event["sender"]} if isinstance(create_event.get("sender"), str) else set()
    extra = content.get("additional_creators")
    if isinstance(extra, list):
        out.update(u for u in extra if isinstance(u, str))
    return frozenset(out)


@dataclass(slots=True)
class RoomPower:
    levels: dict[str, Any]
    creators: frozenset[str] = field(default_factory=frozenset)

    def user(self, user: str) -> int:
        if user in self.creators:
            return CREATOR
        users = self.levels.get("users") if isinstance(self.levels.get("users"), dict) else {}
        return as_level(users.get(user, self.levels.get("users_default", 0)), 0)

    def action(self, key: str) -> int:
        """The level ``kick``, ``ban``, ``redact`` or ``invite`` needs."""
        return as_level(self.levels.get(key, 50), 50)

    def event(self, event_type: str, state: bool) -> int:
        events = self.levels.get("events") if isinstance(self.levels.get("events"), dict) else {}
        default = self.levels.get("state_default", 50) if state else self.levels.get("events_default", 0)
        return as_level(events.get(event_type, default), 50 if state else 0)

    def moderator(self) -> int:
        return min(self.action("kick"), self.action("ban"), self.action("redact"))


def shown_level(level: int) -> str:
    return "creator" if level >= CREATOR else str(level)
