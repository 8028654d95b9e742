"""The fleet's merged message stream, newest last, with the alerts each message raised.

An engine observer: the engine calls ``on_event`` after the detectors ran on
that event, and the alert book tells it (through ``on_alert``) which message
an alert was about, so flags may arrive before or after the message itself.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from connectors.events import Event, Message
from console.engine.alerts import Alert, Change
from console.engine.journal_records import Later


@dataclass(slots=True)
class FeedItem:
    seq: int
    message: Message
    kinds: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    alert: int | None = None  # the most severe alert id about this message

    def flag(self, alert: Alert) -> None:
        if alert.kind not in self.kinds:
            self.kinds.append(alert.kind)
        for r in alert.reasons:
            if r not in self.reasons:
                self.reasons.append(r)
        self.alert = alert.id


def _item_doc(seq: int, m: Message, kinds: tuple[str, ...], reasons: tuple[str, ...], alert: int | None) -> dict:
    return {"seq": seq, "group": m.group, "sender": m.sender, "sender_name": m.sender_name, "text": m.text,
            "at": m.at, "id": m.id, "kinds": list(kinds), "reasons": list(reasons), "alert": alert}


MAX_AGE = 2 * 86400.0  # a message older than this (simulated or platform time) leaves the feed


class Feed:
    """Bounded twice: the newest ``size`` messages, none older than ``max_age`` seconds."""

    def __init__(self, size: int = 2000, max_age: float = MAX_AGE) -> None:
        self.items: deque[FeedItem] = deque()
        self.size = size
        self.max_age = max_age
        self._by_message: dict[tuple[str, str], FeedItem] = {}
        self._early: dict[tuple[str | None, str], list[Alert]] = {}  # alerts seen before their message reached the feed
        self._seq = 0

    def on_event(self, ev: Event) -> None:
        if type(ev) is not Message:
            return
        self._seq += 1
        item = FeedItem(self._seq, ev)
        key = (ev.group, ev.id)  # platforms number messages per chat
        for alert in self._early.pop(key, ()):
            item.flag(alert)
        self.items.append(item)
        self._by_message[key] = item
        if len(self.items) > self.size:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        old = self.items.popleft()
        old_key = (old.message.group, old.message.id)
        if self._by_message.get(old_key) is old:
            del self._by_message[old_key]

    def on_tick(self, now: float) -> None:
        self._early.clear()  # flags for messages that never arrived (deleted, or from before a restart)
        horizon = now - self.max_age
        while self.items and self.items[0].message.at < horizon:
            self._drop_oldest()

    def on_alert(self, alert: Alert, change: Change) -> None:
        if change not in (Change.NEW, Change.UPDATED) or alert.message_id is None:
            return
        key = (alert.group, alert.message_id)
        item = self._by_message.get(key)
        if item is not None:
            item.flag(alert)
        else:
            self._early.setdefault(key, []).append(alert)

    # --- saved with the checkpoint, so a restarted console does not start with an empty feed ---

    def to_docs(self, n: int) -> list[Later]:
        """The newest ``n`` items (text and flags; not media), oldest first: snapshots made into documents
        when written, in the checkpoint's thread (a message never changes; its flags are copied)."""
        return [Later(_item_doc, item.seq, item.message, tuple(item.kinds), tuple(item.reasons), item.alert)
                for item in (list(self.items)[-n:] if n else ())]

    def load_docs(self, docs: list[dict]) -> None:
        """Items saved by :meth:`to_docs` (a damaged one is skipped: the feed is a convenience)."""
        for d in docs[-self.size:]:
            try:
                m = Message(group=str(d["group"]), sender=str(d["sender"]), sender_name=str(d["sender_name"]),
                            text=str(d["text"]), at=float(d["at"]), id=str(d["id"]))
                item = FeedItem(int(d["seq"]), m, [str(k) for k in d.get("kinds", [])],
                                [str(r) for r in d.get("reasons", [])],
                                d.get("alert") if isinstance(d.get("alert"), int) else None)
            except (KeyError, TypeError, ValueError):
                continue
            self.items.append(item)
            self._by_message[(m.group, m.id)] = item
            self._seq = max(self._seq, item.seq)

    def latest(self, n: int) -> list[FeedItem]:
        """The newest ``n`` items, newest first."""
        out = []
        for item in reversed(self.items):
            out.append(item)
            if len(out) == n:
                break
        return out
