"""What the dispatcher keeps (in the ``oncall`` database): a thread per incident and route, a delivery
per notification and receiver, and each receiver's health."""
from __future__ import annotations

from dataclasses import dataclass, field

from console.oncall.receivers import Notification


@dataclass(slots=True)
class Thread:
    route: str
    incident: int
    opened_at: float
    due: float | None = None
    sent: int = 0
    last_sent_at: float | None = None
    changed: bool = True
    step: int = 0
    acked_at: float | None = None
    ack_fired: bool = False

    @property
    def key(self) -> str:
        return f"{self.route}/{self.incident}"


@dataclass(slots=True)
class Delivery:
    key: str             # route/incident/seq-or-step/receiver: unique, also the receiver's dedup key
    route: str
    receiver: str        # the receiver's id within its route: n0, chat, console, s1n0, s1chat
    incident: int | None
    why: str
    title: str
    body: str
    fields: dict = field(default_factory=dict)
    state: str = "pending"   # pending, sending, sent, failed, unknown, dropped
    attempts: int = 0
    next_try: float = 0.0
    error: str = ""
    done_at: float | None = None

    def notification(self) -> Notification:
        f = self.fields
        return Notification(self.key, self.incident, self.title, self.body, f.get("severity", ""),
                            f.get("kind", ""), f.get("count", 0), list(f.get("groups", [])),
                            f.get("state", ""), self.why)


@dataclass(slots=True)
class ReceiverHealth:
    label: str
    failures: int = 0
    error: str = ""
    sent: int = 0
