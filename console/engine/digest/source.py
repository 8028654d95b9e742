"""What the digests read: the engine's groups at a given time, and the moderation beside it."""
from __future__ import annotations

from collections import Counter

from console.engine.activity import GroupSummary, summarize
from console.engine.durations import iso


def moderation_of(engine):
    """The moderation watching this engine (it registers as an observer), or None for a bare engine."""
    from console.engine.moderation import Moderation

    return next((o for o in engine.observers if isinstance(o, Moderation)), None)


def summaries(engine, now: float) -> list[GroupSummary]:
    """Every group's tiering row at ``now``, worst first (the same rows as the report's)."""
    if abs(now - engine.now()) < 1.0:
        return engine.summaries()  # the engine's own, kept for unchanged groups: no second pass over the fleet
    open_by_group = Counter(a.group for a in engine.alerts.live())
    s = engine.settings.detectors.activity
    rows = [summarize(g, now, s, open_by_group.get(g.id, 0)) for g in engine.stats.groups.values()]
    rows.sort(key=lambda r: r.worst_key)
    return rows


def day(at: float) -> str:
    return iso(at)[:10]


def minute(at: float) -> str:
    return iso(at)[:16].replace("T", " ")
