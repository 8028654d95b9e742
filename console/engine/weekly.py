"""The weekly report's numbers beside the tiers: new-member retention (7 and 30 days) and the
reactivation of mentioned quiet members, per group and for the fleet. One place for both rules:
the ``report`` view and the weekly digest read them here."""
from __future__ import annotations

from dataclasses import dataclass

from console.engine.actions.mentions import Reactivation
from console.engine.cohorts import Retention
from console.engine.stats import DAY

REACTIVATION_SPAN_DAYS = 30
"""Mentions of the last 30 days are judged: a mention round of last spring says little of this week."""


@dataclass(slots=True)
class GroupWeek:
    retention_7d: Retention
    retention_30d: Retention
    reactivation: Reactivation | None  # None: this group had no mentions in the span


def weekly_numbers(engine, moderation, now: float) -> dict[str, GroupWeek]:
    """Every watched group's retention and reactivation at ``now``."""
    cohorts = engine.stats.cohorts
    react = reactivation_by_group(moderation, now)
    return {gid: GroupWeek(cohorts.retention(gid, now, 7), cohorts.retention(gid, now, 30), react.get(gid))
            for gid in engine.stats.groups}


def reactivation_by_group(moderation, now: float) -> dict[str, Reactivation]:
    if moderation is None:
        return {}
    return moderation.mentions.reactivation_by_group(now, since=now - REACTIVATION_SPAN_DAYS * DAY)


@dataclass(slots=True)
class FleetWeek:
    retention_7d: Retention
    retention_30d: Retention
    reactivation: Reactivation
    reactivation_days: float  # "posted within N days" of the mention


def fleet_numbers(engine, moderation, now: float) -> FleetWeek:
    cohorts = engine.stats.cohorts
    total = Reactivation(0, 0, 0)
    for r in reactivation_by_group(moderation, now).values():
        total.mentioned += r.mentioned
        total.reactivated += r.reactivated
        total.waiting += r.waiting
    days = moderation.mentions.window / DAY if moderation is not None else 0.0
    return FleetWeek(cohorts.fleet(now, 7), cohorts.fleet(now, 30), total, days)
