"""The detector contract: small units that turn events and stats into findings.

A detector never touches alerts or the store. It returns ``Finding``s and the
engine's alert book decides whether each is a new alert, an update, or nothing.
Every finding says why (``reasons``), in words an operator can act on.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from connectors.events import Event
from console.engine.stats import FleetStats


class Severity(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(slots=True)
class Finding:
    kind: str
    severity: Severity
    group: str | None
    member: str | None
    reasons: tuple[str, ...]
    at: float
    excerpt: str | None = None
    message_id: str | None = None
    score: float | None = None
    numbers: dict[str, float | int | str | list] = field(default_factory=dict)
    # True: the condition is over (a quiet group spoke again); close the open alert.
    clears: bool = False


@dataclass(slots=True)
class Context:
    """What a detector may read: the fleet's stats and the engine's clock."""

    stats: FleetStats
    now: float


class Detector(Protocol):
    name: str
    # Optionally, a class attribute ``events``: the event types on_event can find anything in (the engine
    # calls it for those only; () for none). A detector without it is called for every event.

    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        """Called for every event, after stats have taken it in."""
        ...

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        """Called on the engine's evaluation tick, for conditions of time (silence, churn)."""
        ...
