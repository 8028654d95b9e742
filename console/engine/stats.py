"""What the engine knows about each group and member, kept in bounded windows.

Counts live in hour buckets (dict of hour index -> count) so that "messages in
the last hour", "leaves in the last 7 days" and sparklines are cheap, and old
buckets are pruned instead of the whole history being kept.
"""
from __future__ import annotations

from array import array
from collections import deque
from itertools import islice
from dataclasses import dataclass, field

from connectors.events import Ban, Event, Group, Join, Leave, Member, Message, MessageDeleted, platform_of
from console.engine.cohorts import Cohorts

HOUR = 3600.0
DAY = 86400.0
HOUR_BUCKETS_KEPT = 8 * 24  # a week of baseline plus the current day
DAY_BUCKETS_KEPT = 31
# A member who left is forgotten this long after leaving (the weekly report's window: no view shows a
# member who left, and one who comes back is a newcomer again anyway). Without it a fleet's churn (ad
# accounts above all) piles up for ever.
LEFT_MEMBER_KEPT_DAYS = 7


def hour_index(at: float) -> int:
    return int(at // HOUR)


def day_index(at: float) -> int:
    return int(at // DAY)


@dataclass(slots=True)
class MemberStats:
    id: str
    name: str
    joined_at: float | None = None
    last_message_at: float | None = None
    messages_seen: int = 0  # since the engine started watching this member
    present: bool = True
    left_at: float | None = None
    # Messages per day, the last 31 days: day index, count, day index, count... oldest first. A flat array
    # (about 8 bytes a day, untracked by the garbage collector) rather than a dict (about 40 a day, and
    # a thousand bytes for a month): a fleet has tens of thousands of members who speak.
    daily: array | None = None

    def messages_since(self, since: float) -> int:
        daily = self.daily
        if not daily:
            return 0
        first = day_index(since)
        return sum(n for d, n in zip(daily[::2], daily[1::2]) if d >= first)

    def count_message(self, day: int) -> None:
        daily = self.daily
        if daily is None:
            self.daily = array("I", (day, 1))
        elif daily[-2] == day:  # (the common case: today)
            daily[-1] += 1
        else:
            add_day(daily, day)

    def daily_pairs(self) -> list[tuple[int, int]]:
        """[(day index, messages), ...], oldest first."""
        daily = self.daily
        return list(zip(daily[::2], daily[1::2])) if daily else []

    def prune_days(self, oldest: int) -> None:
        """Forget the days before ``oldest`` (the latest day is kept: it says when they last spoke)."""
        daily = self.daily
        if daily and len(daily) > 2 and daily[0] < oldest:
            i = 0
            while i < len(daily) - 2 and daily[i] < oldest:
                i += 2
            del daily[:i]


def add_day(daily: array, day: int, n: int = 1) -> None:
    """Count ``n`` messages on ``day`` in a daily array (kept in day order: a late message of an earlier
    day goes in its place)."""
    i = len(daily) - 2
    while i >= 0 and daily[i] > day:
        i -= 2
    if i >= 0 and daily[i] == day:
        daily[i + 1] += n
    else:
        daily[i + 2:i + 2] = array("I", (day, n))


def daily_from_pairs(pairs) -> array | None:
    """A daily array from (day, messages) pairs in any order (as saved); None for none."""
    if not pairs:
        return None
    daily = array("I")
    for day, n in sorted((int(d), int(c)) for d, c in pairs):
        add_day(daily, day, n)
    return daily


@dataclass(slots=True)
class GroupStats:
    id: str
    name: str
    platform: str
    observed_since: float
    tags: tuple[str, ...] = ()
    member_count_hint: int | None = None
    member_list_complete: bool = False
    last_message_at: float | None = None
    members: dict[str, MemberStats] = field(default_factory=dict)
    hourly_messages: dict[int, int] = field(default_factory=dict)
    hourly_joins: dict[int, int] = field(default_factory=dict)
    hourly_leaves: dict[int, int] = field(default_factory=dict)
    recent: deque[Message] = field(default_factory=lambda: deque(maxlen=50))
    recent_seq: int = 0  # messages ever put in ``recent``: message n is saved in slot n % maxlen
    present_count: int = 0  # kept by FleetStats as members come and go; read on every tick
    version: int = 0  # bumped by every change, so views can cache what they derive from a group

    @property
    def member_count(self) -> int:
        if self.member_list_complete or self.member_count_hint is None:
            return self.present_count
        return max(self.present_count, self.member_count_hint)

    def set_present(self, m: MemberStats, present: bool) -> None:
        if m.present != present:
            m.present = present
            self.present_count += 1 if present else -1

    def present_members(self) -> list[MemberStats]:
        return [m for m in self.members.values() if m.present]

    def count_in(self, buckets: dict[int, int], start: float, end: float) -> int:
        lo, hi = hour_index(start), hour_index(end)
        if hi - lo + 1 < len(buckets):
            return sum(buckets.get(h, 0) for h in range(lo, hi + 1))
        return sum(n for h, n in buckets.items() if lo <= h <= hi)

    def messages_between(self, start: float, end: float) -> int:
        return self.count_in(self.hourly_messages, start, end)

    def leaves_between(self, start: float, end: float) -> int:
        return self.count_in(self.hourly_leaves, start, end)

    def joins_between(self, start: float, end: float) -> int:
        return self.count_in(self.hourly_joins, start, end)

    def hourly_series(self, buckets: dict[int, int], now: float, hours: int) -> list[int]:
        last = hour_index(now)
        return [buckets.get(h, 0) for h in range(last - hours + 1, last + 1)]


@dataclass(slots=True)
class StatsChanges:
    """What changed since the checkpoint last took it (see console.engine.checkpoint): marked where
    the change is made, so a checkpoint costs what changed instead of a comparison of everything."""

    # (Dicts used as ordered sets: documents reach the store, and a restart, in the order things were first
    # seen, so a restored fleet lists its groups and members as it did.)
    groups: dict[str, None] = field(default_factory=dict)
    members: dict[tuple[str, str], None] = field(default_factory=dict)  # (group, member): changed, or forgotten
    days: dict[tuple[str, int], None] = field(default_factory=dict)  # (group, day index) whose buckets changed
    # Recent messages by (group, slot) (see GroupStats.recent_seq): the message now in it, or None.
    recent: dict[tuple[str, int], tuple[int, Message] | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.groups or self.members or self.days or self.recent)

    def take(self, limit: int | None = None) -> StatsChanges:
        """The changes so far (at most about ``limit`` of them), leaving the rest for the next take."""
        if limit is None or len(self.groups) + len(self.members) + len(self.days) + len(self.recent) <= limit:
            out = StatsChanges(self.groups, self.members, self.days, self.recent)
            self.groups, self.members, self.days, self.recent = {}, {}, {}, {}
            return out
        out = StatsChanges()
        for mine, theirs in ((self.groups, out.groups), (self.members, out.members), (self.days, out.days),
                             (self.recent, out.recent)):
            for key in list(islice(mine, max(0, limit))):  # oldest first
                theirs[key] = mine.pop(key)
                limit -= 1
        return out


class FleetStats:
    """Every watched group's stats; applies events and member snapshots."""

    def __init__(self, recent_messages: int = 50, left_member_days: float = LEFT_MEMBER_KEPT_DAYS) -> None:
        self.groups: dict[str, GroupStats] = {}
        self.recent_messages = recent_messages
        self.left_member_days = left_member_days
        self.changes = StatsChanges()
        # Groups changed since the engine's last tick: what time-based detectors must look at again
        # (the engine empties it after each tick).
        self.touched: set[str] = set()
        self._pruned_hour = self._pruned_day = -1
        self.cohorts = Cohorts()  # new-member retention, counted per join week (not per member)

    def group(self, group_id: str, at: float) -> GroupStats:
        g = self.groups.get(group_id)
        if g is None:
            g = GroupStats(id=group_id, name=group_id, platform=platform_of(group_id), observed_since=at,
                           recent=deque(maxlen=self.recent_messages))
            self.groups[group_id] = g
            self.changes.groups[group_id] = None
            self.touched.add(group_id)
        return g

    def load_group(self, group: Group, at: float) -> GroupStats:
        g = self.group(group.id, at)
        g.version += 1
        self.changes.groups[g.id] = None
        self.touched.add(g.id)
        g.name, g.platform, g.tags = group.name, group.platform, group.tags
        if group.member_count is not None:
            g.member_count_hint = group.member_count
        return g

    def load_members(self, group_id: str, members: list[Member], at: float, complete: bool) -> None:
        """Merge a members snapshot; members absent from a complete list have left."""
        g = self.group(group_id, at)
        g.version += 1
        changed = self.changes.members
        self.changes.groups[g.id] = None
        self.touched.add(g.id)
        seen = set()
        for m in members:
            seen.add(m.id)
            changed[(g.id, m.id)] = None
            ms = g.members.get(m.id)
            if ms is None:
                ms = g.members[m.id] = MemberStats(id=m.id, name=m.name, present=False)
            ms.name = m.name
            g.set_present(ms, True)
            if m.joined_at is not None:
                ms.joined_at = m.joined_at
            if m.last_message_at is not None and (ms.last_message_at is None or m.last_message_at > ms.last_message_at):
                ms.last_message_at = m.last_message_at
            if ms.last_message_at is not None and (g.last_message_at is None or ms.last_message_at > g.last_message_at):
                g.last_message_at = ms.last_message_at
        if complete:
            g.member_list_complete = True
            for mid, ms in g.members.items():
                if mid not in seen and ms.present:
                    self.cohorts.left(g.id, ms.joined_at, at)
                    g.set_present(ms, False)
                    ms.left_at = at
                    changed[(g.id, mid)] = None

    def member(self, group_id: str, member_id: str) -> MemberStats | None:
        g = self.groups.get(group_id)
        return g.members.get(member_id) if g else None

    def apply(self, ev: Event) -> None:
        g = self.group(ev.group, ev.at)
        g.version += 1
        changes = self.changes
        changes.groups[g.id] = None
        self.touched.add(g.id)
        if type(ev) is Message:
            self._message(g, ev)
        elif type(ev) is Join:
            changes.members[(g.id, ev.member)] = None
            ms = g.members.get(ev.member)
            if ms is None:
                ms = g.members[ev.member] = MemberStats(id=ev.member, name=ev.member_name, present=False)
            if not ms.present:
                self.cohorts.joined(g.id, ev.at)
            g.set_present(ms, True)
            ms.name, ms.joined_at, ms.left_at = ev.member_name, ev.at, None
            ms.messages_seen = 0  # a rejoin is a newcomer again
            h = hour_index(ev.at)
            g.hourly_joins[h] = g.hourly_joins.get(h, 0) + 1
            changes.days[(g.id, h // 24)] = None
        elif type(ev) is Leave or type(ev) is Ban:
            ms = g.members.get(ev.member)
            if ms is not None and not ms.present:
                return  # a ban after the kick that removed them: one departure
            if ms is not None:
                self.cohorts.left(g.id, ms.joined_at, ev.at)
                g.set_present(ms, False)
                ms.left_at = ev.at
                changes.members[(g.id, ev.member)] = None
            if type(ev) is Leave and ev.kicked_by is None:
                h = hour_index(ev.at)
                g.hourly_leaves[h] = g.hourly_leaves.get(h, 0) + 1
                changes.days[(g.id, h // 24)] = None
        elif type(ev) is MessageDeleted:
            for i, m in enumerate(g.recent):
                if m.id == ev.message_id:
                    del g.recent[i]
                    self._renumber_recent(g)
                    break

    def _message(self, g: GroupStats, ev: Message) -> None:
        ms = g.members.get(ev.sender)
        if ms is None:
            ms = g.members[ev.sender] = MemberStats(id=ev.sender, name=ev.sender_name, present=False)
        ms.name = ev.sender_name
        if not ms.present:
            g.set_present(ms, True)
        ms.messages_seen += 1
        if ms.last_message_at is None or ev.at > ms.last_message_at:
            ms.last_message_at = ev.at
        ms.count_message(day_index(ev.at))
        h = hour_index(ev.at)
        g.hourly_messages[h] = g.hourly_messages.get(h, 0) + 1
        if g.last_message_at is None or ev.at > g.last_message_at:
            g.last_message_at = ev.at
        recent = g.recent
        changes = self.changes
        seq = g.recent_seq
        g.recent_seq = seq + 1
        recent.append(ev)  # (pushing out the oldest, whose slot it takes)
        changes.recent[(g.id, seq % (recent.maxlen or 1))] = (seq, ev)
        changes.members[(g.id, ev.sender)] = None
        changes.days[(g.id, h // 24)] = None

    def _renumber_recent(self, g: GroupStats) -> None:
        """After a message left the middle of the window: every slot again, in order."""
        size = g.recent.maxlen or 1
        for slot, m in enumerate(g.recent):
            self.changes.recent[(g.id, slot)] = (slot, m)
        for slot in range(len(g.recent), size):
            self.changes.recent[(g.id, slot)] = None
        g.recent_seq = len(g.recent)

    def prune(self, now: float) -> None:
        """Drop what fell out of every window we report on: hour buckets once an hour; once a day,
        members' day buckets and the members who left more than ``left_member_days`` ago."""
        hour, day = hour_index(now), day_index(now)
        if hour == self._pruned_hour:
            return
        self._pruned_hour = hour
        oldest_hour = hour - HOUR_BUCKETS_KEPT
        oldest_day = day - DAY_BUCKETS_KEPT
        members_too = day != self._pruned_day
        self._pruned_day = day
        left_before = now - self.left_member_days * DAY
        changes = self.changes
        for g in self.groups.values():
            for buckets in (g.hourly_messages, g.hourly_joins, g.hourly_leaves):
                if buckets and next(iter(buckets)) < oldest_hour or len(buckets) > HOUR_BUCKETS_KEPT + 1:
                    for h in [h for h in buckets if h < oldest_hour]:
                        del buckets[h]
                        changes.days[(g.id, h // 24)] = None
            if not members_too:
                continue
            gone = []
            for ms in g.members.values():
                if ms.daily:
                    ms.prune_days(oldest_day)
                if not ms.present and ms.left_at is not None and ms.left_at < left_before:
                    gone.append(ms.id)
            if gone:
                for mid in gone:
                    del g.members[mid]
                    changes.members[(g.id, mid)] = None
                changes.groups[g.id] = None
                self.touched.add(g.id)
                g.version += 1


def group_to_doc(g: GroupStats) -> dict:
    """A whole group as one document: the layout checkpoints used before the engine saved groups in
    pieces (console.engine.state_docs reads it back, ``groups_from_legacy``); a full picture of a group
    for comparing two."""
    ms = list(g.members.values())
    return {
        "id": g.id, "name": g.name, "platform": g.platform, "observed_since": g.observed_since,
        "tags": list(g.tags), "member_count_hint": g.member_count_hint,
        "member_list_complete": g.member_list_complete, "last_message_at": g.last_message_at,
        "members": {
            "id": [m.id for m in ms], "name": [m.name for m in ms], "joined_at": [m.joined_at for m in ms],
            "last_message_at": [m.last_message_at for m in ms], "seen": [m.messages_seen for m in ms],
            "present": [m.present for m in ms], "left_at": [m.left_at for m in ms],
            "daily": [{str(k): v for k, v in m.daily_pairs()} if m.daily else None for m in ms],
        },
        "hourly_messages": {str(k): v for k, v in g.hourly_messages.items()},
        "hourly_joins": {str(k): v for k, v in g.hourly_joins.items()},
        "hourly_leaves": {str(k): v for k, v in g.hourly_leaves.items()},
        "recent": [[m.id, m.sender, m.sender_name, m.text, m.at, m.reply_to, list(m.mentions)] for m in g.recent],
    }
