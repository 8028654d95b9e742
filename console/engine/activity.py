"""The two core numbers of the playbook per group: active-member ratio (and the
weekly tier from it) and exit rate; one row per group for reports and screens."""
from __future__ import annotations

from dataclasses import dataclass

from console.engine.settings import ActivitySettings
from console.engine.stats import DAY, HOUR, GroupStats

TIERS = ("high", "ordinary", "inactive", "critical")


def active_ratio(g: GroupStats, now: float, days: float) -> float | None:
    present = [m for m in g.members.values() if m.present]
    if not present:
        return None
    cutoff = now - days * DAY
    active = sum(1 for m in present if m.last_message_at is not None and m.last_message_at >= cutoff)
    return active / len(present)


def tier(ratio: float | None, s: ActivitySettings) -> str:
    """above 40% high, 20-40% ordinary, below 20% inactive, below 10% critical."""
    if ratio is None or ratio < s.critical:
        return "critical"
    if ratio < s.ordinary:
        return "inactive"
    if ratio <= s.high:
        return "ordinary"
    return "high"


def exit_rate(members: int, leaves: int, joins: int) -> float | None:
    """Voluntary leaves in the period over the members the group (or fleet) had at its start."""
    base = members + leaves - joins
    return (leaves / base) if base > 0 else None


@dataclass(slots=True)
class GroupSummary:
    id: str
    name: str
    platform: str
    members: int
    messages_1h: int
    messages_24h: int
    active_ratio: float | None
    tier: str
    last_message_at: float | None
    joins: int
    leaves: int
    exit_rate: float | None
    open_alerts: int
    sparkline: list[int]
    tags: tuple[str, ...] = ()
    leaves_24h: int = 0

    @property
    def worst_key(self) -> tuple:
        """Worst first: most open alerts, then lowest tier, then lowest ratio."""
        return (-self.open_alerts, -TIERS.index(self.tier), self.active_ratio or 0.0, self.id)


def summarize(g: GroupStats, now: float, s: ActivitySettings, open_alerts: int) -> GroupSummary:
    ratio = active_ratio(g, now, s.window_days)
    since = now - s.window_days * DAY
    members = g.member_count
    leaves = g.leaves_between(since, now)
    joins = g.joins_between(since, now)
    return GroupSummary(
        id=g.id, name=g.name, platform=g.platform, members=members,
        messages_1h=g.messages_between(now - HOUR + 1, now), messages_24h=g.messages_between(now - DAY + 1, now),
        active_ratio=ratio, tier=tier(ratio, s), last_message_at=g.last_message_at, joins=joins, leaves=leaves,
        exit_rate=exit_rate(members, leaves, joins), open_alerts=open_alerts,
        sparkline=g.hourly_series(g.hourly_messages, now, 24), tags=g.tags,
        leaves_24h=g.leaves_between(now - DAY, now),
    )
