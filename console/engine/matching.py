"""Which groups a pattern names: the one rule behind schedule targets, silences and routes.

A pattern is a comma-separated list of terms, united: a group id (``platform:id``), ``tag:NAME``,
``tier:LEVEL`` or ``all`` (``console.engine.actions.schedules.parse_target`` reads and checks it).
"""
from __future__ import annotations

import weakref
from typing import Any, Protocol

from console.engine.activity import summarize


class GroupFacts(Protocol):
    """What a term looks at: a GroupSummary, a GroupRow (the service's view) or alike."""
    id: str
    tags: Any
    tier: str


def term_matches(kind: str, value: str, group: GroupFacts) -> bool:
    """One parsed term (see ``parse_target``) against one group."""
    if kind == "all":
        return True
    if kind == "tag":
        return value in group.tags
    if kind == "tier":
        return group.tier == value
    return group.id == value


def parse_pattern(pattern: str) -> list[tuple[str, str]]:
    """The pattern's terms; a bad one raises ActionError with a one-line message."""
    from console.engine.actions.schedules import parse_target

    return parse_target(pattern)


def group_matches(source: Any, group_id: str | None, pattern: str | list[tuple[str, str]]) -> bool:
    """Whether the group ``group_id`` is named by ``pattern``.

    ``source`` says what is known of the groups: the engine (its stats; a tier is computed only when a
    ``tier:`` term asks), a mapping of group id -> summary/row, or a list of summaries/rows. A group
    it does not know matches only an id term naming it, or ``all``.
    """
    if group_id is None:
        return False
    terms = parse_pattern(pattern) if isinstance(pattern, str) else pattern
    facts = None
    for kind, value in terms:
        if kind == "all" or (kind == "group" and value == group_id):
            return True
        if kind == "group":
            continue
        if facts is None:
            facts = _facts(source, group_id, need_tier=any(k == "tier" for k, _ in terms))
            if facts is None:
                return False
        if term_matches(kind, value, facts):
            return True
    return False


class _Facts:
    __slots__ = ("id", "tags", "tier")

    def __init__(self, id: str, tags: Any, tier: str) -> None:
        self.id, self.tags, self.tier = id, tags, tier


# per engine: group id -> (its version, the minute, its tier)
_TIERS: "weakref.WeakKeyDictionary[Any, dict[str, tuple[int, int, str]]]" = weakref.WeakKeyDictionary()
TIER_CACHE_MAX = 50_000


def _tier(engine: Any, g: Any) -> str:
    """A group's tier, computed at most once a (simulated) minute per group version: re-checking every
    open alert against a tier: silence must not summarise a group per alert."""
    now = engine.now()
    minute = int(now // 60)
    cache = _TIERS.get(engine)
    if cache is None:
        cache = _TIERS[engine] = {}
    hit = cache.get(g.id)
    if hit is not None and hit[0] == g.version and hit[1] == minute:
        return hit[2]
    tier = summarize(g, now, engine.settings.detectors.activity, 0).tier
    if len(cache) > TIER_CACHE_MAX:
        cache.clear()
    cache[g.id] = (g.version, minute, tier)
    return tier


def _facts(source: Any, group_id: str, need_tier: bool) -> GroupFacts | None:
    stats = getattr(source, "stats", None)
    if stats is not None and hasattr(source, "settings"):  # the engine
        g = stats.groups.get(group_id)
        if g is None:
            return None
        return _Facts(g.id, g.tags, _tier(source, g) if need_tier else "")
    if isinstance(source, dict):
        return source.get(group_id)
    for row in source or ():
        if row.id == group_id:
            return row
    return None
