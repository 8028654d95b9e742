"""The simulated fleet: pure and deterministic, no asyncio and no wall clock.

One ``random.Random(seed)`` drives everything and every loop runs in a fixed
order (lists and insertion-ordered dicts, never sets of strings, whose order
changes between processes), so (seed, groups, tick span) always yields the
same events. Operator actions are queued and applied at the start of the next
tick, so a run is also reproducible given the same actions at the same ticks.

Cost per tick is proportional to the events produced, not to the fleet: the
fleet-wide message count is one Poisson draw split over groups by precomputed
cumulative rates, and speakers are picked by bisecting a cached cumulative
weight list that is rebuilt only when a speaking member joins or leaves.

The world is split by concern: set-up (world_setup), ad teams and floods
(world_ads), the platform API and snapshots (world_platform); records and
constants in model.
"""
from __future__ import annotations

import heapq
from array import array
import random
from bisect import bisect_right
from collections import OrderedDict, deque
from itertools import accumulate
from operator import attrgetter, itemgetter
from typing import Any, Callable

from connectors.events import Event, Join, Leave, Media, Message

from . import corpus, names
from .model import (DAY, DEMO_EPOCH, JOIN_PER_DAY, LABELS_KEPT, LEAVE_PER_DAY, MESSAGE_INDEX_KEPT, MINUTE,
                    OPERATOR_ID, OPERATOR_NAME, PEOPLE_GONE_KEPT_DAYS, PROMOTERS_GONE_KEPT_DAYS, RECEIVED_KEPT, REFILL_PER_DAY,
                    REFUSED_JOINS_KEPT, GroupState, Handler, Person, Seat, Team, hour_factor, poisson)
from .world_ads import Adversaries
from .world_platform import PlatformCalls
from .world_setup import Setup

__all__ = ["DEMO_EPOCH", "OPERATOR_ID", "World"]

class World(Setup, Adversaries, PlatformCalls):
    def __init__(self, groups: int = 40, seed: int = 7, tick_span: float = 60.0, start: float = DEMO_EPOCH) -> None:
        if groups < 1:
            raise ValueError("groups must be at least 1")
        if tick_span <= 0:
            raise ValueError("tick span must be positive")
        self.rng = random.Random(seed)
        # Image and card ads draw from their own stream, so the rest of the fleet is what it always was.
        self._media_rng = random.Random(seed * 1_000_003 + 17)
        self._leave_rng = random.Random(seed * 1_000_033 + 29)  # when promoters move on (see _moves_on)
        self.start = start
        self.span = tick_span
        self.tick = 0
        # Campaigns and floods are per fleet; a big fleet sees proportionally more.
        self.scale = max(1.0, groups / 100)
        self.people: dict[str, Person] = {}
        self.groups: list[GroupState] = []
        self.by_id: dict[str, GroupState] = {}
        self.teams: list[Team] = []
        self.received: list[dict[str, Any]] = []
        self.on_record: Callable[[dict[str, Any]], None] | None = None  # the platform's own log, if kept
        # Ground truth for measuring detectors on the demo: message id -> "ad" | "flood".
        self.labels: OrderedDict[str, str] = OrderedDict()
        # (group, person, at) of joins refused because the person is banned there.
        self.refused_joins: deque[tuple[str, str, float]] = deque(maxlen=REFUSED_JOINS_KEPT)
        self.operator = Person(OPERATOR_ID, OPERATOR_NAME)
        self._heap: list[tuple[float, int, Handler, tuple[Any, ...]]] = []
        self._seq = 0
        self._next_person = 1
        self._next_message = 1
        self._pending: list[tuple[Any, ...]] = []
        self._pending_on: set[tuple[str, str, str]] = set()  # (call, group, target) queued for the next tick
        # The group of each of the newest MESSAGE_INDEX_KEPT messages (for deleting one), by number:
        # message n ("demo:m<n>") is at n % MESSAGE_INDEX_KEPT, as the group's place in ``groups``. A
        # compact ring instead of a dict of ids: 2 bytes a message rather than about 150.
        self._message_groups = array("H", bytes(2 * MESSAGE_INDEX_KEPT))
        self._deleted: set[str] = set()
        self.traffic = 1.0  # share of the usual messages per simulated second (soaks over simulated days)
        self._unseated: dict[str, float] = {}  # person -> when first found in no group (see _forget)
        self._deficit = 0
        self._member_total = 0
        self._target_total = 0
        self._build(groups)

    # --- time ---------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.start + self.tick * self.span

    def _at(self, at: float, handler: Handler, *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, handler, args))
    # --- the tick -----------------------------------------------------------

    def step(self) -> list[Event]:
        """Advance one tick; return its events sorted by time."""
        t0 = self.now
        t1 = t0 + self.span
        out: list[Event] = []
        self._apply_actions(t0, out)
        background = self._background(t0)
        heap, i, n = self._heap, 0, len(background)
        while True:
            next_bg = background[i][0] if i < n else t1
            if heap and heap[0][0] < t1 and heap[0][0] <= next_bg:
                at, _, handler, args = heapq.heappop(heap)
                handler(at, out, *args)
            elif i < n:
                at, handler, g = background[i]
                handler(at, out, g)
                i += 1
            else:
                break
        self.tick += 1
        if self.tick % max(1, round(DAY / self.span)) == 0:
            self._forget(t1)
        out.sort(key=_by_time)
        return out

    def _forget(self, now: float) -> None:
        """Once a simulated day: forget the people gone from every group for a month (nobody banned,
        no team's account), and trim the record of platform calls."""
        keep = {pid for g in self.groups for pid in g.seats}
        keep.update(pid for g in self.groups for pid in g.banned)
        keep.update(p.id for t in self.teams for p in (*t.accounts, *t.sleepers))
        unseated, people = self._unseated, self.people
        for pid in [pid for pid in unseated if pid in keep]:
            del unseated[pid]
        cutoff = now - PEOPLE_GONE_KEPT_DAYS * DAY
        promoters_cutoff = now - PROMOTERS_GONE_KEPT_DAYS * DAY
        for pid in [pid for pid in people if pid not in keep]:
            since = unseated.setdefault(pid, now)
            if since <= (cutoff if people[pid].team < 0 else promoters_cutoff):
                del people[pid], unseated[pid]
        if len(self.received) > RECEIVED_KEPT:
            del self.received[:len(self.received) - RECEIVED_KEPT]

    def _background(self, t0: float) -> list[tuple[float, Handler, GroupState]]:
        rng, span = self.rng, self.span
        items: list[tuple[float, Handler, GroupState]] = []
        n = poisson(rng, self._talk_total * self.traffic * hour_factor(t0 + span / 2) * span)
        if n:
            chosen = rng.choices(self._talking, cum_weights=self._talk_cum, k=n)
            speak = self._speak
            items = [(t0 + rng.random() * span, speak, g) for g in chosen]
        # Churn is rare (well under one event per tick even at 2000 groups), so
        # weighting over the whole fleet when it happens costs little.
        for _ in range(poisson(rng, self._member_total * LEAVE_PER_DAY / DAY * span)):
            g = rng.choices(self.groups, weights=[len(x.seats) for x in self.groups])[0]
            items.append((t0 + rng.random() * span, self._leave, g))
        for _ in range(poisson(rng, (self._target_total * JOIN_PER_DAY + self._deficit * REFILL_PER_DAY) / DAY * span)):
            weights = [x.target * JOIN_PER_DAY + max(0, x.target - len(x.seats)) * REFILL_PER_DAY for x in self.groups]
            g = rng.choices(self.groups, weights=weights)[0]
            items.append((t0 + rng.random() * span, self._join, g))
        items.sort(key=_by_first)
        return items

    # --- membership ---------------------------------------------------------

    def _add(self, g: GroupState, seat: Seat) -> None:
        if len(g.seats) < g.target:
            self._deficit -= 1
        self._member_total += 1
        g.seats[seat.person.id] = seat
        if seat.weight > 0:
            g.dirty = True

    def _remove(self, g: GroupState, pid: str) -> Seat | None:
        seat = g.seats.pop(pid, None)
        if seat is not None:
            self._member_total -= 1
            if len(g.seats) < g.target:
                self._deficit += 1
            if seat.weight > 0:
                g.dirty = True
        return seat

    def _banned(self, g: GroupState, pid: str, at: float) -> bool:
        if pid not in g.banned:
            return False
        until = g.banned[pid]
        if until is not None and at >= until:
            del g.banned[pid]
            return False
        return True

    def _pick_speaker(self, g: GroupState) -> Seat | None:
        if g.dirty:
            g.speakers = [s for s in g.seats.values() if s.weight > 0 and s.person.team < 0]
            g.cum = list(accumulate(s.weight for s in g.speakers))
            g.dirty = False
        if not g.speakers:
            return None
        return g.speakers[bisect_right(g.cum, self.rng.random() * g.cum[-1])]

    # --- messages -----------------------------------------------------------

    def _post(self, g: GroupState, seat: Seat, text: str, at: float, out: list[Event], reply_to: str | None = None,
              mentions: tuple[str, ...] = (), label: str | None = None, mid: str | None = None,
              media: tuple[Media, ...] = ()) -> None:
        if mid is None:
            mid = self._message_id(g)
        p = seat.person
        out.append(Message(g.id, p.id, p.name, text, at, mid, reply_to, mentions, media))
        seat.last_message_at = at
        g.recent.append(mid)
        if label is not None:
            self.labels[mid] = label
            if len(self.labels) > LABELS_KEPT:
                self.labels.popitem(last=False)

    def _message_id(self, g: GroupState) -> str:
        n, kept = self._next_message, len(self._message_groups)
        self._next_message = n + 1
        if n > kept:
            self._deleted.discard(f"demo:m{n - kept}")  # (deleting it again: refused as unknown from now on)
        self._message_groups[n % kept] = g.index
        return f"demo:m{n}"

    def message_group(self, message_id: str) -> str | None:
        """The group of one of the newest messages, or None (unknown, or too old to be deleted)."""
        n, kept = message_number(message_id), len(self._message_groups)
        if n is None or not max(1, self._next_message - kept) <= n < self._next_message:
            return None
        return self.groups[self._message_groups[n % kept]].id

    def _speak(self, at: float, out: list[Event], g: GroupState) -> None:
        seat = self._pick_speaker(g)
        if seat is None or seat.muted_until > at:
            return
        rng = self.rng
        text = g.lines[int(rng.random() * len(g.lines))]
        reply_to: str | None = None
        mentions: tuple[str, ...] = ()
        r = rng.random()
        if r < 0.1 and g.recent:
            reply_to = g.recent[int(rng.random() * len(g.recent))]
        elif r < 0.13:
            other = g.speakers[int(rng.random() * len(g.speakers))]
            if other is not seat:
                text = f"@{other.person.name} {text}"
                mentions = (other.person.id,)
        elif r < 0.2:
            text += names.EMOJI_TAGS[int(rng.random() * len(names.EMOJI_TAGS))]
        self._post(g, seat, text, at, out, reply_to, mentions)

    def _say(self, at: float, out: list[Event], g: GroupState, pid: str, text: str, label: str | None,
             reply_to: str | None = None) -> None:
        """A scheduled message; dropped if the sender has left or is muted by then."""
        seat = g.seats.get(pid)
        if seat is None or seat.muted_until > at:
            return
        self._post(g, seat, text, at, out, reply_to, label=label)

    def _reply(self, at: float, out: list[Event], g: GroupState, pid: str, reply_to: str) -> None:
        seat = g.seats.get(pid)
        if seat is None or seat.muted_until > at:
            return
        rng = self.rng
        self._post(g, seat, corpus.MENTION_REPLIES[int(rng.random() * len(corpus.MENTION_REPLIES))], at, out, reply_to)
        if seat.weight < 0.3 and seat.person.team < 0:
            # Being asked draws a lurker in: it now speaks now and then.
            seat.weight = 0.3
            g.dirty = True

    # --- churn --------------------------------------------------------------

    def _leave(self, at: float, out: list[Event], g: GroupState) -> None:
        if len(g.seats) <= 3:
            return
        rng = self.rng
        keys = list(g.seats)
        for _ in range(8):
            seat = g.seats[keys[int(rng.random() * len(keys))]]
            if not seat.admin and seat.person.team < 0:
                self._remove(g, seat.person.id)
                out.append(Leave(g.id, seat.person.id, at))
                return

    def _join(self, at: float, out: list[Event], g: GroupState) -> None:
        rng = self.rng
        p = self._new_person(names.person_name(rng, g.lang, "parenting" in g.tags))
        weight = min(20.0, rng.paretovariate(1.5)) if rng.random() < 0.4 else 0.0
        inviter = None
        if rng.random() < 0.3:
            friend = self._pick_speaker(g)
            inviter = friend.person.id if friend is not None else None
        self._add(g, Seat(p, at, None, weight))
        out.append(Join(g.id, p.id, p.name, at, inviter))
        if g.profile != "quiet" and rng.random() < 0.3:
            # Newcomers who say hello are the honest first messages an ad detector must not flag.
            text = corpus.NEWCOMER_GREETINGS[int(rng.random() * len(corpus.NEWCOMER_GREETINGS))]
            self._at(at + rng.uniform(20.0, 600.0), self._say, g, p.id, text, None)

    def _wave(self, at: float, out: list[Event], g: GroupState) -> None:
        """Members disturbed by an ad burst leave together over about 20 minutes."""
        rng = self.rng
        count = min(15, 6 + int(rng.random() * 4) + len(g.seats) // 120, max(1, (len(g.seats) - 3) // 2))
        for _ in range(count):
            self._at(at + rng.random() * 20 * MINUTE, self._leave, g)

def message_number(message_id: str) -> int | None:
    """``demo:m<n>`` -> n."""
    if not message_id.startswith("demo:m"):
        return None
    digits = message_id[6:]
    return int(digits) if digits.isdigit() and digits.isascii() else None


_by_time = attrgetter("at")
_by_first = itemgetter(0)
