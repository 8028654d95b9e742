"""``churn_spike``: members leaving faster than the group's own baseline.

The baseline is the group's voluntary-leave rate over the last days, smoothed
by a prior (an assumed daily exit rate worth ``prior_hours`` of observation) so
that a group we have watched for ten minutes neither spikes on its first leave
nor hides a real wave. Kicks are the operator's doing and never count.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable

from connectors.events import Event, Leave
from console.engine.detectors.base import Context, Finding, Severity
from console.engine.settings import ChurnSettings
from console.engine.stats import HOUR, GroupStats, hour_index

FLEET = None  # the fleet-wide alert has no group


class ChurnDetector:
    name = "churn_spike"
    events = (Leave,)

    def __init__(self, settings: ChurnSettings) -> None:
        self.s = settings
        self._leaves: dict[str, deque[float]] = {}
        self._fleet: deque[float] = deque()
        self._peak: dict[str | None, int] = {}
        self._past_cache: dict[str, tuple[int, int, dict, int]] = {}
        self._fleet_sum: tuple[tuple[int, int], float, int] | None = None

    def on_event(self, event: Event, ctx: Context) -> Iterable[Finding]:
        if type(event) is Leave and event.kicked_by is None:
            self._leaves.setdefault(event.group, deque()).append(event.at)
            self._fleet.append(event.at)
        return ()

    def baseline(self, g: GroupStats, now: float) -> float:
        """Expected voluntary leaves in one window for this group."""
        window_start = now - self.s.window_hours * HOUR
        start = max(g.observed_since, now - self.s.baseline_days * 86400.0)
        # Whole hour buckets strictly before the current window's first bucket.
        end_bucket = hour_index(window_start) - 1
        past = self._past(g, hour_index(start), end_bucket)
        observed_h = max(0.0, (end_bucket + 1) * HOUR - start) / HOUR
        members = max(g.member_count, 1)
        prior = self.s.prior_daily_exit_rate * members / 24.0 * self.s.prior_hours
        rate = (prior + past) / (self.s.prior_hours + observed_h)
        return rate * self.s.window_hours

    def _past(self, g: GroupStats, lo: int, hi: int) -> int:
        """Leaves in hour buckets lo..hi, all before the current window: they change only when the
        window moves to the next hour, so the sum is kept per group until then (the fleet-wide
        baseline asks every group at every tick)."""
        hit = self._past_cache.get(g.id)
        if hit is not None and hit[0] == lo and hit[1] == hi and hit[2] is g.hourly_leaves:
            return hit[3]
        past = sum(n for h, n in g.hourly_leaves.items() if lo <= h <= hi)
        self._past_cache[g.id] = (lo, hi, g.hourly_leaves, past)
        return past

    def on_tick(self, ctx: Context) -> Iterable[Finding]:
        horizon = ctx.now - self.s.window_hours * HOUR
        out: list[Finding] = []
        for gid, times in list(self._leaves.items()):
            while times and times[0] < horizon:
                times.popleft()
            g = ctx.stats.groups.get(gid)
            if g is None:
                continue
            # Below the minimum nothing can spike: skip the baseline (the common case).
            expected = self.baseline(g, ctx.now) if len(times) >= self.s.min_leaves else 0.0
            f = self._judge(gid, len(times), expected, self.s.min_leaves, ctx.now, g.member_count)
            if f:
                out.append(f)
            if not times:
                del self._leaves[gid]
        while self._fleet and self._fleet[0] < horizon:
            self._fleet.popleft()
        if len(self._fleet) >= self.s.fleet_min_leaves:
            # Summed over the fleet once an hour (or when the fleet changes), not at every tick: the
            # baseline drifts by a fraction of a leave within an hour.
            key = (hour_index(ctx.now), len(ctx.stats.groups))
            if self._fleet_sum is None or self._fleet_sum[0] != key:
                groups = ctx.stats.groups.values()
                self._fleet_sum = (key, sum(self.baseline(g, ctx.now) for g in groups),
                                   sum(g.member_count for g in groups))
            _, expected, members = self._fleet_sum
            f = self._judge(FLEET, len(self._fleet), expected, self.s.fleet_min_leaves, ctx.now, members)
            if f:
                out.append(f)
        else:
            self._peak.pop(FLEET, None)
        return out

    def _judge(self, gid: str | None, leaves: int, expected: float, minimum: int, now: float,
               members: int) -> Finding | None:
        spiking = leaves >= minimum and leaves >= self.s.factor * expected
        if not spiking:
            self._peak.pop(gid, None)  # the wave is over; the next one is told afresh
            return None
        if leaves <= self._peak.get(gid, 0):
            return None  # a fading wave is not news; the alert keeps its peak
        self._peak[gid] = leaves
        ratio = leaves / expected if expected > 0 else float("inf")
        severe = leaves >= 2 * minimum and ratio >= 2 * self.s.factor
        scope = "across the fleet" if gid is None else ""
        window = f"{self.s.window_hours:g} h"
        reason = f"{leaves} left {scope} in the last {window}; baseline {expected:.2f} per {window} ({ratio:.0f}x)"
        return Finding("churn_spike", Severity.HIGH if severe else Severity.MEDIUM, gid, None,
                       (" ".join(reason.split()),), now,
                       numbers={"leaves": leaves, "baseline": round(expected, 2), "ratio": round(ratio, 1),
                                "members": members, "window_hours": self.s.window_hours})
