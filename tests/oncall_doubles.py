"""A small stand-in for console.engine.incidents (the on-call contract), for the dispatcher's tests
of timing alone. The end-to-end tests use the real incidents."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from console.engine.detectors.base import Severity


class State(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    EXPIRED = "expired"


@dataclass(slots=True)
class FakeIncident:
    id: int
    kind: str = "ad"
    severity: Severity = Severity.HIGH
    title: str = "Cheap Pills posted the same ad in 4 groups"
    alert_ids: list[int] = field(default_factory=lambda: [1])
    groups: list[str] = field(default_factory=lambda: ["demo:g1"])
    members: list[str] = field(default_factory=lambda: ["demo:u1"])
    first_at: float = 1000.0
    at: float = 1000.0
    state: State = State.OPEN
    acked_by: str | None = None
    acked_at: float | None = None
    silenced_by: int | None = None
    inhibited: bool = False
    rule: str = "sender"
    key: str = "demo:u1"

    @property
    def paging(self) -> bool:
        return self.state is State.OPEN and self.silenced_by is None and not self.inhibited


class FakeIncidents:
    def __init__(self) -> None:
        self.items: dict[int, FakeIncident] = {}
        self._subs = []

    def get(self, i: int) -> FakeIncident | None:
        return self.items.get(i)

    def live(self) -> list[FakeIncident]:
        return [i for i in self.items.values() if i.state not in (State.RESOLVED, State.EXPIRED)]

    def subscribe(self, cb) -> None:
        self._subs.append(cb)

    def change(self, inc: FakeIncident, what: str) -> None:
        self.items[inc.id] = inc
        for cb in self._subs:
            cb(inc, what)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
