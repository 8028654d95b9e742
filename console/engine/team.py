"""The team's work, from the audit log: per operator the incidents (or alerts outside an incident)
claimed, acknowledged and resolved, how fast they acknowledged, and the actions they took.

The playbook tracks the butlers' (管家) work as work orders; the audit log already names who did
each thing, so this only reads it. One work item is an incident when the entry is about one
(``incident:<id>``, or an alert the caller maps to its incident), else the alert itself; an operator
acknowledging an incident and, through it, its four alerts did one thing, counted once.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Callable, Iterable

from console.engine.actions.ledger import AuditEntry

ACKED, CLAIMED, RESOLVED = "acknowledged", "claimed", "resolved"
_INCIDENT = re.compile(r"incident:(\d+)")
# Platform actions recorded by the ledger, named as an operator thinks of them.
_PLATFORM = {"send", "kick", "ban", "unban", "delete", "mute"}
# Platform actions that are the consequence of a decision already counted under its own name
# (one blacklist kicks in forty groups; a warning sends one message): counted once, as the decision.
_FOLLOW_ON = {"blacklist", "warn"}
_DECISIONS = {"warn": "warn", "blacklist add": "blacklist", "blacklist remove": "unblacklist",
              "blacklist import": "blacklist import"}
_ORIGIN_NAMES = {"mention": "mention", "post": "post", "cleanup": "cleanup"}


@dataclass(slots=True)
class OperatorWork:
    operator: str
    claimed: set[str] = field(default_factory=set)       # work item keys
    acknowledged: set[str] = field(default_factory=set)
    resolved: set[str] = field(default_factory=set)
    ack_seconds: list[float] = field(default_factory=list)  # for the items they were first to answer
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def median_ack_s(self) -> float | None:
        return statistics.median(self.ack_seconds) if self.ack_seconds else None

    @property
    def actions_total(self) -> int:
        return sum(self.actions.values())


def is_operator(actor: str | None) -> bool:
    """People, not the engine's own automatic steps ("auto:ad", "auto:schedule", ...)."""
    return bool(actor) and actor != "auto" and not actor.startswith("auto:")


def _verb(action: str) -> str | None:
    a = action.lower()
    if "unclaim" in a or "reopen" in a or "unack" in a:
        return None
    if "acknowledg" in a or a.endswith(" ack"):
        return ACKED
    if "claim" in a:
        return CLAIMED
    if "resolv" in a:
        return RESOLVED
    return None


def incident_of(e: AuditEntry) -> int | None:
    """The incident an entry is about: ``incident:<id>`` as its target, or an ``incident`` param."""
    v = e.params.get("incident")
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    for text in (e.params.get("target"), e.origin, e.action):
        if isinstance(text, str):
            m = _INCIDENT.search(text)
            if m:
                return int(m.group(1))
    targets = e.params.get("targets")
    if isinstance(targets, list):
        for t in targets:
            m = _INCIDENT.search(t) if isinstance(t, str) else None
            if m:
                return int(m.group(1))
    return None


def work_item(e: AuditEntry, incident_for_alert: Callable[[int], int | None]) -> str | None:
    """The key of the incident or alert an entry is about (None: it is about neither)."""
    inc = incident_of(e)
    if inc is not None:
        return f"incident:{inc}"
    alert = e.params.get("alert")
    if isinstance(alert, int) and not isinstance(alert, bool):
        inc = incident_for_alert(alert)
        return f"incident:{inc}" if inc is not None else f"alert:{alert}"
    return None


def action_kind(e: AuditEntry) -> str | None:
    """What an operator did, as one counted action (None: not an action, or counted elsewhere)."""
    name = _DECISIONS.get(e.action)
    if name is not None:
        return name
    if e.action in _PLATFORM:
        if not e.result.startswith("done"):
            return None  # refused, failed or unknown: not something that was done
        if e.origin in _FOLLOW_ON or e.origin.startswith(("schedule:", "auto:")) or e.origin == "welcome":
            return None
        return _ORIGIN_NAMES.get(e.origin, e.action)
    return None


def team_work(entries: Iterable[AuditEntry], first_at: Callable[[str, AuditEntry], float | None],
              incident_for_alert: Callable[[int], int | None] = lambda _a: None) -> list[OperatorWork]:
    """Per operator, busiest first. ``first_at(item, entry)`` is when the incident or alert began
    (None when unknown: that acknowledgement is counted but not timed)."""
    by_op: dict[str, OperatorWork] = {}
    answered: set[str] = set()  # items someone already acknowledged or claimed (the first answer is timed)
    for e in sorted(entries, key=lambda x: (x.at, x.id)):
        if not is_operator(e.actor):
            continue
        w = by_op.get(e.actor)
        if w is None:
            w = by_op[e.actor] = OperatorWork(e.actor)
        kind = action_kind(e)
        if kind is not None:
            w.actions[kind] = w.actions.get(kind, 0) + 1
            continue
        verb = _verb(e.action)
        item = work_item(e, incident_for_alert) if verb else None
        if item is None:
            continue
        getattr(w, verb).add(item)
        if verb in (ACKED, CLAIMED) and item not in answered:
            answered.add(item)
            began = first_at(item, e)
            if began is not None and e.at >= began:
                w.ack_seconds.append(e.at - began)
    out = [w for w in by_op.values() if w.claimed or w.acknowledged or w.resolved or w.actions]
    out.sort(key=lambda w: (-(len(w.acknowledged) + len(w.claimed) + len(w.resolved) + w.actions_total),
                            w.operator))
    return out


def first_at_from(engine) -> Callable[[str, AuditEntry], float | None]:
    """When an item began: the engine's incident, else what the entry recorded (``opened_at`` of an
    incident, ``first_at`` of an alert), else the engine's alert (alerts and incidents long ended may
    be gone: then it is not timed)."""
    incidents = engine.incidents

    def first_at(item: str, e: AuditEntry) -> float | None:
        kind, _, ident = item.partition(":")
        if kind == "incident":
            inc = incidents.get(int(ident))
            if inc is not None:
                return inc.first_at
        for key in ("opened_at", "first_at"):
            v = e.params.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
        if kind == "alert":
            a = engine.alerts.get(int(ident))
            return a.first_at if a is not None else None
        return None
    return first_at


def incident_for_alert_from(engine) -> Callable[[int], int | None]:
    """Alert id -> the incident holding it, live or among the ended ones the engine still keeps."""
    incidents = engine.incidents
    mapping: dict[int, int] = {}
    for inc in [*incidents.ended(), *incidents.live()]:  # the live one wins for an alert in both
        for a in inc.alert_ids:
            mapping[a] = inc.id
    return mapping.get


def engine_team_work(engine, entries: Iterable[AuditEntry]) -> list[OperatorWork]:
    """The team's work over these audit entries, with what the engine knows of incidents and alerts."""
    return team_work(entries, first_at_from(engine), incident_for_alert_from(engine))


def automatic_actions(entries: Iterable[AuditEntry]) -> dict[str, int]:
    """Platform actions the engine took by itself (welcomes, ad removals, escalations), by rule."""
    out: dict[str, int] = {}
    for e in entries:
        if e.action not in _PLATFORM or not e.result.startswith("done"):
            continue
        if e.origin.startswith("schedule:"):
            rule = "scheduled post"  # sent for whoever set the schedule up, not by them this time
        elif is_operator(e.actor):
            continue
        else:
            rule = (e.actor or "auto").removeprefix("auto:") or "auto"
        out[rule] = out.get(rule, 0) + 1
    return out
