"""Which open alerts expire next: by age (unattended low and medium ones) and by the open queue's cap
(the least severe, unattended first, oldest first).

Two heaps whose entries go stale instead of being removed: an alert that changes is pushed again,
and an entry that no longer matches its alert is skipped (or pushed again as it is now) when it
reaches the top. A tick then costs the alerts that changed or expire, where a scan and a sort of
the whole open queue (thousands of alerts at fleet scale) cost that much at every tick.

The one rule this relies on: an alert's rank can fall (it becomes unattended again) only through a
change the alert book announces (``changed``); a rank that rises unannounced (a snoozed alert kept
current) is found stale and pushed again.
"""
from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING

from console.engine.detectors.base import Severity

if TYPE_CHECKING:
    from console.engine.alerts import Alert


def rank(a: "Alert") -> tuple:
    """The cap's order: the first ones go first."""
    return (a.attended, a.severity, a.at, a.id)


def ages_out(a: "Alert") -> bool:
    """Expires with age: nobody attended it and it is not high."""
    return a.severity < Severity.HIGH and not a.attended


class ExpiryQueue:
    def __init__(self) -> None:
        # Live alerts by id, with the order they (re)entered the open queue: expiries of one tick happen
        # in that order, the order of the book's own open queue.
        self._live: dict[int, tuple[int, "Alert"]] = {}
        self._seq = itertools.count()
        self._by_age: list[tuple[float, int]] = []  # (at, id)
        self._by_rank: list[tuple] = []  # rank(alert)

    def __len__(self) -> int:
        return len(self._live)

    def changed(self, a: "Alert") -> None:
        """A live alert was opened, reopened or changed."""
        if a.id not in self._live:
            self._live[a.id] = (next(self._seq), a)
        heapq.heappush(self._by_rank, rank(a))
        if ages_out(a):
            heapq.heappush(self._by_age, (a.at, a.id))
        self._bound()

    def ended(self, a: "Alert") -> None:
        self._live.pop(a.id, None)
        self._bound()

    def _bound(self) -> None:
        if len(self._by_rank) + len(self._by_age) > 4 * len(self._live) + 128:  # mostly stale: rebuild
            self._rebuild()

    def aged(self, cutoff: float) -> list["Alert"]:
        """The live alerts that expire with age: unattended, below high, last changed before ``cutoff``."""
        heap, live = self._by_age, self._live
        found: dict[int, tuple[int, "Alert"]] = {}
        while heap and heap[0][0] < cutoff:
            at, aid = heapq.heappop(heap)
            hit = live.get(aid)
            if hit is None or aid in found:
                continue
            a = hit[1]
            if not ages_out(a):
                continue  # attended, or high: pushed again if that changes
            if a.at != at:
                heapq.heappush(heap, (a.at, aid))  # changed since: in its place
                continue
            found[aid] = hit
        return [a for _, a in sorted(found.values(), key=lambda h: h[0])]

    def lowest(self, n: int) -> list["Alert"]:
        """The ``n`` live alerts that go first when the queue is over its cap, in that order (taken out
        of the queue: the caller ends them)."""
        heap, live = self._by_rank, self._live
        out: list["Alert"] = []
        seen: set[int] = set()
        while heap and len(out) < n:
            key = heapq.heappop(heap)
            aid = key[-1]
            hit = live.get(aid)
            if hit is None or aid in seen:
                continue
            a = hit[1]
            now = rank(a)
            if now != key:
                heapq.heappush(heap, now)
                continue
            seen.add(aid)
            out.append(a)
        return out

    def _rebuild(self) -> None:
        alerts = [a for _, a in self._live.values()]
        self._by_rank = [rank(a) for a in alerts]
        heapq.heapify(self._by_rank)
        self._by_age = [(a.at, a.id) for a in alerts if ages_out(a)]
        heapq.heapify(self._by_age)
