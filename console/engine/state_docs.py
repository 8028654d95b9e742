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
from console.engine.journal_records import Later
from console.engine.stats import GroupStats, MemberStats, daily_from_pairs

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
#
# A checkpoint takes a snapshot of each changed thing on the event loop (a tuple of its fields, see
# journal_records.Later) and the document is made from it in the committing thread: the loop pays
# for the snapshot only. The ``*_doc`` functions make a document at once (a full rewrite).

def _group(gid: str, name: str, platform: str, observed_since: float, tags: tuple[str, ...],
           member_count_hint: int | None, member_list_complete: bool, last_message_at: float | None,
           members: int) -> dict:
    return {"id": gid, "name": name, "platform": platform, "observed_since": observed_since,
            "tags": list(tags), "member_count_hint": member_count_hint,
            "member_list_complete": member_list_complete, "last_message_at": last_message_at,
            "members": members}


def group_later(g: GroupStats) -> Later:
    return Later(_group, g.id, g.name, g.platform, g.observed_since, g.tags, g.member_count_hint,
                 g.member_list_complete, g.last_message_at, len(g.members))


def group_doc(g: GroupStats) -> dict:
    return group_later(g).doc()


def _member(group: str, *fields) -> dict:
    return {"g": group, "m": list(fields)}  # daily (the last field) is [[day, messages], ...] or None


def member_later(group: str, m: MemberStats) -> Later:
    return Later(_member, group, m.id, m.name, m.joined_at, m.last_message_at, m.messages_seen, m.present,
                 m.left_at, m.daily_pairs() or None)


def member_doc(group: str, m: MemberStats) -> dict:
    return member_later(group, m).doc()


def _day(group: str, day: int, m: tuple[int, ...], j: tuple[int, ...] | None, le: tuple[int, ...] | None) -> dict | None:
    if not (any(m) or (j and any(j)) or (le and any(le))):
        return None  # all empty (pruned, or never used): the document goes
    return {"g": group, "d": day, "m": list(m), "j": list(j) if j else _NONE, "l": list(le) if le else _NONE}


def day_later(g: GroupStats, day: int) -> Later:
    hours = range(day * 24, day * 24 + 24)
    return Later(_day, g.id, day, tuple(map(g.hourly_messages.get, hours, _ZEROS)),
                 tuple(map(g.hourly_joins.get, hours, _ZEROS)) if g.hourly_joins else None,
                 tuple(map(g.hourly_leaves.get, hours, _ZEROS)) if g.hourly_leaves else None)


def day_doc(g: GroupStats, day: int) -> dict | None:
    """The day's hour buckets, or None when they are all empty (pruned, or never used)."""
    return day_later(g, day).doc()


def recent_doc(seq: int, m: Message) -> dict:
    return {"g": m.group, "s": seq,
            "m": [m.id, m.sender, m.sender_name, m.text, m.at, m.reply_to, list(m.mentions)]}


def recent_later(seq: int, m: Message) -> Later:
    return Later(recent_doc, seq, m)  # (a message is never changed once taken in)


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
    g.members[mid] = MemberStats(mid, name, joined, last, seen, present, left, daily_from_pairs(daily))
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
                                     daily_from_pairs(daily.items()) if daily else None)
        g.present_count += 1 if present else 0
    g.hourly_messages = {int(k): v for k, v in d["hourly_messages"].items()}
    g.hourly_joins = {int(k): v for k, v in d["hourly_joins"].items()}
    g.hourly_leaves = {int(k): v for k, v in d["hourly_leaves"].items()}
    for mid, sender, sname, text, at, reply, mentions in d["recent"]:
        g.recent.append(Message(group=g.id, sender=sender, sender_name=sname, text=text, at=at, id=mid,
                                reply_to=reply, mentions=tuple(mentions)))
    g.recent_seq = len(g.recent)
    return g
