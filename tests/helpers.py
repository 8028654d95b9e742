"""Small builders for crafted event sequences."""
from __future__ import annotations

from itertools import count

from connectors.events import Join, Leave, Member, Message
from console.engine.stats import FleetStats

T0 = 1_767_574_800.0  # 2026-01-05 01:00 UTC
_ids = count(1)


def msg(group: str, sender: str, at: float, text: str = "hello", name: str | None = None) -> Message:
    return Message(group=group, sender=sender, sender_name=name or sender, text=text, at=at, id=f"m{next(_ids)}")


def join(group: str, member: str, at: float) -> Join:
    return Join(group=group, member=member, member_name=member, at=at)


def leave(group: str, member: str, at: float, kicked_by: str | None = None) -> Leave:
    return Leave(group=group, member=member, at=at, kicked_by=kicked_by)


def fleet_with(group: str, members: dict[str, float | None], at: float, joined: float | None = None) -> FleetStats:
    """A fleet with one group whose members last spoke at the given times."""
    stats = FleetStats()
    stats.load_members(group, [Member(id=m, name=m, joined_at=joined, last_message_at=last)
                               for m, last in members.items()], at, complete=True)
    return stats
