"""Building the simulated fleet: groups with their members, and the ad teams (part of World)."""
from __future__ import annotations

import math
import sys
from itertools import accumulate

from . import corpus, names
from .model import (ACTIVE, DAY, HOUR, LURKER, MINUTE, OCCASIONAL, OPERATOR_ID, GroupState, Person, Seat, Team)


class Setup:
    """World's set-up: see connectors.demo.world.World."""


    def _new_person(self, name: str, team: int = -1) -> Person:
        # Names come from small pools (120,000 people have 50,000 names at 1,000 groups): one string per
        # name, shared by the engine's members too, saves some 5 MB.
        p = Person(f"demo:u{self._next_person}", sys.intern(name), team)
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
            g = GroupState(f"demo:g{i + 1}", name, tags, lang, profile, per_day / DAY, pool, index=i)
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
