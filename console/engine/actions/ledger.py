"""The ledger: every action is written here before it is sent and marked after,
and the audit log of every action and automatic step. Its own small database,
committed on every transition, apart from the large, batched engine state."""
from __future__ import annotations

import getpass
import time
from dataclasses import dataclass, field

from console.engine.actions.model import Action, ActionState

DB = "ledger"


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "operator"


@dataclass(slots=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    group: str | None = None
    member: str | None = None
    params: dict = field(default_factory=dict)
    result: str = ""
    origin: str = ""
    id: int = 0

    def to_doc(self) -> dict:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action, "group": self.group,
                "member": self.member, "params": self.params, "result": self.result, "origin": self.origin}

    @classmethod
    def from_doc(cls, d: dict) -> "AuditEntry":
        return cls(**{k: v for k, v in d.items() if k != "_key"})


class Ledger:
    def __init__(self, store, clock=time.time) -> None:
        self.store = store
        self.clock = clock
        self._actions: dict[int, Action] = {}
        self._by_key: dict[str, int] = {}
        self._next_audit = 1
        for d in store.read_table(DB, "actions"):
            a = Action.from_doc(d)
            self._actions[a.id] = a
            if a.key:
                self._by_key[a.key] = a.id
        audit = store.read_table(DB, "audit")
        if audit:
            self._next_audit = max(d["id"] for d in audit) + 1
        self._next_action = max(self._actions, default=0) + 1

    # --- actions ---

    def by_key(self, key: str) -> Action | None:
        i = self._by_key.get(key)
        return self._actions.get(i) if i is not None else None

    def actions(self, state: ActionState | None = None) -> list[Action]:
        return [a for a in self._actions.values() if state is None or a.state is state]

    def record(self, actions: list[Action]) -> None:
        """Write new actions as pending, all in one commit, before anything is sent."""
        now = self.clock()
        for a in actions:
            a.id, a.created_at, a.state = self._next_action, now, ActionState.PENDING
            self._next_action += 1
            self._actions[a.id] = a
            if a.key:
                self._by_key[a.key] = a.id
            self.store.put_doc(DB, "actions", str(a.id), a.to_doc())
        self.store.commit(DB)

    def mark(self, a: Action, state: ActionState, result: str = "") -> None:
        a.state, a.result = state, result
        if state in (ActionState.DONE, ActionState.FAILED, ActionState.REFUSED, ActionState.UNKNOWN):
            a.finished_at = self.clock()
        self.store.put_doc(DB, "actions", str(a.id), a.to_doc())
        if a.finished_at is not None and state is not ActionState.SENDING:
            self._audit_doc(AuditEntry(at=a.finished_at, actor=a.actor, action=a.kind.value, group=a.group,
                                       member=a.member, params=_params(a), result=f"{state.value}: {result}".rstrip(": "),
                                       origin=a.origin))
        self.store.commit(DB)

    # --- audit of steps that are not platform actions (blacklist added, warning counted, ...) ---

    def audit(self, actor: str, action: str, *, group: str | None = None, member: str | None = None,
              params: dict | None = None, result: str = "ok", origin: str = "", commit: bool = True) -> AuditEntry:
        """Record one step; ``commit=False`` lets a bulk step write its entries in one commit."""
        e = AuditEntry(at=self.clock(), actor=actor, action=action, group=group, member=member,
                       params=params or {}, result=result, origin=origin)
        self._audit_doc(e)
        if commit:
            self.store.commit(DB)
        return e

    def commit(self) -> None:
        self.store.commit(DB)

    def _audit_doc(self, e: AuditEntry) -> None:
        e.id = self._next_audit
        self._next_audit += 1
        self.store.put_doc(DB, "audit", str(e.id), e.to_doc())

    def audit_entries(self, since: float | None = None) -> list[AuditEntry]:
        out = [AuditEntry.from_doc(d) for d in self.store.read_table(DB, "audit")]
        return [e for e in out if since is None or e.at >= since]


def _params(a: Action) -> dict:
    p: dict = {}
    if a.text is not None:
        p["text"] = a.text
    if a.mentions:
        p["mentions"] = list(a.mentions)
    for k in ("message_id", "seconds", "until", "reason", "key"):
        v = getattr(a, k)
        if v:
            p[k] = v
    return p
