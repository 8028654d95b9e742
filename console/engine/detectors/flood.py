"""``flood``: too many messages from one member in a short window (灌水)."""
from __future__ import annotations

from collections import deque
from typing import Iterable

from connectors.events import Event, Message
from console.engine.detectors.base import Context, Finding, Severity
from console.engine.settings import FloodSettings


class FloodDetector:
    name = "flood"
    events = (Message,)

    def __init__(self, settings: FloodSettings) -> None:
        self.s = settings
        # (group, member) -> the times of their messages in the window: a bare time while there is one
        # (most members say one thing a minute: no deque to make, and none for the collector to walk).
        self._recent: dict[tuple[str, str], float | deque[float]] = {}

    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        if type(event) is not Message:
            return ()
        key = (event.group, event.sender)
        at = event.at
        recent = self._recent
        times = recent.get(key)
        horizon = at - self.s.window_s
        if times is None:
            recent[key] = at
            n = 1
        elif type(times) is not deque:
            if times < horizon:  # the one before fell out of the window
                recent[key] = at
                n = 1
            else:
                recent[key] = deque((times, at))
                n = 2
        else:
            times.append(at)
            while times and times[0] < horizon:
                times.popleft()
            n = len(times)
        if n <= self.s.max_messages:
            return ()
        return (Finding(
            kind="flood", severity=Severity.MEDIUM, group=event.group, member=event.sender,
            reasons=(f"{n} messages in {self.s.window_s:g} s (limit {self.s.max_messages})",),
            at=at, excerpt=event.text[:200], message_id=event.id,
            numbers={"messages": n, "window_s": self.s.window_s},
        ),)

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        horizon = ctx.now - self.s.window_s
        recent = self._recent
        gone = []
        for key, t in recent.items():
            if type(t) is deque:
                if not t or t[-1] < horizon:
                    gone.append(key)
            elif t < horizon:
                gone.append(key)
        for key in gone:
            del recent[key]
        return ()
