"""`purge`: a blacklisted member's recent messages deleted in every watched group, and their
alerts resolved. The one plan (:func:`purge_plan`) serves the confirm dialog's count and the run.

Each message is one delete action in the ledger under a key of its own (group and message), so a
purge pressed twice, by two consoles, or retried after a crash deletes each message once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.events import platform_of
from console.engine.actions.model import Action, ActionKind, BulkReport
from console.service.api import Actor, Command, PurgePreview, Report, ServiceError
from console.service.handlers_common import report_of

if TYPE_CHECKING:
    from console.service.service import Service

# How old a message a bot may still delete, by platform (None: no limit). Telegram refuses messages
# over 48 hours old; Matrix redacts any event; QQ (OneBot) recalls what the admin account may recall.
DELETE_WINDOW = {"telegram": 48 * 3600.0}


@dataclass(slots=True)
class Plan:
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (group, member, message id)
    too_old: int = 0
    alerts: list[int] = field(default_factory=list)

    @property
    def groups(self) -> int:
        return len({g for g, _m, _i in self.messages})


def members_of(cmd_targets: list) -> list[str]:
    if not isinstance(cmd_targets, list) or not cmd_targets or not all(isinstance(t, str) and t.strip()
                                                                        for t in cmd_targets):
        raise ServiceError("purge targets must be member ids")
    return [t.strip() for t in cmd_targets]


def purge_plan(svc: "Service", members: list[str]) -> Plan:
    e = svc.engine
    now = e.now()
    wanted = set(members)
    plan = Plan()
    for gid, g in e.stats.groups.items():
        window = DELETE_WINDOW.get(platform_of(gid))
        for m in g.recent:
            if m.sender not in wanted:
                continue
            if window is not None and now - m.at > window:
                plan.too_old += 1
                continue
            plan.messages.append((gid, m.sender, m.id))
    plan.alerts = [a.id for a in e.alerts.live() if a.member in wanted]
    return plan


def preview(svc: "Service", members: list[str]) -> PurgePreview:
    plan = purge_plan(svc, members)
    return PurgePreview(members=list(members), messages=len(plan.messages), groups=plan.groups,
                        too_old=plan.too_old, alerts=len(plan.alerts))


async def _purge(svc: "Service", actor: Actor, cmd: Command) -> Report:
    members = members_of(cmd.targets)
    plan = purge_plan(svc, members)
    actions = [Action(ActionKind.DELETE, g, m, message_id=mid, reason="purge", origin="purge",
                      key=f"purge:{g}:{mid}") for g, m, mid in plan.messages]
    bulk = await svc.moderation.pipeline.run(actions) if actions else BulkReport(total=0)
    book, now = svc.engine.alerts, svc.engine.now()
    resolved = 0
    for alert_id in plan.alerts:
        a = book.get(alert_id)
        if a is None or not a.is_live:
            continue
        book.resolve(a.id, now, actor.user)
        svc.moderation.ledger.audit(actor.user, "alert resolved", group=a.group, member=a.member,
                                    params={"alert": a.id, "kind": a.kind, "by": "purge"}, origin=actor.session,
                                    commit=False)
        resolved += 1
    svc.moderation.ledger.commit()
    skipped = [f"{plan.too_old} message(s) too old for the platform to delete"] if plan.too_old else []
    out = report_of(cmd.name, bulk, f"{bulk.done} message(s) deleted in {plan.groups} group(s), "
                                    f"{resolved} alert(s) resolved", skipped)
    out.data.update({"deleted": bulk.done, "resolved": resolved})
    return out
