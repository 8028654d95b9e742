"""The operator's triage of the alert queue: acknowledge, snooze, resolve, each in the audit log."""
from __future__ import annotations

from console.engine.actions.ledger import Ledger
from console.engine.engine import Engine


class Triage:
    def __init__(self, engine: Engine, ledger: Ledger, actor: str) -> None:
        self.engine, self.ledger, self.actor = engine, ledger, actor

    def _each(self, ids: list[int], verb: str, change, **params) -> int:
        done = 0
        for alert_id in ids:
            alert = self.engine.alerts.get(alert_id)
            if alert is None or not alert.is_live:
                continue  # resolved by the engine meanwhile: nothing to do
            change(alert_id)
            self.ledger.audit(self.actor, f"alert {verb}", group=alert.group, member=alert.member,
                              params={"alert": alert_id, "kind": alert.kind, "first_at": alert.first_at, **params},
                              origin="console",
                              commit=False)
            done += 1
        if done:
            self.ledger.commit()
        return done

    def acknowledge(self, ids: list[int]) -> int:
        now = self.engine.now()
        return self._each(ids, "acknowledged", lambda i: self.engine.alerts.acknowledge(i, now))

    def snooze(self, ids: list[int], seconds: float) -> int:
        until = self.engine.now() + seconds
        return self._each(ids, "snoozed", lambda i: self.engine.alerts.snooze(i, until), seconds=seconds)

    def resolve(self, ids: list[int]) -> int:
        now = self.engine.now()
        return self._each(ids, "resolved", lambda i: self.engine.alerts.resolve(i, now, self.actor))
