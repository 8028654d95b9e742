"""The cursor: where ``getUpdates`` resumes, plus what mapping needs to survive a restart.

It holds the next ``offset``, the chats that became supergroups (old id -> new
id: events and actions on the old id go to the new group) and the membership
changes of the last few minutes (so a join described by both a service message
and a ``chat_member`` update is delivered once, even across a restart between
the two). Replaying an old cursor gives the same events again: mapping depends
on the cursor and the updates only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

VERSION = 1
RECENT_KEEP_S = 300   # membership changes older than this (behind the newest) are dropped
RECENT_MAX = 5000     # a bound for raids: the newest are kept


@dataclass(slots=True)
class CursorState:
    offset: int = 0
    migrated: dict[int, int] = field(default_factory=dict)
    # (chat id, user id) -> ("in" | "out" | "ban", unix time of the change)
    recent: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)


def encode(state: CursorState) -> str:
    recent = sorted(state.recent.items(), key=lambda kv: kv[1][1])
    if recent:
        horizon = recent[-1][1][1] - RECENT_KEEP_S
        recent = [kv for kv in recent if kv[1][1] >= horizon][-RECENT_MAX:]
    return json.dumps({
        "v": VERSION,
        "offset": state.offset,
        "migrated": {str(old): new for old, new in sorted(state.migrated.items())},
        "recent": [[chat, user, kind, at] for (chat, user), (kind, at) in recent],
    }, separators=(",", ":"))


def decode(cursor: str | None) -> CursorState | None:
    """The state in ``cursor``; None for no cursor or one this connector did not write."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        offset = data["offset"]
        if not _is_int(offset) or offset < 0:
            return None
        migrated = {int(old): new for old, new in data.get("migrated", {}).items() if _is_int(new)}
        recent = {}
        for chat, user, kind, at in data.get("recent", []):
            if _is_int(chat) and _is_int(user) and kind in ("in", "out", "ban") and _is_int(at):
                recent[(chat, user)] = (kind, at)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return CursorState(offset, migrated, recent)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
