"""The simulated fleet's records: people, seats, groups and ad teams, and the numbers that shape
its traffic (see connectors.demo.world)."""
from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

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
# A person in no group (and banned nowhere, and no team's account) is forgotten this long after (a day
# after the engine forgets a member who left); an ad team reuses its newest accounts only; the record of
# platform calls keeps the newest. A world stepped for days stays the size of its fleet.
PEOPLE_GONE_KEPT_DAYS = 8
PROMOTERS_GONE_KEPT_DAYS = 2  # a retired ad account (no longer its team's) goes sooner
ACCOUNTS_KEPT = 100
RECEIVED_KEPT = 20_000
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
    index: int = 0  # its place in the world's list of groups


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
