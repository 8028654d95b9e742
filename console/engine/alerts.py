"""Alerts: what detectors found, with a life of its own (open, acknowledged,
snoozed, resolved, expired). One open alert per (kind, group, member): a finding for a
key that already has an open alert updates it instead of adding another.

Memory is bounded: unattended low and medium alerts expire after an age, the open queue has a cap
(the oldest low ones go first), and ended alerts are kept only as a bounded history."""
from __future__ import annotations

import enum
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from console.engine.alert_expiry import ExpiryQueue
from console.engine.detectors.base import Finding, Severity
from console.engine.journal_records import Later


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    EXPIRED = "expired"  # nobody attended it within the configured age, or the open queue was full


ENDED = (AlertState.RESOLVED, AlertState.EXPIRED)
EXPIRED_BY = "expired"  # resolved_by of an alert that expired


AlertKey = tuple[str, str | None, str | None]


@dataclass(slots=True)
class Alert:
    id: int
    kind: str
    severity: Severity
    group: str | None
    member: str | None
    reasons: tuple[str, ...]
    first_at: float
    at: float  # last time a finding updated it
    excerpt: str | None = None
    message_id: str | None = None
    score: float | None = None
    numbers: dict = field(default_factory=dict)
    state: AlertState = AlertState.OPEN
    snoozed_until: float | None = None
    hits: int = 1
    resolved_by: str | None = None  # "auto" when the condition cleared, else an operator
    # Shared triage between moderators: who is on it, and who already acted on it (and how), so a
    # second moderator is told instead of acting twice.
    claimed_by: str | None = None
    claimed_at: float | None = None
    handled_by: str | None = None
    handled_at: float | None = None
    handled_how: str | None = None
    state_by: str | None = None   # who last acknowledged, snoozed or reopened it, and when
    state_at: float | None = None

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.group, self.member)

    @property
    def is_live(self) -> bool:
        return self.state not in ENDED

    @property
    def attended(self) -> bool:
        """Someone looked at it: acknowledged, snoozed, claimed or acted on."""
        return self.state is not AlertState.OPEN or self.claimed_by is not None or self.handled_by is not None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def later(self) -> Later:
        """A snapshot made into its document when written, in the checkpoint's thread (``reasons`` is a
        tuple and ``numbers`` is replaced, never changed in place, so both are taken as they are)."""
        return Later(_alert_doc, self.id, self.kind, self.severity.label, self.group, self.member, self.reasons,
                     self.first_at, self.at, self.excerpt, self.message_id, self.score, self.numbers,
                     self.state.value, self.snoozed_until, self.hits, self.resolved_by, self.claimed_by,
                     self.claimed_at, self.handled_by, self.handled_at, self.handled_how, self.state_by,
                     self.state_at)

    def to_doc(self) -> dict:
        return self.later().doc()

    @classmethod
    def from_doc(cls, d: dict) -> "Alert":
        d = dict(d)
        d.pop("_key", None)
        d["severity"] = Severity[d["severity"].upper()]
        d["state"] = AlertState(d["state"])
        d["reasons"] = tuple(d["reasons"])
        return cls(**d)


_FIELDS = ("id", "kind", "severity", "group", "member", "reasons", "first_at", "at", "excerpt", "message_id", "score",
           "numbers", "state", "snoozed_until", "hits", "resolved_by", "claimed_by", "claimed_at", "handled_by",
           "handled_at", "handled_how", "state_by", "state_at")


def _alert_doc(*values) -> dict:
    d = dict(zip(_FIELDS, values))
    d["reasons"] = list(d["reasons"])
    return d


class Change(enum.StrEnum):
    NEW = "new"
    UPDATED = "updated"
    RESOLVED = "resolved"
    STATE = "state"  # an operator changed its state


Listener = Callable[[Alert, Change], None]


class AlertBook:
    """The live alerts, keyed so a finding updates rather than duplicates."""

    def __init__(self, keep_resolved: int = 2000) -> None:
        self._live: dict[AlertKey, Alert] = {}
        self._by_id: dict[int, Alert] = {}
        self._resolved: deque[Alert] = deque()
        # Woken every tick: looked up apart, since the open queue of an unattended fleet grows for days.
        self._snoozed: dict[int, Alert] = {}
        self._keep_resolved = keep_resolved
        # Standing conditions whose alert expired (a silent group nobody attended): the detectors find
        # them again every tick, and re-raising each would page again and churn the queue. Quiet until
        # the condition clears, gets worse, or (an ad) a new message is found. key -> (severity, message)
        self._expired: dict[AlertKey, tuple[Severity, str | None]] = {}
        self._ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._expiry = ExpiryQueue()  # what expires next, without a pass over the open queue each tick
        self.dirty = False

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, alert: Alert, change: Change) -> None:
        self.dirty = True
        if alert.is_live:  # (an ended alert can still be marked handled)
            self._expiry.changed(alert)
        for listener in self._listeners:
            listener(alert, change)

    def __len__(self) -> int:
        return len(self._live)

    def get(self, alert_id: int) -> Alert | None:
        return self._by_id.get(alert_id)

    def live(self) -> list[Alert]:
        return list(self._live.values())

    def open_for(self, kind: str, group: str | None, member: str | None = None) -> Alert | None:
        return self._live.get((kind, group, member))

    def resolved(self) -> list[Alert]:
        """The bounded history of ended alerts (resolved or expired), oldest first."""
        return list(self._resolved)

    def apply(self, f: Finding) -> tuple[Alert, Change] | None:
        key = (f.kind, f.group, f.member)
        current = self._live.get(key)
        if f.clears:
            self._expired.pop(key, None)
            if current is None:
                return None
            return current, self._resolve(current, f.at, "auto")
        if current is None and key in self._expired:
            severity, message = self._expired[key]
            if f.severity <= severity and (f.message_id is None or f.message_id == message):
                return None  # the same condition that expired unattended: still known, not news
            del self._expired[key]
        if current is None:
            alert = Alert(id=next(self._ids), kind=f.kind, severity=f.severity, group=f.group, member=f.member,
                          reasons=f.reasons, first_at=f.at, at=f.at, excerpt=f.excerpt, message_id=f.message_id,
                          score=f.score, numbers=dict(f.numbers))
            self._live[key] = alert
            self._by_id[alert.id] = alert
            self._emit(alert, Change.NEW)
            return alert, Change.NEW
        if (current.reasons == f.reasons and current.numbers == f.numbers and current.severity >= f.severity
                and current.excerpt == f.excerpt):
            return None  # the same condition seen again: nothing new to tell anyone
        if f.message_id is not None and f.message_id == current.message_id:
            # More evidence about the same message: keep what was already known.
            reasons = f.reasons + tuple(r for r in current.reasons if r not in f.reasons)
        else:
            reasons = f.reasons
        current.reasons, current.numbers, current.at = reasons, dict(f.numbers), max(current.at, f.at)
        current.severity = max(current.severity, f.severity)
        current.excerpt = f.excerpt if f.excerpt is not None else current.excerpt
        current.message_id = f.message_id or current.message_id
        current.score = f.score if f.score is not None else current.score
        current.hits += 1
        if current.state is AlertState.SNOOZED:
            return None  # snoozed: keep it current, but quiet
        self._emit(current, Change.UPDATED)
        return current, Change.UPDATED

    def _resolve(self, alert: Alert, at: float, by: str, state: AlertState = AlertState.RESOLVED) -> Change:
        alert.state, alert.at, alert.resolved_by = state, at, by
        if state is AlertState.EXPIRED:
            self._expired[alert.key] = (alert.severity, alert.message_id)
            while len(self._expired) > max(4 * self._keep_resolved, 50_000):
                del self._expired[next(iter(self._expired))]
        del self._live[alert.key]
        self._expiry.ended(alert)
        self._snoozed.pop(alert.id, None)
        self._resolved.append(alert)
        while len(self._resolved) > self._keep_resolved:
            old = self._resolved.popleft()
            self._by_id.pop(old.id, None)
        self._emit(alert, Change.RESOLVED)  # listeners tell an expiry by the alert's state
        return Change.RESOLVED

    def expire(self, now: float, max_age: float, cap: int) -> int:
        """End unattended low and medium alerts older than ``max_age`` seconds (0: never), then, while
        more than ``cap`` are open, the oldest of the least severe (unattended ones first)."""
        gone = 0
        if max_age > 0:
            for a in self._expiry.aged(now - max_age):
                self._resolve(a, now, EXPIRED_BY, AlertState.EXPIRED)
                gone += 1
        over = len(self._live) - cap
        if cap > 0 and over > 0:
            oldest = self._expiry.lowest(over)
            for a in oldest:
                self._resolve(a, now, EXPIRED_BY, AlertState.EXPIRED)
            gone += len(oldest)
        return gone

    def acknowledge(self, alert_id: int, at: float) -> Alert:
        alert = self._require_live(alert_id)
        alert.state, alert.snoozed_until = AlertState.ACKNOWLEDGED, None
        self._snoozed.pop(alert.id, None)
        self._emit(alert, Change.STATE)
        return alert

    def snooze(self, alert_id: int, until: float) -> Alert:
        alert = self._require_live(alert_id)
        alert.state, alert.snoozed_until = AlertState.SNOOZED, until
        self._snoozed[alert.id] = alert
        self._emit(alert, Change.STATE)
        return alert

    def resolve(self, alert_id: int, at: float, by: str) -> Alert:
        alert = self._require_live(alert_id)
        self._resolve(alert, at, by)
        return alert

    def reopen(self, alert_id: int) -> Alert:
        """An ended alert back in the queue (an operator's undo of a resolve): refused when it left the
        history or a newer alert holds its key."""
        alert = self._by_id.get(alert_id)
        if alert is None:
            raise KeyError(f"no alert #{alert_id} in the history")
        if alert.is_live:
            raise KeyError(f"alert #{alert_id} is still open")
        if alert.key in self._live:
            raise KeyError(f"alert #{alert_id}: a newer alert #{self._live[alert.key].id} is open for the same thing")
        self._resolved.remove(alert)
        alert.state, alert.resolved_by, alert.snoozed_until = AlertState.OPEN, None, None
        alert.handled_by = alert.handled_at = alert.handled_how = None
        self._live[alert.key] = alert
        self._emit(alert, Change.STATE)
        return alert

    def unacknowledge(self, alert_id: int) -> Alert:
        alert = self._require_live(alert_id)
        alert.state, alert.snoozed_until = AlertState.OPEN, None
        self._snoozed.pop(alert.id, None)
        self._emit(alert, Change.STATE)
        return alert

    def claim(self, alert_id: int, by: str, at: float) -> Alert:
        alert = self._require_live(alert_id)
        alert.claimed_by, alert.claimed_at = by, at
        self._emit(alert, Change.STATE)
        return alert

    def handled(self, alert_id: int, by: str, at: float, how: str) -> Alert | None:
        """Record that an operator acted on the alert (warned, blacklisted, ...)."""
        alert = self._by_id.get(alert_id)
        if alert is None:
            return None
        alert.handled_by, alert.handled_at, alert.handled_how = by, at, how
        self._emit(alert, Change.STATE)
        return alert

    def wake_snoozed(self, now: float) -> None:
        for alert in [a for a in self._snoozed.values() if a.snoozed_until is not None and a.snoozed_until <= now]:
            del self._snoozed[alert.id]
            alert.state, alert.snoozed_until = AlertState.OPEN, None
            self._emit(alert, Change.STATE)

    def _require_live(self, alert_id: int) -> Alert:
        alert = self._by_id.get(alert_id)
        if alert is None or not alert.is_live:
            raise KeyError(f"no open alert #{alert_id}")
        return alert

    def to_docs(self) -> list[dict]:
        return [a.to_doc() for a in itertools.chain(self._live.values(), self._resolved)]

    def load_docs(self, docs: list[dict]) -> None:
        top = 0
        for d in docs:
            alert = Alert.from_doc(d)
            top = max(top, alert.id)
            self._by_id[alert.id] = alert
            if alert.is_live:
                self._live[alert.key] = alert
                self._expiry.changed(alert)
                if alert.state is AlertState.SNOOZED:
                    self._snoozed[alert.id] = alert
            else:
                self._resolved.append(alert)
        while len(self._resolved) > self._keep_resolved:
            self._by_id.pop(self._resolved.popleft().id, None)
        self._ids = itertools.count(top + 1)
