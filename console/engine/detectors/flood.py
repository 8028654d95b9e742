"""``flood``: too many messages from one member in a short window (灌水)."""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import Iterable

from connectors.events import Event, Message
from console.engine.detectors.base import Context, Finding, Severity
from console.engine.settings import FloodSettings


class FloodDetector:
    name = "flood"

    def __init__(self, settings: FloodSettings) -> None:
        self.s = settings
        # Least recently heard first, so a tick forgets the members gone quiet without looking at the rest.
        self._recent: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        if type(event) is not Message:
            return ()
        key = (event.group, event.sender)
        recent = self._recent
        times = recent.get(key)
        if times is None:
            times = recent[key] = deque()
        else:
            recent.move_to_end(key)
        times.append(event.at)
        horizon = event.at - self.s.window_s
        while times and times[0] < horizon:
            times.popleft()
        n = len(times)
        if n <= self.s.max_messages:
            return ()
        return (Finding(
            kind="flood", severity=Severity.MEDIUM, group=event.group, member=event.sender,
            reasons=(f"{n} messages in {self.s.window_s:g} s (limit {self.s.max_messages})",),
            at=event.at, excerpt=event.text[:200], message_id=event.id,
            numbers={"messages": n, "window_s": self.s.window_s},
        ),)

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        horizon = ctx.now - self.s.window_s
        recent = self._recent
        # (Events a little out of order can leave a stale window behind a fresh one until a later tick:
        # memory only, since every event trims its own window before counting.)
        while recent:
            times = recent[next(iter(recent))]
            if times and times[-1] >= horizon:
                break
            recent.popitem(last=False)
        return ()
