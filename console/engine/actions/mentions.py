"""@-mention quiet members, in batches the platform accepts, never the same
member twice within a cool-down, and measure whether it works (who spoke
again within a few days: the reactivation rate)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from console.engine.actions.model import Action, ActionKind
from console.engine.detectors.silence import silent_members
from console.engine.stats import DAY, GroupStats

DB = "moderation"
DEFAULT_BATCH = 20


@dataclass(slots=True)
class MentionRecord:
    group: str
    member: str
    at: float
    batch: str
    responded_at: float | None = None


@dataclass(slots=True)
class Reactivation:
    mentioned: int      # mentions old enough to judge
    reactivated: int    # of those, spoke within the window
    waiting: int        # too recent to judge yet

    @property
    def rate(self) -> float | None:
        return self.reactivated / self.mentioned if self.mentioned else None


class Mentions:
    def __init__(self, store, cooldown_days: float, reactivation_days: float) -> None:
        self.store = store
        self.cooldown = cooldown_days * DAY
        self.window = reactivation_days * DAY
        self._records = [MentionRecord(**{k: v for k, v in d.items() if k != "_key"})
                         for d in store.read_table(DB, "mentions")]
        self._open: dict[tuple[str, str], int] = {}  # (group, member) -> index of the newest unanswered mention
        for i, r in enumerate(self._records):
            if r.responded_at is None:
                self._open[(r.group, r.member)] = i
        self.dirty = False

    def last_mentioned(self, group: str, member: str) -> float | None:
        times = [r.at for r in self._records if r.group == group and r.member == member]
        return max(times) if times else None

    def candidates(self, g: GroupStats, now: float, days: float, exclude: set[str] = frozenset()) -> list:
        """Present members silent for ``days``, not mentioned within the cool-down."""
        recent = {r.member for r in self._records if r.group == g.id and now - r.at < self.cooldown}
        return [m for m in silent_members(g, now, days)
                if m.id not in recent and m.id not in exclude and not m.id.endswith(":operator")]

    def plan(self, g: GroupStats, members: list, template: str, batch: int, now: float, actor: str) -> list[Action]:
        """One message per batch of at most ``batch`` mentions, in the platform's mention form
        (the connector turns each ``@name`` with its id in ``mentions`` into a real mention)."""
        batch = max(1, batch)
        actions = []
        for i in range(0, len(members), batch):
            chunk = members[i:i + batch]
            mentions = " ".join(f"@{m.name}" for m in chunk)
            text = template.replace("{mentions}", mentions).replace("{group}", g.name)
            actions.append(Action(ActionKind.SEND, g.id, None, text=text, mentions=tuple(m.id for m in chunk),
                                  origin="mention", actor=actor, key=f"mention:{g.id}:{int(now)}:{i // batch}"))
        return actions

    def record(self, actions: list[Action], now: float) -> None:
        """Remember who was mentioned before the messages go out (so the cool-down holds after a crash)."""
        for a in actions:
            for member in a.mentions:
                self._open[(a.group, member)] = len(self._records)
                self._records.append(MentionRecord(a.group, member, now, a.key))
        self._save()

    def on_message(self, group: str, member: str, at: float) -> None:
        """Hot path: a member spoke; if we mentioned them, note when they answered."""
        i = self._open.get((group, member))
        if i is None:
            return
        r = self._records[i]
        if at >= r.at:
            r.responded_at = at
            del self._open[(group, member)]
            self.dirty = True

    def reactivation(self, now: float, group: str | None = None) -> Reactivation:
        judged = reactivated = waiting = 0
        for r in self._records:
            if group is not None and r.group != group:
                continue
            verdict = self._verdict(r, now)
            if verdict is None:
                waiting += 1
                continue
            judged += 1
            reactivated += verdict
        return Reactivation(judged, reactivated, waiting)

    def reactivation_by_group(self, now: float, since: float | None = None) -> dict[str, Reactivation]:
        """Every group's reactivation in one pass (the weekly report), counting the mentions made
        since ``since`` (all kept ones when None)."""
        out: dict[str, Reactivation] = {}
        for r in self._records:
            if since is not None and r.at < since:
                continue
            x = out.get(r.group)
            if x is None:
                x = out[r.group] = Reactivation(0, 0, 0)
            verdict = self._verdict(r, now)
            if verdict is None:
                x.waiting += 1
            else:
                x.mentioned += 1
                x.reactivated += verdict
        return out

    def _verdict(self, r: MentionRecord, now: float) -> bool | None:
        """Did the member speak within the window after the mention (None: too soon to tell)?"""
        answered = r.responded_at is not None and r.responded_at - r.at <= self.window
        if now - r.at < self.window and not answered:
            return None
        return answered

    def flush(self) -> None:
        if self.dirty:
            self._save()

    def _save(self) -> None:
        self.store.replace_table(DB, "mentions", [asdict(r) for r in self._records])
        self.store.commit(DB)
        self.dirty = False
