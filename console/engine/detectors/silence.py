"""Silence streaks: lurking members (``silent_member``) and groups gone quiet
(``silent_group``, the zombie group of the playbook: fewer than three
interactions a day)."""
from __future__ import annotations

import heapq
import math
from typing import Iterable

from connectors.events import Event, Message
from console.engine.detectors.base import Context, Finding, Severity
from console.engine.settings import SilentGroupSettings, SilentMemberSettings
from console.engine.stats import DAY, HOUR, FleetStats, GroupStats, MemberStats, hour_index

MAX_LISTED = 500  # members named in one alert's evidence; the count stays exact
INF = float("inf")


class DueTimes:
    """When each group is next due for a look: a heap, so that a tick costs the groups that are due
    (or changed), not a pass over the fleet. Groups never looked at are due at once."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._at)

    def set(self, gid: str, at: float) -> None:
        if self._at.get(gid) == at:
            return
        self._at[gid] = at
        if at != INF:
            heapq.heappush(self._heap, (at, gid))
            if len(self._heap) > 2 * len(self._at) + 64:  # mostly superseded entries: rebuild
                self._heap = [(t, g) for g, t in self._at.items() if t != INF]
                heapq.heapify(self._heap)

    def due(self, now: float, stats: FleetStats, changed: Iterable[str] = ()) -> list[str]:
        """Groups to look at now, in a fixed order: due ones, changed ones, and ones never seen."""
        out: dict[str, None] = {}
        heap, at = self._heap, self._at
        while heap and heap[0][0] <= now:
            t, gid = heapq.heappop(heap)
            if at.get(gid) == t:
                out[gid] = None
        for gid in changed:
            out[gid] = None
        if len(at) < len(stats.groups):
            for gid in stats.groups:
                if gid not in at:
                    out[gid] = None
        return [gid for gid in out if gid in stats.groups]


def silent_since(m: MemberStats, g: GroupStats) -> float:
    """When this member last showed a sign of life we know of.

    Never seen speaking: since they joined, or since we started watching when
    the platform did not tell us when they joined.
    """
    if m.last_message_at is not None:
        return m.last_message_at
    if m.joined_at is not None:
        return m.joined_at
    return g.observed_since


def silent_members(g: GroupStats, now: float, days: float) -> list[MemberStats]:
    """Present members silent for at least ``days``, longest silence first."""
    return scan_silence(g, now, days)[0]


def scan_silence(g: GroupStats, now: float, days: float) -> tuple[list[MemberStats], float, int]:
    """One pass over a group's members: the silent ones (as :func:`silent_members`), when the next of
    the others turns silent (inf: none), and how many are present.

    (``silent_since`` inlined: this runs for every group that changed, at every tick.)"""
    span = days * DAY
    cutoff = now - span
    observed = g.observed_since
    quiet: list[tuple[float, str, MemberStats]] = []
    next_due = INF
    present = 0
    for m in g.members.values():
        if not m.present:
            continue
        present += 1
        t = m.last_message_at
        if t is None:
            t = m.joined_at
            if t is None:
                t = observed
        if t <= cutoff:
            quiet.append((t, m.id, m))
        elif t + span < next_due:
            next_due = t + span
    quiet.sort()  # (silence began, id): ids are unique, members never compared
    return [q[2] for q in quiet], next_due, present


class SilentMemberDetector:
    """Keeps each group's silent list, recomputing a group only when it can have
    changed: a listed member spoke, someone came or went, or the next member is
    due to cross the threshold. A full scan of every member on every tick is
    what a fleet of a thousand groups cannot afford."""

    name = "silent_member"

    def __init__(self, settings: SilentMemberSettings) -> None:
        self.s = settings
        self._last: dict[str, frozenset[str]] = {}
        self._due = DueTimes()  # group -> when its next member turns silent
        self._dirty: set[str] = set()

    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        if type(event) is Message:
            listed = self._last.get(event.group)
            if listed and event.sender in listed:
                self._dirty.add(event.group)
        else:
            self._dirty.add(event.group)
        return ()

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        out: list[Finding] = []
        groups = ctx.stats.groups
        for gid in self._due.due(ctx.now, ctx.stats, sorted(self._dirty)):
            g = groups[gid]
            quiet, next_due, present = scan_silence(g, ctx.now, self.s.days)
            ids = frozenset(m.id for m in quiet)
            self._due.set(g.id, next_due)
            before = self._last.get(g.id, frozenset())
            if self.s.per_member:
                out.extend(self._per_member(g, quiet, before, ids, ctx.now))
            elif ids != before:
                if not ids:
                    out.append(Finding("silent_member", Severity.LOW, g.id, None, (), ctx.now, clears=True))
                elif len(ids ^ before) >= self.s.min_list_change or not before:
                    out.append(self._group_finding(g, quiet, present, ctx.now))
                else:
                    continue  # too small a change to tell anyone; compare against the last told list
            self._last[g.id] = ids
        self._dirty.clear()
        return out

    def _group_finding(self, g: GroupStats, quiet: list[MemberStats], present: int, now: float) -> Finding:
        longest = int((now - silent_since(quiet[0], g)) // DAY)
        return Finding(
            kind="silent_member", severity=Severity.LOW, group=g.id, member=None, at=now,
            reasons=(f"{len(quiet)} of {present} members silent for {self.s.days:g}+ days (longest {longest} d)",),
            numbers={"count": len(quiet), "members_present": present, "days": self.s.days,
                     "members": [m.id for m in quiet[:MAX_LISTED]]},
        )

    def _per_member(self, g: GroupStats, quiet: list[MemberStats], before: frozenset[str],
                    ids: frozenset[str], now: float) -> list[Finding]:
        out = []
        for m in quiet:
            if m.id not in before:
                days = int((now - silent_since(m, g)) // DAY)
                out.append(Finding("silent_member", Severity.LOW, g.id, m.id,
                                   (f"no message for {days} days",), now, numbers={"days": days}))
        for mid in before - ids:
            out.append(Finding("silent_member", Severity.LOW, g.id, mid, (), now, clears=True))
        return out


class SilentGroupDetector:
    """A group is looked at when it changed (``FleetStats.touched``) or when its verdict can next
    change with time alone (:meth:`_next_change`), never more than its own evidence requires."""

    name = "silent_group"
    events = ()  # it looks at the stats, on ticks only

    def __init__(self, settings: SilentGroupSettings) -> None:
        self.s = settings
        self._due = DueTimes()
        self._silent: set[str] = set()  # groups whose last look found them silent

    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        return ()

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        out = []
        groups = ctx.stats.groups
        # An event only makes a group less silent (a later last message, more in the last 24 h): one
        # found not silent stays so until its due time; only the silent ones are looked at again.
        silent = self._silent
        changed = sorted(silent & ctx.stats.touched)  # (a set intersection walks the smaller set)
        for gid in self._due.due(ctx.now, ctx.stats, changed):
            g = groups[gid]
            f = self._check(g, ctx.now)
            if f is not None:
                silent.add(gid)
            else:
                silent.discard(gid)
            out.append(f if f is not None else Finding("silent_group", Severity.LOW, g.id, None, (), ctx.now,
                                                       clears=True))
            self._due.set(gid, self._next_change(g, ctx.now))
        return out

    def _next_change(self, g: GroupStats, now: float) -> float:
        """The earliest time :meth:`_check` can answer differently with no new event."""
        last = g.last_message_at if g.last_message_at is not None else g.observed_since
        quiet_h = (now - last) / HOUR
        # The 24-hour count moves with the hour buckets at both ends of its window.
        due = min((hour_index(now) + 1) * HOUR, (hour_index(now - DAY + 1) + 1) * HOUR + DAY - 1)
        if quiet_h < self.s.hours:
            due = min(due, last + self.s.hours * HOUR)
        else:  # the hours (then days) shown
            step = 1 if quiet_h < 48 else 24
            due = min(due, last + (math.floor(quiet_h / step) + 1) * step * HOUR)
        if now - g.observed_since < DAY:
            due = min(due, g.observed_since + DAY)
        return max(due, math.nextafter(now, INF))

    def _check(self, g: GroupStats, now: float) -> Finding | None:
        last = g.last_message_at if g.last_message_at is not None else g.observed_since
        quiet_h = (now - last) / HOUR
        if quiet_h >= self.s.hours:
            # Whole hours, then whole days: evidence that changes every minute would be noise.
            shown = int(quiet_h) if quiet_h < 48 else int(quiet_h // 24) * 24
            what = "no message" if g.last_message_at is not None else "no message seen since watching began"
            return Finding("silent_group", Severity.MEDIUM, g.id, None,
                           (f"{what} for {shown} h (limit {self.s.hours:g} h)",), now,
                           numbers={"silent_hours": shown})
        if now - g.observed_since >= DAY:
            n = g.messages_between(now - DAY + 1, now)
            if n < self.s.min_daily_messages:
                return Finding("silent_group", Severity.LOW, g.id, None,
                               (f"only {n} messages in the last 24 h (minimum {self.s.min_daily_messages})",), now,
                               numbers={"messages_24h": n})
        return None
