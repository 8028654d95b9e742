"""New-member retention: of the members who joined a group in a week, the share still there 7 and
30 days after they joined.

Kept as counters per group and per join week (joined, gone within 7 days, gone within 30 days),
never as per-member history: a departure is credited to the week its member joined (the member's
``joined_at``, which stats keeps while the member is known). Weeks older than a 30-day verdict
needs are dropped, so memory is a few counters per group whatever the churn.
"""
from __future__ import annotations

from dataclasses import dataclass

DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday 00:00 UTC.
_MONDAY = 3 * DAY
HORIZONS = (7, 30)
TABLE = "cohorts"
WEEKS_KEPT = 7  # the 30-day verdict on a week is due 4.3 weeks after its end: 7 weeks is ample


def week_of(at: float) -> int:
    return int((at + _MONDAY) // WEEK)


def week_start(week: int) -> float:
    return week * WEEK - _MONDAY


def judged_week(now: float, days: int) -> int:
    """The newest join week whose every member has been in for ``days`` days (or gone) by ``now``."""
    return week_of(now - days * DAY) - 1


@dataclass(slots=True)
class Cohort:
    joined: int = 0
    gone_7d: int = 0   # of those, gone within 7 days of joining
    gone_30d: int = 0  # ... within 30 days (includes gone_7d)

    def gone(self, days: int) -> int:
        return min(self.joined, self.gone_7d if days == 7 else self.gone_30d)


@dataclass(slots=True)
class Retention:
    """One horizon's verdict on one join week (for one group, or summed over groups)."""
    days: int
    week: int
    joined: int
    stayed: int

    @property
    def rate(self) -> float | None:
        return self.stayed / self.joined if self.joined else None

    @property
    def week_start(self) -> float:
        return week_start(self.week)


class Cohorts:
    """Every group's join-week counters; fed by FleetStats as members join and go."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[int, Cohort]] = {}
        self.dirty = False
        self.changed: set[str] = set()  # groups whose counters changed since the last save
        self._rewrite = False

    def joined(self, group: str, at: float) -> None:
        weeks = self.groups.setdefault(group, {})
        w = week_of(at)
        c = weeks.get(w)
        if c is None:
            c = weeks[w] = Cohort()
            for old in [k for k in weeks if k < w - WEEKS_KEPT]:
                del weeks[old]
        c.joined += 1
        self.dirty = True
        self.changed.add(group)

    def left(self, group: str, joined_at: float | None, at: float) -> None:
        """A member gone (left, kicked, banned, or missing from a full member list)."""
        if joined_at is None or at < joined_at:
            return
        c = self.groups.get(group, {}).get(week_of(joined_at))
        if c is None:
            return  # joined before we watched, or too long ago to matter
        stayed = at - joined_at
        if stayed < 30 * DAY:
            c.gone_30d = min(c.joined, c.gone_30d + 1)
            if stayed < 7 * DAY:
                c.gone_7d = min(c.joined, c.gone_7d + 1)
            self.dirty = True
            self.changed.add(group)

    def retention(self, group: str, now: float, days: int) -> Retention:
        w = judged_week(now, days)
        c = self.groups.get(group, {}).get(w)
        if c is None:
            return Retention(days, w, 0, 0)
        return Retention(days, w, c.joined, c.joined - c.gone(days))

    def fleet(self, now: float, days: int) -> Retention:
        w = judged_week(now, days)
        joined = stayed = 0
        for weeks in self.groups.values():
            c = weeks.get(w)
            if c is not None:
                joined += c.joined
                stayed += c.joined - c.gone(days)
        return Retention(days, w, joined, stayed)

    def forget(self, keep: set[str]) -> None:
        """Drop the counters of groups no longer watched."""
        for g in [g for g in self.groups if g not in keep]:
            del self.groups[g]
            self.changed.add(g)
            self.dirty = True

    # --- persistence: one small document per group, with the checkpoint ---

    def save(self, store, db: str) -> None:
        """Stage the counters into ``db`` when they changed (the checkpoint commits them with the stats)."""
        if self._rewrite:
            store.replace_table(db, TABLE, [{**d, "_key": d["group"]} for d in self.to_docs()])
            self._rewrite, self.changed, self.dirty = False, set(), False
        if self.dirty:
            # one document per group, written when that group's counters changed (not the whole table)
            store.put_docs(db, TABLE, {g: self._doc(g) for g in self.changed})
            self.changed = set()
            self.dirty = False

    def load(self, store, db: str) -> None:
        docs = store.read_table(db, TABLE)
        self.load_docs(docs)
        self.dirty = False
        self._rewrite = any("_key" not in d for d in docs)  # written whole before: keyed by group from now

    def _doc(self, group: str) -> dict | None:
        weeks = self.groups.get(group)
        if not weeks:
            return None
        return {"group": group, "weeks": {str(w): [c.joined, c.gone_7d, c.gone_30d] for w, c in weeks.items()}}

    def to_docs(self) -> list[dict]:
        return [{"group": g, "weeks": {str(w): [c.joined, c.gone_7d, c.gone_30d] for w, c in weeks.items()}}
                for g, weeks in self.groups.items() if weeks]

    def load_docs(self, docs: list[dict]) -> None:
        for d in docs:
            try:
                self.groups[str(d["group"])] = {int(w): Cohort(int(v[0]), int(v[1]), int(v[2]))
                                                for w, v in d["weeks"].items()}
            except (KeyError, TypeError, ValueError, IndexError):
                continue  # a damaged entry costs that group's retention numbers, not the start-up
