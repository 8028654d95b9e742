"""The engine's state as store documents, one per thing that changes on its own.

A checkpoint writes the documents of what changed (see console.engine.checkpoint),
so the state is cut where changes fall: a message touches its sender's member
document, the group's document, that day's hour buckets and one recent message,
not the whole group.

Tables of the ``state`` database (keys are ``group<TAB>thing``):

* ``groups``: one per group; ``members`` is how many member documents it has (checked on load);
* ``members``: one per member: ``{"g": group, "m": [id, name, joined, last message, seen,
  present, left, [[day, messages], ...]]}``;
* ``days``: one per group and day with hour buckets: ``{"g", "d": day index, "m"/"j"/"l": 24 counts}``;
* ``recent``: one per slot of a group's recent messages (message n of the group goes to slot
  n % window, taking the place of the one it pushes out): ``{"g": group, "s": n, "m": [id, sender,
  name, text, at, reply to, mentions]}``.

Before this layout (schema 1) a group was one document holding its members as columns, its hour
buckets and its recent messages: :func:`groups_from_legacy` reads that.
"""
from __future__ import annotations

from collections import deque

from connectors.events import Message
from console.engine.stats import GroupStats, MemberStats

SCHEMA = 2
_ZEROS = (0,) * 24
_NONE = [0] * 24  # (only encoded, never changed)


def member_key(group: str, member: str) -> str:
    return f"{group}\t{member}"


def day_key(group: str, day: int) -> str:
    return f"{group}\t{day}"


def recent_key(group: str, slot: int) -> str:
    return f"{group}\t{slot}"


# --- to documents ---

def group_doc(g: GroupStats) -> dict:
    return {"id": g.id, "name": g.name, "platform": g.platform, "observed_since": g.observed_since,
            "tags": list(g.tags), "member_count_hint": g.member_count_hint,
            "member_list_complete": g.member_list_complete, "last_message_at": g.last_message_at,
            "members": len(g.members)}


def member_doc(group: str, m: MemberStats) -> dict:
    daily = list(m.daily.items()) if m.daily else None  # [[day, messages], ...]
    return {"g": group, "m": [m.id, m.name, m.joined_at, m.last_message_at, m.messages_seen, m.present, m.left_at,
                              daily]}


def day_doc(g: GroupStats, day: int) -> dict | None:
    """The day's hour buckets, or None when they are all empty (pruned, or never used)."""
    hours = range(day * 24, day * 24 + 24)
    m = list(map(g.hourly_messages.get, hours, _ZEROS))
    j = list(map(g.hourly_joins.get, hours, _ZEROS)) if g.hourly_joins else _NONE
    le = list(map(g.hourly_leaves.get, hours, _ZEROS)) if g.hourly_leaves else _NONE
    if not (any(m) or any(j) or any(le)):
        return None
    return {"g": g.id, "d": day, "m": m, "j": j, "l": le}


def recent_doc(seq: int, m: Message) -> dict:
    return {"g": m.group, "s": seq,
            "m": [m.id, m.sender, m.sender_name, m.text, m.at, m.reply_to, list(m.mentions)]}


# --- from documents ---

def group_from_doc(d: dict, recent_messages: int) -> tuple[GroupStats, int]:
    """A group without its members, buckets or messages, and how many members it must have."""
    g = GroupStats(id=d["id"], name=d["name"], platform=d["platform"], observed_since=d["observed_since"],
                   tags=tuple(d.get("tags", ())), member_count_hint=d.get("member_count_hint"),
                   member_list_complete=d.get("member_list_complete", False),
                   last_message_at=d.get("last_message_at"), recent=deque(maxlen=recent_messages))
    expected = d["members"]
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise ValueError(f"group {g.id}: 'members' is not a count")
    return g, expected


def add_member(groups: dict[str, GroupStats], d: dict) -> None:
    g = groups[d["g"]]
    mid, name, joined, last, seen, present, left, daily = d["m"]
    g.members[mid] = MemberStats(mid, name, joined, last, seen, present, left,
                                 {int(k): v for k, v in daily} if daily else None)
    g.present_count += 1 if present else 0


def add_day(groups: dict[str, GroupStats], d: dict) -> None:
    g = groups[d["g"]]
    first = d["d"] * 24
    for name, buckets in (("m", g.hourly_messages), ("j", g.hourly_joins), ("l", g.hourly_leaves)):
        for i, n in enumerate(d[name]):
            if n:
                buckets[first + i] = n


def add_recent(groups: dict[str, GroupStats], docs: list[dict]) -> None:
    """Each group's recent messages from their slots, oldest first."""
    by_group: dict[str, list[tuple[int, Message]]] = {}
    for d in docs:
        g = groups[d["g"]]
        mid, sender, sname, text, at, reply, mentions = d["m"]
        by_group.setdefault(g.id, []).append((d["s"], Message(group=g.id, sender=sender, sender_name=sname, text=text,
                                                              at=at, id=mid, reply_to=reply,
                                                              mentions=tuple(mentions))))
    for gid, items in by_group.items():
        items.sort(key=lambda item: item[0])
        g = groups[gid]
        g.recent.extend(m for _, m in items)
        g.recent_seq = items[-1][0] + 1


def check_members(g: GroupStats, expected: int) -> None:
    if len(g.members) != expected:
        raise ValueError(f"group {g.id} has {len(g.members)} member records, {expected} expected")


def groups_from_legacy(d: dict, recent_messages: int) -> GroupStats:
    """A schema-1 group document (members as columns, buckets and recent messages inside)."""
    g = GroupStats(id=d["id"], name=d["name"], platform=d["platform"], observed_since=d["observed_since"],
                   tags=tuple(d.get("tags", ())), member_count_hint=d.get("member_count_hint"),
                   member_list_complete=d.get("member_list_complete", False),
                   last_message_at=d.get("last_message_at"), recent=deque(maxlen=recent_messages))
    c = d["members"]
    for mid, name, joined, last, seen, present, left, daily in zip(
            c["id"], c["name"], c["joined_at"], c["last_message_at"], c["seen"], c["present"], c["left_at"],
            c["daily"]):
        g.members[mid] = MemberStats(mid, name, joined, last, seen, present, left,
                                     {int(k): v for k, v in daily.items()} if daily else None)
        g.present_count += 1 if present else 0
    g.hourly_messages = {int(k): v for k, v in d["hourly_messages"].items()}
    g.hourly_joins = {int(k): v for k, v in d["hourly_joins"].items()}
    g.hourly_leaves = {int(k): v for k, v in d["hourly_leaves"].items()}
    for mid, sender, sname, text, at, reply, mentions in d["recent"]:
        g.recent.append(Message(group=g.id, sender=sender, sender_name=sname, text=text, at=at, id=mid,
                                reply_to=reply, mentions=tuple(mentions)))
    g.recent_seq = len(g.recent)
    return g
