"""Stand-in for console.engine.matching (CORE's, one rule for silences and routes), with its contract
signature; deleted once that module is on main."""
from __future__ import annotations

from typing import Any


def group_matches(engine: Any, group_id: str, pattern: str) -> bool:
    if pattern == "all" or pattern == group_id:
        return True
    kind, _, value = pattern.partition(":")
    g = engine.stats.groups.get(group_id)
    if g is None:
        return False
    if kind == "tag":
        return value in getattr(g, "tags", ())
    if kind == "tier":
        from console.engine.activity import summarize

        return summarize(g, engine.now(), engine.settings.detectors.activity, 0).tier == value
    return False
