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
"""
from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from operator import attrgetter, itemgetter
from typing import Any, Callable

from connectors.contract import ConnectorError
from connectors.events import Ban, Event, Group, Join, Leave, Media, Member, Message, MessageDeleted

from . import corpus, names

CHINA = timezone(timedelta(hours=8))
DEMO_EPOCH: float = datetime(2026, 1, 5, 9, 0, tzinfo=CHINA).timestamp()
OPERATOR_ID = "demo:operator"
OPERATOR_NAME = "operator (you)"

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

# Relative traffic by hour of day in China time: near silence 1-7am, a lunch
# peak and an evening peak at 20-23h. Normalised to mean 1 so a group's
# messages-per-day rate means what it says.
_SHAPE = (0.55, 0.2, 0.08, 0.05, 0.04, 0.05, 0.12, 0.45, 0.8, 1.0, 1.05, 1.15,
          1.6, 1.4, 1.0, 0.95, 1.0, 1.05, 1.15, 1.3, 1.75, 1.95, 1.85, 1.15)
HOUR_SHAPE = tuple(v * 24 / sum(_SHAPE) for v in _SHAPE)

LEAVE_PER_DAY = 0.003      # background voluntary exits, share of members per day
JOIN_PER_DAY = 0.003       # background arrivals, share of a group's original size per day
REFILL_PER_DAY = 0.5       # extra arrivals per missing member per day, so waves heal slowly
MESSAGE_INDEX_KEPT = 200_000
# Ground-truth records are for checking detectors against recent traffic; a world stepped for days
# (the soak) must not keep one per ad or flood line for ever. Oldest go first.
LABELS_KEPT = 50_000
REFUSED_JOINS_KEPT = 10_000
LURKER, ACTIVE, OCCASIONAL = 0, 1, 2
WAVE_CHANCE = 0.2          # share of later campaigns that drive members out of one group


@dataclass(slots=True)
class Person:
    id: str
    name: str
    team: int = -1  # >= 0: an account of that ad team


@dataclass(slots=True)
class Seat:
    """One person's membership of one group."""

    person: Person
    joined_at: float | None
    last_message_at: float | None
    weight: float = 0.0  # share of the group's traffic; 0 never speaks unprompted
    admin: bool = False
    muted_until: float = 0.0


@dataclass(slots=True)
class GroupState:
    id: str
    name: str
    tags: tuple[str, ...]
    lang: str
    profile: str  # "healthy" | "inactive" | "quiet"
    rate: float   # messages per sim second at an hour factor of 1
    lines: tuple[str, ...]
    target: int = 0
    seats: dict[str, Seat] = field(default_factory=dict)
    banned: dict[str, float | None] = field(default_factory=dict)  # person -> until (None: for ever)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    speakers: list[Seat] = field(default_factory=list)
    cum: list[float] = field(default_factory=list)
    dirty: bool = True


@dataclass(slots=True)
class Team:
    """Promoters working together: posting accounts, sleepers planted in groups, one contact."""

    index: int
    style: str
    lang: str
    contact: str
    contact_kind: str
    handle: str
    accounts: list[Person] = field(default_factory=list)
    sleepers: list[Person] = field(default_factory=list)
    text: str = ""  # the latest campaign's text, reused when a teammate comes back


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


def hour_factor(at: float) -> float:
    return HOUR_SHAPE[int(((at + 8 * HOUR) % DAY) // HOUR)]


Handler = Callable[..., None]


class World:
    def __init__(self, groups: int = 40, seed: int = 7, tick_span: float = 60.0, start: float = DEMO_EPOCH) -> None:
        if groups < 1:
            raise ValueError("groups must be at least 1")
        if tick_span <= 0:
            raise ValueError("tick span must be positive")
        self.rng = random.Random(seed)
        # Image and card ads draw from their own stream, so the rest of the fleet is what it always was.
        self._media_rng = random.Random(seed * 1_000_003 + 17)
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
        self._messages: OrderedDict[str, str] = OrderedDict()
        self._deleted: set[str] = set()
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

    # --- set-up -------------------------------------------------------------

    def _new_person(self, name: str, team: int = -1) -> Person:
        p = Person(f"demo:u{self._next_person}", name, team)
        self._next_person += 1
        self.people[p.id] = p
        return p

    def _build(self, count: int) -> None:
        rng, start = self.rng, self.start
        specs = names.group_names(rng, count)
        order = list(range(count))
        rng.shuffle(order)
        n_quiet = max(1, round(count * 0.1)) if count >= 5 else 0
        n_inactive = round(count * 0.2) if count >= 5 else 0
        quiet = set(order[:n_quiet])
        inactive = set(order[n_quiet:n_quiet + n_inactive])
        line_pools: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}
        ordinary: list[Person] = []
        for i, (name, tags, lang) in enumerate(specs):
            profile = "quiet" if i in quiet else "inactive" if i in inactive else "healthy"
            size = min(500, max(20, int(rng.lognormvariate(math.log(90), 0.8))))
            if profile == "healthy":
                per_day = size * rng.uniform(1.0, 4.0)
            elif profile == "inactive":
                per_day = rng.uniform(0.5, 12.0)
            else:
                per_day = 0.0
            pool = line_pools.get((tags, lang))
            if pool is None:
                pool = line_pools[(tags, lang)] = corpus.chat_lines(tags, lang)
            g = GroupState(f"demo:g{i + 1}", name, tags, lang, profile, per_day / DAY, pool)
            self._populate(g, size, ordinary)
            g.target = len(g.seats)
            self.groups.append(g)
            self.by_id[g.id] = g
        self._build_teams(count)
        # Names come from strangers: plant the hostile ones so every fleet shows them.
        for k, i in enumerate(rng.sample(range(len(ordinary)), min(len(ordinary), 6 + count // 100))):
            ordinary[i].name = names.HOSTILE_NAMES[k % len(names.HOSTILE_NAMES)]
        self._member_total = sum(len(g.seats) for g in self.groups)
        self._target_total = sum(g.target for g in self.groups)
        self._talking = [g for g in self.groups if g.rate > 0]
        self._talk_cum = list(accumulate(g.rate for g in self._talking))
        self._talk_total = self._talk_cum[-1] if self._talk_cum else 0.0
        self._targets = [g for g in self.groups if g.profile != "quiet"]
        self._at(start + rng.uniform(2.2, 7.0) * MINUTE, self._campaign, True)
        self._at(start + rng.uniform(10.0, 40.0) * MINUTE, self._flood)
        # In QQ and WeChat groups the commonest ad is a QR code or a card: one of each early on (a new
        # user sees them flagged in the first wall minute at the default speed), then now and then.
        self._text_teams = len(self.teams)
        mrng = self._media_rng
        self._image_team = Team(len(self.teams), "image", "zh", corpus.new_contact(mrng, "qq"), "qq", "")
        self.teams.append(self._image_team)
        self._at(start + mrng.uniform(8.0, 14.0) * MINUTE, self._image_campaign, "qr")
        self._at(start + mrng.uniform(16.0, 24.0) * MINUTE, self._image_campaign, "card")

    def _populate(self, g: GroupState, size: int, ordinary: list[Person]) -> None:
        rng, start = self.rng, self.start
        parent = "parenting" in g.tags
        if g.profile == "healthy":
            lurk, active = rng.uniform(0.3, 0.55), rng.uniform(0.55, 0.95)
        else:
            lurk, active = rng.uniform(0.45, 0.55), rng.uniform(0.1, 0.4)
        # A quiet group's last message was 26-96 h ago; nobody has spoken since.
        quiet_since = start - rng.uniform(26.0, 96.0) * HOUR if g.profile == "quiet" else None
        quiet_floor = start - 96.0 * HOUR

        def recent(hours_back: float) -> float:
            if quiet_since is not None:
                return quiet_since - rng.random() * (quiet_since - quiet_floor)
            return start - hours_back

        op_joined = start - rng.uniform(100.0, 700.0) * DAY
        g.seats[OPERATOR_ID] = Seat(self.operator, op_joined, recent(rng.uniform(1.0, 48.0) * HOUR), admin=True)
        last_speaker: Seat | None = None
        # Exact quotas, shuffled, keep every group inside its lurker share even when small.
        n = size - 1
        n_lurk = round(lurk * n)
        n_active = max(2, round(active * (n - n_lurk)))
        kinds = [LURKER] * n_lurk + [ACTIVE] * n_active + [OCCASIONAL] * max(0, n - n_lurk - n_active)
        rng.shuffle(kinds)
        # The first two are the group's admins, who talk.
        for k in range(min(2, len(kinds))):
            if kinds[k] != ACTIVE:
                j = kinds.index(ACTIVE, 2)
                kinds[k], kinds[j] = kinds[j], kinds[k]
        for k in range(n):
            if ordinary and rng.random() < 0.06:
                # Fans of one brand sit in several of its groups.
                person = ordinary[int(rng.random() * len(ordinary))]
                if person.id in g.seats:
                    person = self._new_person(names.person_name(rng, g.lang, parent))
                    ordinary.append(person)
            else:
                person = self._new_person(names.person_name(rng, g.lang, parent))
                ordinary.append(person)
            kind = kinds[k]
            if kind == LURKER:
                age = 15.0 + rng.expovariate(1 / 200)
                joined = start - age * DAY
                last = None if rng.random() < 0.5 else start - (14.5 + rng.random() * (age - 14.5)) * DAY
                seat = Seat(person, joined, last)
            elif kind == ACTIVE:
                weight = min(50.0, rng.paretovariate(1.3))
                last = recent(rng.random() ** 2 * 5 * DAY)
                joined = min(start - (2.0 + rng.expovariate(1 / 150)) * DAY, last - HOUR)
                seat = Seat(person, joined, last, weight, admin=k < 2 and k < 1 + int(rng.random() * 2))
                last_speaker = seat
            else:
                last = recent(0.0) if quiet_since is not None else start - (7.0 + rng.random() * 6.5) * DAY
                joined = start - (15.0 + rng.expovariate(1 / 200)) * DAY
                seat = Seat(person, joined, last, 0.05)
            g.seats[person.id] = seat
        if last_speaker is not None:
            # Pin the group's latest message: 26-96 h ago for a quiet group, within
            # the day otherwise, so "quiet" in the first snapshot means exactly these.
            last_speaker.last_message_at = quiet_since if quiet_since is not None else start - rng.uniform(0.1, 20.0) * HOUR

    def _build_teams(self, count: int) -> None:
        rng = self.rng
        for i in range(max(3, count // 25)):
            style = ("contact", "trade", "crypto")[i] if i < 3 else corpus.AD_STYLES[int(rng.random() * 4)]
            lang = "en" if style == "crypto" else "zh"
            kind = "qq" if rng.random() < 0.5 else "wx"
            team = Team(i, style, lang, corpus.new_contact(rng, kind), kind, f"{corpus.rand_str(rng, 5)}_vip")
            self.teams.append(team)
            # Sleepers sit quietly in groups so the team can pull kicked accounts back in.
            fits = [g for g in self.groups if g.profile != "quiet" and self._fits(team, g)] or self.groups
            for g in rng.sample(fits, min(len(fits), max(1, round(count * 0.08)))):
                p = self._new_person(names.person_name(rng, g.lang), i)
                team.sleepers.append(p)
                g.seats[p.id] = Seat(p, self.start - rng.uniform(20.0, 90.0) * DAY, None)
                g.target += 1

    @staticmethod
    def _fits(team: Team, g: GroupState) -> bool:
        return g.lang == "mixed" or g.lang == team.lang

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
        out.sort(key=_by_time)
        return out

    def _background(self, t0: float) -> list[tuple[float, Handler, GroupState]]:
        rng, span = self.rng, self.span
        items: list[tuple[float, Handler, GroupState]] = []
        n = poisson(rng, self._talk_total * hour_factor(t0 + span / 2) * span)
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
            mid = self._message_id(g.id)
        p = seat.person
        out.append(Message(g.id, p.id, p.name, text, at, mid, reply_to, mentions, media))
        seat.last_message_at = at
        g.recent.append(mid)
        if label is not None:
            self.labels[mid] = label
            if len(self.labels) > LABELS_KEPT:
                self.labels.popitem(last=False)

    def _message_id(self, group_id: str) -> str:
        mid = f"demo:m{self._next_message}"
        self._next_message += 1
        self._messages[mid] = group_id
        if len(self._messages) > MESSAGE_INDEX_KEPT:
            self._messages.popitem(last=False)
        return mid

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

    # --- adversaries --------------------------------------------------------

    def _campaign(self, at: float, out: list[Event], first: bool = False) -> None:
        """One team posts one ad, with small variations, to 3-5 groups within a few minutes."""
        rng = self.rng
        team = self.teams[0] if first else self.teams[int(rng.random() * self._text_teams)]
        want = 4 + int(rng.random() * 2) if first else 3 + int(rng.random() * 3)
        fits = [g for g in self._targets if self._fits(team, g)]
        if len(fits) < want:
            fits = self._targets
        targets = rng.sample(fits, min(want, len(fits)))
        team.text = corpus.ad_text(rng, team.style, team.contact, team.contact_kind, team.handle)
        offsets = sorted(rng.random() * 4 * MINUTE for _ in targets)
        for k, (g, off) in enumerate(zip(targets, offsets)):
            off = 0.0 if k == 0 else off
            acct = self._account(team, g, fresh=first)
            self._at(at + off, self._ad_join, g, acct, corpus.vary(rng, team.text))
        if targets:
            if first:
                # The opening act must show a churn spike within the first sim hour.
                g = max(targets, key=lambda x: len(x.seats))
                self._at(at + 5 * MINUTE + rng.random() * 10 * MINUTE + MINUTE, self._wave, g)
            elif rng.random() < WAVE_CHANCE:
                big = [g for g in targets if len(g.seats) >= 30]
                if big:
                    g = big[int(rng.random() * len(big))]
                    self._at(at + rng.uniform(5.0, 15.0) * MINUTE + 5 * MINUTE, self._wave, g)
        self._at(at + rng.uniform(10.0, 20.0) * MINUTE / self.scale, self._campaign, False)

    def _image_campaign(self, at: float, out: list[Event], kind: str) -> None:
        """A QR-code image or a contact/group card, posted by fresh accounts to 2-3 groups."""
        rng, team = self._media_rng, self._image_team
        fits = [g for g in self._targets if g.lang != "en"] or self._targets
        targets = rng.sample(fits, min(2 + int(rng.random() * 2), len(fits)))
        text, media = corpus.image_ad(rng, kind)
        team.text = corpus.card_ad(rng)  # what a teammate re-posts after a kick: a card
        for k, g in enumerate(targets):
            acct = self._new_person(names.ad_account_name(rng, "zh", team.contact, "Q"), team.index)
            team.accounts.append(acct)
            self._at(at + k * rng.uniform(20.0, 90.0), self._image_join, g, acct, text, media)
        nxt = "card" if kind == "qr" else "qr"
        self._at(at + rng.uniform(25.0, 50.0) * MINUTE / self.scale, self._image_campaign, nxt)

    def _image_join(self, at: float, out: list[Event], g: GroupState, acct: Person, text: str,
                    media: tuple[str, ...]) -> None:
        if self._banned(g, acct.id, at):
            self.refused_joins.append((g.id, acct.id, at))
            return
        if acct.id not in g.seats:
            self._add(g, Seat(acct, at, None))
            out.append(Join(g.id, acct.id, acct.name, at, None))
        self._at(at + self._media_rng.uniform(5.0, 40.0), self._say_media, g, acct.id, text, media)

    def _say_media(self, at: float, out: list[Event], g: GroupState, pid: str, text: str, media: tuple[str, ...]) -> None:
        seat = g.seats.get(pid)
        if seat is None or seat.muted_until > at:
            return
        self._post(g, seat, text, at, out, label="ad",
                   media=tuple(Media("image", ref, key=f"demo-{ref}") for ref in media))

    def _account(self, team: Team, g: GroupState, fresh: bool = False) -> Person:
        rng = self.rng
        if not fresh and team.accounts and rng.random() < 0.4:
            # Reused accounts end up in several groups: what a fleet-wide blacklist is for.
            free = [a for a in team.accounts if a.id not in g.seats and a.id not in g.banned]
            if free:
                return free[int(rng.random() * len(free))]
        shown = corpus.obfuscate(rng, team.contact)
        seps = corpus.SEPARATORS_QQ if team.contact_kind == "qq" else corpus.SEPARATORS_WX
        name = names.ad_account_name(rng, team.lang, shown, seps[int(rng.random() * len(seps))])
        acct = self._new_person(name, team.index)
        team.accounts.append(acct)
        return acct

    def _inviter(self, team: Team, g: GroupState, exclude: str) -> str | None:
        for p in team.sleepers:
            if p.id in g.seats:
                return p.id
        for p in team.accounts:
            if p.id != exclude and p.id in g.seats:
                return p.id
        return None

    def _ad_join(self, at: float, out: list[Event], g: GroupState, acct: Person, text: str) -> None:
        rng = self.rng
        if self._banned(g, acct.id, at):
            self.refused_joins.append((g.id, acct.id, at))
            return
        if acct.id not in g.seats:
            team = self.teams[acct.team]
            inviter = self._inviter(team, g, acct.id) if rng.random() < 0.6 else None
            self._add(g, Seat(acct, at, None))
            out.append(Join(g.id, acct.id, acct.name, at, inviter))
        if text:
            # A newcomer's first message, within a minute of joining.
            self._at(at + rng.uniform(5.0, 50.0), self._say, g, acct.id, text, "ad")

    def _team_reacts(self, g: GroupState, acct: Person, at: float) -> None:
        """Kicking one promoter is not enough: a teammate pulls it back and a new account arrives."""
        rng = self.rng
        team = self.teams[acct.team]
        again = corpus.vary(rng, team.text) if rng.random() < 0.5 else ""
        self._at(at + rng.uniform(2.0, 10.0) * MINUTE, self._ad_join, g, acct, again)
        self._at(at + rng.uniform(5.0, 30.0) * MINUTE, self._comeback, g, team.index)

    def _comeback(self, at: float, out: list[Event], g: GroupState, team_index: int) -> None:
        team = self.teams[team_index]
        acct = self._account(team, g, fresh=True)
        self._ad_join(at, out, g, acct, corpus.vary(self.rng, team.text))

    def _flood(self, at: float, out: list[Event]) -> None:
        """Someone posts 10-15 lines within a minute (灌水), well over a flood threshold."""
        rng = self.rng
        if self._talking:
            g = rng.choices(self._talking, cum_weights=self._talk_cum)[0]
            seat = self._pick_speaker(g)
            if seat is not None:
                count = 10 + int(rng.random() * 6)
                span = rng.uniform(30.0, 58.0)
                same = rng.random() < 0.5
                line = corpus.FLOOD_LINES[int(rng.random() * len(corpus.FLOOD_LINES))]
                for off in sorted(rng.random() * span for _ in range(count)):
                    text = line if same else corpus.FLOOD_LINES[int(rng.random() * len(corpus.FLOOD_LINES))]
                    self._at(at + off, self._say, g, seat.person.id, text, "flood")
        self._at(at + rng.uniform(30.0, 90.0) * MINUTE / self.scale, self._flood)

    # --- operator actions ---------------------------------------------------

    def group(self, group_id: str) -> GroupState:
        g = self.by_id.get(group_id)
        if g is None:
            raise ConnectorError(f"unknown group {group_id!r}")
        return g

    def _person(self, member_id: str) -> Person:
        if member_id == OPERATOR_ID:
            raise ConnectorError("that is the operator's own account")
        p = self.people.get(member_id)
        if p is None:
            raise ConnectorError(f"unknown member {member_id!r}")
        return p

    def _seated(self, g: GroupState, member_id: str) -> Person:
        p = self._person(member_id)
        if member_id not in g.seats:
            raise ConnectorError(f"{member_id!r} is not a member of {g.id!r}")
        return p

    def _record(self, action: str, group: str, repeat: bool = False, **extra: Any) -> None:
        """Keep what the platform received. ``repeat`` marks a call that changed nothing (a ban of
        someone already banned): a platform answers it with success, and a check for "acted twice"
        must tell it apart from a second effect."""
        rec: dict[str, Any] = {"action": action, "group": group, "member": None, "text": None, "mentions": [],
                               "key": None, "tick": self.tick, "repeat": repeat}
        rec.update(extra)
        self.received.append(rec)
        if self.on_record is not None:
            self.on_record(rec)

    def _is_pending(self, fn: Handler, g: GroupState, target: str) -> bool:
        return (fn.__name__, g.id, target) in self._pending_on

    def _queue(self, fn: Handler, g: GroupState, target: str, *rest: Any) -> None:
        self._pending.append((fn, g, target, *rest))
        self._pending_on.add((fn.__name__, g.id, target))

    def send(self, group_id: str, text: str, mentions: tuple[str, ...], key: str | None) -> str:
        g = self.group(group_id)
        for m in mentions:
            if m != OPERATOR_ID and m not in self.people:
                raise ConnectorError(f"unknown member {m!r}")
        mid = self._message_id(g.id)
        self._pending.append((self._do_send, g, text, mentions, mid))
        self._record("send", g.id, text=text, mentions=list(mentions), key=key, message=mid)
        return mid

    def kick(self, group_id: str, member_id: str, reason: str) -> None:
        g = self.group(group_id)
        self._seated(g, member_id)
        repeat = self._is_pending(self._do_kick, g, member_id)
        if not repeat:
            self._queue(self._do_kick, g, member_id)
        self._record("kick", g.id, repeat, member=member_id, reason=reason)

    def ban(self, group_id: str, member_id: str, reason: str, until: float | None) -> None:
        g = self.group(group_id)
        self._person(member_id)  # banning someone not (yet) in the group is how a blacklist works
        repeat = (member_id in g.banned and g.banned[member_id] == until and member_id not in g.seats) \
            or self._is_pending(self._do_ban, g, member_id)
        if not repeat:
            self._queue(self._do_ban, g, member_id, until)
        self._record("ban", g.id, repeat, member=member_id, reason=reason, until=until)

    def unban(self, group_id: str, member_id: str) -> None:
        g = self.group(group_id)
        self._person(member_id)
        repeat = (member_id not in g.banned and not self._is_pending(self._do_ban, g, member_id)) \
            or self._is_pending(self._do_unban, g, member_id)
        if not repeat:
            self._queue(self._do_unban, g, member_id)
        self._record("unban", g.id, repeat, member=member_id)

    def delete(self, group_id: str, message_id: str) -> None:
        g = self.group(group_id)
        if self._messages.get(message_id) != g.id:
            raise ConnectorError(f"unknown message {message_id!r} in {g.id!r}")
        repeat = message_id in self._deleted or self._is_pending(self._do_delete, g, message_id)
        if not repeat:
            self._queue(self._do_delete, g, message_id)
        self._record("delete", g.id, repeat, message=message_id)

    def mute(self, group_id: str, member_id: str, seconds: int) -> None:
        g = self.group(group_id)
        self._seated(g, member_id)
        repeat = self._is_pending(self._do_mute, g, member_id)
        if not repeat:
            self._queue(self._do_mute, g, member_id, seconds)
        self._record("mute", g.id, repeat, member=member_id, seconds=seconds)

    def _apply_actions(self, t0: float, out: list[Event]) -> None:
        pending, self._pending = self._pending, []
        self._pending_on.clear()
        for k, (fn, *args) in enumerate(pending):
            fn(t0 + 0.001 * (k + 1), out, *args)

    def _do_send(self, at: float, out: list[Event], g: GroupState, text: str, mentions: tuple[str, ...],
                 mid: str) -> None:
        seat = g.seats[OPERATOR_ID]
        self._post(g, seat, text, at, out, mentions=tuple(mentions), mid=mid)
        rng = self.rng
        for m in mentions:
            s = g.seats.get(m)
            if s is None or s.person.team >= 0:
                continue
            lurker = s.weight == 0 or s.last_message_at is None or s.last_message_at < at - 14 * DAY
            if rng.random() < (0.3 if lurker else 0.7):
                self._at(at + rng.uniform(1.0, 30.0) * MINUTE, self._reply, g, m, mid)

    def _do_kick(self, at: float, out: list[Event], g: GroupState, pid: str) -> None:
        seat = self._remove(g, pid)
        if seat is None:
            return
        out.append(Leave(g.id, pid, at, kicked_by=OPERATOR_ID))
        if seat.person.team >= 0:
            self._team_reacts(g, seat.person, at)

    def _do_ban(self, at: float, out: list[Event], g: GroupState, pid: str, until: float | None) -> None:
        g.banned[pid] = until
        seat = self._remove(g, pid)
        out.append(Ban(g.id, pid, at, by=OPERATOR_ID))
        if seat is not None and seat.person.team >= 0:
            self._team_reacts(g, seat.person, at)

    def _do_unban(self, at: float, out: list[Event], g: GroupState, pid: str) -> None:
        g.banned.pop(pid, None)

    def _do_delete(self, at: float, out: list[Event], g: GroupState, mid: str) -> None:
        if mid in self._deleted:
            return
        self._deleted.add(mid)
        out.append(MessageDeleted(g.id, mid, at, by=OPERATOR_ID))

    def _do_mute(self, at: float, out: list[Event], g: GroupState, pid: str, seconds: int) -> None:
        seat = g.seats.get(pid)
        if seat is not None:
            seat.muted_until = at + seconds

    # --- snapshots ----------------------------------------------------------

    def group_list(self) -> list[Group]:
        return [Group(g.id, g.name, "demo", len(g.seats), g.tags) for g in self.groups]

    def member_list(self, group_id: str) -> list[Member]:
        g = self.group(group_id)
        return [Member(s.person.id, s.person.name, s.joined_at, s.last_message_at, s.admin, False)
                for s in g.seats.values()]


_by_time = attrgetter("at")
_by_first = itemgetter(0)
