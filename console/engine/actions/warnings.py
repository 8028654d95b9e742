"""Warnings with escalation: a warning restates the group's rules to the member,
counts across groups within a sliding window, and crossing a step of the
escalation policy mutes, kicks or blacklists automatically, saying so."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from console.engine.actions.ledger import Ledger
from console.engine.actions.model import Action, ActionError, ActionKind, BulkReport
from console.engine.durations import parse_duration

DB = "moderation"
STEP_ACTIONS = ("mute", "kick", "blacklist")


@dataclass(slots=True, frozen=True)
class Step:
    count: int
    action: str
    seconds: float | None = None

    def describe(self) -> str:
        if self.action == "mute" and self.seconds:
            return f"muted for {_human(self.seconds)}"
        return {"mute": "muted", "kick": "kicked", "blacklist": "blacklisted"}[self.action]


def parse_policy(steps: list[str]) -> list[Step]:
    """``["2:mute:1d", "3:blacklist"]`` -> steps; a one-line ActionError names a bad one."""
    out = []
    for raw in steps:
        parts = [p.strip() for p in raw.split(":")]
        try:
            count = int(parts[0])
        except ValueError:
            raise ActionError(f"escalation step {raw!r}: starts with a warning count, like 3:blacklist") from None
        if count < 1 or len(parts) < 2 or parts[1] not in STEP_ACTIONS:
            raise ActionError(f"escalation step {raw!r}: use COUNT:mute:DURATION, COUNT:kick or COUNT:blacklist")
        seconds = None
        if parts[1] == "mute":
            if len(parts) != 3:
                raise ActionError(f"escalation step {raw!r}: a mute needs a duration, like 2:mute:1d")
            seconds = parse_duration(parts[2])
        elif len(parts) != 2:
            raise ActionError(f"escalation step {raw!r}: {parts[1]} takes no duration")
        out.append(Step(count, parts[1], seconds))
    counts = [s.count for s in out]
    if len(set(counts)) != len(counts):
        raise ActionError("escalation: two steps for the same warning count")
    return sorted(out, key=lambda s: s.count)


@dataclass(slots=True)
class Warning:
    id: int
    group: str
    member: str
    at: float
    reason: str
    actor: str
    alert: int | None = None


@dataclass(slots=True)
class WarnOutcome:
    warning: Warning
    count: int  # warnings of this member in the window, this one included
    step: Step | None
    message: str
    actions: list[Action]


class Warnings:
    def __init__(self, store, ledger: Ledger, window_days: float, policy: list[str]) -> None:
        self.store, self.ledger = store, ledger
        self.window = window_days * 86400.0
        self.policy = parse_policy(policy)
        self._items = [Warning(**{k: v for k, v in d.items() if k != "_key"})
                       for d in store.read_table(DB, "warnings")]
        self._next = max((w.id for w in self._items), default=0) + 1

    def of(self, member: str, now: float) -> list[Warning]:
        return [w for w in self._items if w.member == member and 0 <= now - w.at < self.window]

    def count(self, member: str, now: float) -> int:
        return len(self.of(member, now))

    def prepare(self, group: str, member: str, member_name: str, rules: str, reason: str, actor: str,
                now: float, alert: int | None = None) -> WarnOutcome:
        """Record the warning (committed before anything is sent) and build what follows from it."""
        w = Warning(self._next, group, member, now, reason, actor, alert)
        self._next += 1
        self._items.append(w)
        self.store.put_doc(DB, "warnings", str(w.id), asdict(w))
        self.store.commit(DB)
        n = self.count(member, now)
        step = next((s for s in self.policy if s.count == n), None)
        text = f"@{member_name} ⚠ {rules}" + (f" ({reason})" if reason else "")
        actions = [Action(ActionKind.SEND, group, member, text=text, mentions=(member,), origin="warn",
                          actor=actor, key=f"warn:{w.id}:send", reason=reason)]
        message = f"warning {_ordinal(n)} in {self.window / 86400:g} days for {member}"
        if step is not None:
            message += f": {step.describe()} by the escalation policy"
            if step.action == "mute":
                actions.append(Action(ActionKind.MUTE, group, member, seconds=int(step.seconds or 0),
                                      origin="auto:escalation", actor="auto:escalation",
                                      key=f"warn:{w.id}:mute", reason=f"{_ordinal(n)} warning"))
            elif step.action == "kick":
                actions.append(Action(ActionKind.KICK, group, member, origin="auto:escalation",
                                      actor="auto:escalation", key=f"warn:{w.id}:kick",
                                      reason=f"{_ordinal(n)} warning"))
        self.ledger.audit(actor, "warn", group=group, member=member, params={"reason": reason, "count": n},
                          result=message, origin="warn")
        return WarnOutcome(w, n, step, message, actions)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


__all__ = ["Warnings", "WarnOutcome", "Step", "parse_policy", "BulkReport"]
