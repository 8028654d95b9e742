"""Silences: "page nobody about these for a while". Matchers plus an expiry, a creator and a comment.

A silenced alert is still recorded, shown and folded into its incident; the incident only says
``silenced_by`` and pages nobody. Every matcher of a silence must match (kind, group, member,
severity); ``group`` takes the patterns of ``console.engine.matching`` (ids, ``tag:``, ``tier:``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

from console.engine.alerts import Alert
from console.engine.matching import group_matches, parse_pattern
from console.engine.silence_rules import (MATCHER_KEYS, SEVERITIES, SilenceError, check_matchers,  # noqa: F401
                                          parse_matchers)
from console.engine.text import visible

MAX_SECONDS = 400 * 86400
MAX_COMMENT = 300


@dataclass(slots=True)
class Silence:
    id: int
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str = ""
    terms: list = field(default_factory=list, compare=False, repr=False)  # the group pattern, parsed once

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def describe(self) -> str:
        """``kind=silent_member group=tag:archive``: plain text (values are checked, still neutralised)."""
        return " ".join(f"{k}={visible(v, 60)}" for k, v in self.matchers.items())

    def to_doc(self) -> dict:
        return {"id": self.id, "matchers": dict(self.matchers), "starts_at": self.starts_at, "ends_at": self.ends_at,
                "created_by": self.created_by, "comment": self.comment}

    @classmethod
    def from_doc(cls, d: dict) -> "Silence":
        s = cls(id=int(d["id"]), matchers=check_matchers(d["matchers"]), starts_at=float(d["starts_at"]),
                ends_at=float(d["ends_at"]), created_by=str(d["created_by"]), comment=str(d.get("comment", "")))
        s.terms = parse_pattern(s.matchers["group"]) if "group" in s.matchers else []
        return s


class Silences:
    """The silences, active and future; an ended one is dropped at the next tick (the audit log keeps it)."""

    def __init__(self, clock: Callable[[], float], groups: Any = None) -> None:
        self.clock = clock
        self.groups = groups  # what group_matches reads: the engine
        self._items: dict[int, Silence] = {}
        self._ids = itertools.count(1)
        self._listeners: list[Callable[[], None]] = []
        self.dirty = False

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        self.dirty = True
        for listener in self._listeners:
            listener()

    def add(self, matchers: dict[str, str], seconds: float, created_by: str, comment: str = "") -> Silence:
        matchers = check_matchers(matchers)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SECONDS:
            raise SilenceError("a silence needs a duration above 0 and at most 400 days")
        if not isinstance(comment, str):
            raise SilenceError("the comment must be text")
        start = self.clock()
        s = Silence(id=next(self._ids), matchers=matchers, starts_at=start, ends_at=start + float(seconds),
                    created_by=created_by, comment=visible(comment, MAX_COMMENT))
        s.terms = parse_pattern(matchers["group"]) if "group" in matchers else []
        self._items[s.id] = s
        self._changed()
        return s

    def remove(self, silence_id: int) -> Silence:
        s = self._items.pop(silence_id, None)
        if s is None:
            raise SilenceError(f"no silence #{silence_id}")
        self._changed()
        return s

    def get(self, silence_id: int) -> Silence | None:
        return self._items.get(silence_id)

    def list(self) -> list[Silence]:
        return sorted(self._items.values(), key=lambda s: s.id)

    def active(self, now: float | None = None) -> list[Silence]:
        now = self.clock() if now is None else now
        return [s for s in self.list() if s.active(now)]

    def matches(self, s: Silence, alert: Alert) -> bool:
        m = s.matchers
        if "kind" in m and alert.kind != m["kind"]:
            return False
        if "severity" in m and alert.severity.label != m["severity"]:
            return False
        if "member" in m and alert.member != m["member"]:
            return False
        if "group" in m and not group_matches(self.groups, alert.group, s.terms):
            return False
        return True

    def silencing(self, alert: Alert, now: float | None = None) -> Silence | None:
        """The first active silence that matches the alert."""
        if not self._items:
            return None
        now = self.clock() if now is None else now
        for s in self._items.values():
            if s.active(now) and self.matches(s, alert):
                return s
        return None

    def tick(self, now: float) -> bool:
        """Drop ended silences; True when one ended (what it silenced pages again)."""
        ended = [sid for sid, s in self._items.items() if s.ends_at <= now]
        for sid in ended:
            del self._items[sid]
        if ended:
            self._changed()
        return bool(ended)

    def to_docs(self) -> list[dict]:
        return [s.to_doc() for s in self.list()]

    def load_docs(self, docs: list[dict]) -> None:
        top = 0
        for d in docs:
            s = Silence.from_doc(d)
            self._items[s.id] = s
            top = max(top, s.id)
        self._ids = itertools.count(top + 1)
