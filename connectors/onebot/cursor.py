"""The OneBot connector's cursor.

OneBot has no server-side position to resume from: events are pushed and gone.
The cursor therefore says two things. ``session`` and ``seq`` place it in this
process's own event log, so a poll with an older cursor gets the same events
again. ``marks`` hold, per group, the newest message handed over (its time and
the ids seen at that second), and ``at`` the stream time up to which everything
was handed over: after a restart or a dropped stream, history fetched from the
implementation is cut at these marks so nothing is counted twice.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from connectors.events import Event, Message, raw_id

VERSION = 1
IDS_KEPT = 20  # ids remembered for the newest second of a group: a burst in one second is rare beyond that


@dataclass(slots=True, frozen=True)
class Mark:
    at: float
    ids: tuple[str, ...] = ()

    def covers(self, at: float, message_id: str) -> bool:
        """True when a message at ``at`` with ``message_id`` was already handed over."""
        return at < self.at or (at == self.at and message_id in self.ids)


@dataclass(slots=True)
class Cursor:
    session: str = ""
    seq: int = 0
    at: float | None = None
    marks: dict[str, Mark] = field(default_factory=dict)  # raw group number -> newest message handed over

    def encode(self) -> str:
        return json.dumps({"v": VERSION, "s": self.session, "n": self.seq, "t": self.at,
                           "g": {g: [m.at, list(m.ids)] for g, m in sorted(self.marks.items())}},
                          separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> "Cursor | None":
        """The cursor in ``text``; None for no cursor, another connector's, or garbage (then: start from now)."""
        if not text:
            return None
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.get("v") != VERSION:
                return None
            session, seq, at = d.get("s"), d.get("n"), d.get("t")
            if not isinstance(session, str) or isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
                return None
            if at is not None and (isinstance(at, bool) or not isinstance(at, (int, float))):
                return None
            marks: dict[str, Mark] = {}
            for g, value in (d.get("g") or {}).items():
                t, ids = value
                if isinstance(t, bool) or not isinstance(t, (int, float)) or not isinstance(ids, list):
                    return None
                marks[str(g)] = Mark(float(t), tuple(str(i) for i in ids[-IDS_KEPT:]))
        except (ValueError, TypeError, AttributeError):
            return None
        return cls(session, seq, None if at is None else float(at), marks)

    def after(self, events: Iterable[Event], session: str, seq: int, stream_at: float | None) -> "Cursor":
        """The cursor that follows ``events`` (handed over in this order)."""
        marks = dict(self.marks)
        at = self.at
        for ev in events:
            at = ev.at if at is None else max(at, ev.at)
            if type(ev) is not Message:
                continue
            g = raw_id(ev.group)
            m = marks.get(g)
            if m is None or ev.at > m.at:
                marks[g] = Mark(ev.at, (ev.id,))
            elif ev.at == m.at and ev.id not in m.ids:
                marks[g] = Mark(m.at, (m.ids + (ev.id,))[-IDS_KEPT:])
        if stream_at is not None:
            at = stream_at if at is None else max(at, stream_at)
        return Cursor(session, seq, at, marks)
