"""Incidents and silences in commands: "incident:<id>" targets, the incident facts in the audit log,
and the silence commands.

Every alert command takes ``"incident:<id>"`` beside alert ids and runs on that incident's open
alerts. Whatever a command changes about an incident (acknowledged, claimed, snoozed, resolved) is
written to the audit log as ``incident <change>`` with the actor and ``target = "incident:<id>"``:
the team report counts those.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Awaitable, Callable

from console.engine.actions.model import ActionError
from console.engine.alerts import Alert
from console.engine.durations import parse_duration
from console.engine.incidents import Incident
from console.engine.silences import parse_matchers
from console.engine.text import visible
from console.service.api import Actor, Command, Report, ServiceError

if TYPE_CHECKING:
    from console.service.service import Service

PREFIX = "incident:"
Handler = Callable[["Service", Actor, Command], Awaitable[Report]]


def incident_of_target(svc: "Service", target: str) -> Incident:
    raw = target[len(PREFIX):].strip().lstrip("#")
    if not raw.isdigit():
        raise ServiceError(f"bad incident target {visible(target, 40)!r}: write incident:<id>")
    inc = svc.engine.incidents.get(int(raw))
    if inc is None:
        raise ServiceError(f"no incident #{raw}")
    return inc


def expand(svc: "Service", target: str, missing: list[str]) -> list[Alert]:
    """The incident's alerts that are still open (an ended incident: said why, nothing to do)."""
    inc = incident_of_target(svc, target)
    alerts = [a for a in svc.engine.incidents.alerts_of(inc) if a.is_live]
    if not alerts:
        who = f" by {inc.resolved_by}" if inc.resolved_by and inc.resolved_by != "auto" else ""
        missing.append(f"incident #{inc.id}: already {inc.state.value}{who}")
    return alerts


def _touched(svc: "Service", cmd: Command) -> dict[int, tuple]:
    """The incidents a command may change, with what the audit compares before and after."""
    incs = svc.engine.incidents
    out: dict[int, tuple] = {}
    for t in cmd.targets:
        found: list[Incident] = []
        if isinstance(t, str) and t.startswith(PREFIX):
            try:
                found = [incident_of_target(svc, t)]
            except ServiceError:
                continue  # the handler says so
        elif isinstance(t, int) and not isinstance(t, bool):
            found = incs.of_alert(t)
        for inc in found:
            out.setdefault(inc.id, (inc, inc.state, inc.claimed_by))
    return out


def incident_aware(handler: Handler) -> Handler:
    """Run an alert command with its incidents' recounts batched, then audit what changed on them."""
    @functools.wraps(handler)
    async def run(svc: "Service", actor: Actor, cmd: Command) -> Report:
        before = _touched(svc, cmd)
        incs = svc.engine.incidents
        with incs.batch():
            report = await handler(svc, actor, cmd)
        if cmd.name == "blacklist_alerts" and not report.refused:
            resolve_blacklisted(svc, actor)
        _audit_changes(svc, actor, cmd, before)
        return report
    return run


def _audit_changes(svc: "Service", actor: Actor, cmd: Command, before: dict[int, tuple]) -> None:
    ledger = svc.moderation.ledger
    wrote = False
    for iid, (inc, state, claimed) in before.items():
        changes = []
        if inc.state is not state:
            changes.append(inc.state.value)
        if inc.claimed_by != claimed:
            changes.append("claimed" if inc.claimed_by else "unclaimed")
        for change in changes:
            ledger.audit(actor.user, f"incident {change}", group=inc.groups[0] if inc.groups else None,
                         member=inc.members[0] if len(inc.members) == 1 else None,
                         params={"kind": "incident", "target": inc.target, "incident": inc.id, "rule": inc.rule,
                                 "alerts": inc.count, "opened_at": inc.first_at, "command": cmd.name},
                         origin=actor.session, commit=False)
            wrote = True
    if wrote:
        ledger.commit()


def resolve_blacklisted(svc: "Service", actor: Actor) -> int:
    """A blacklisted sender's open alerts are done with: resolved as handled, so they leave the queue
    and their incidents resolve."""
    book, now = svc.engine.alerts, svc.engine.now()
    match = svc.moderation.blacklist.match
    done = 0
    with svc.engine.incidents.batch():
        for a in [a for a in book.live() if a.member is not None and match(a.member, now) is not None]:
            if a.handled_by is None:
                book.handled(a.id, actor.user, now, "blacklist")
            book.resolve(a.id, now, actor.user)
            done += 1
    return done


async def reopen(svc: "Service", actor: Actor, cmd: Command) -> Report:
    """Ended alerts back in the queue: the inverse of resolve and of "not an ad" (the ad model keeps
    what it learned)."""
    book = svc.engine.alerts
    ids: list[int] = []
    for t in cmd.targets:
        if isinstance(t, str) and t.startswith(PREFIX):
            ids.extend(a.id for a in svc.engine.incidents.alerts_of(incident_of_target(svc, t)) if not a.is_live)
        elif isinstance(t, int) and not isinstance(t, bool):
            ids.append(t)
        else:
            raise ServiceError("reopen targets must be alert ids or incident:<id>")
    skipped: list[str] = []
    done: list[int] = []
    with svc.engine.incidents.batch():
        for aid in dict.fromkeys(ids):
            try:
                a = book.reopen(aid)
            except KeyError as e:
                skipped.append(str(e).strip("'\""))
                continue
            a.state_by, a.state_at = actor.user, svc.engine.now()
            svc.moderation.ledger.audit(actor.user, "alert reopened", group=a.group, member=a.member,
                                        params={"alert": a.id, "kind": a.kind}, origin=actor.session, commit=False)
            done.append(aid)
    if done:
        svc.moderation.ledger.commit()
    out = Report(cmd.name, total=len(done) + len(skipped), done=len(done), skipped=len(skipped), errors=skipped,
                 message=f"{len(done)} alert(s) back in the queue")
    out.data["alerts"] = done
    return out


# --- silences ---

async def silence_add(svc: "Service", actor: Actor, cmd: Command) -> Report:
    p = cmd.params
    matchers = p.get("matchers")
    if isinstance(matchers, list):
        matchers = parse_matchers([str(m) for m in matchers])
    seconds = p.get("seconds")
    if isinstance(seconds, str):
        seconds = parse_duration(seconds)
    comment = p.get("comment") or ""
    if not isinstance(comment, str):
        raise ServiceError("the comment must be text")
    s = svc.engine.silences.add(matchers, seconds, actor.user, comment)
    svc.moderation.ledger.audit(actor.user, "silence added",
                                params={"silence": s.id, "matchers": dict(s.matchers), "seconds": s.ends_at - s.starts_at,
                                        "comment": s.comment}, origin=actor.session)
    silenced = sum(1 for i in svc.engine.incidents.live() if i.silenced_by == s.id)
    out = Report(cmd.name, total=1, done=1,
                 message=f"silence #{s.id} added: {s.describe()} ({silenced} incident(s) silenced now)")
    out.data["id"] = s.id
    return out


async def silence_remove(svc: "Service", actor: Actor, cmd: Command) -> Report:
    if not cmd.targets:
        raise ServiceError("silence_remove needs silence ids")
    skipped: list[str] = []
    done = 0
    for t in cmd.targets:
        sid = t if isinstance(t, int) and not isinstance(t, bool) else None
        if isinstance(t, str) and t.strip().lstrip("#").isdigit():
            sid = int(t.strip().lstrip("#"))
        if sid is None:
            raise ServiceError(f"bad silence id {visible(str(t), 40)!r}: a number")
        try:
            s = svc.engine.silences.remove(sid)
        except ActionError as e:
            skipped.append(str(e))
            continue
        svc.moderation.ledger.audit(actor.user, "silence removed",
                                    params={"silence": s.id, "matchers": dict(s.matchers)}, origin=actor.session)
        done += 1
    return Report(cmd.name, total=done + len(skipped), done=done, skipped=len(skipped), errors=skipped,
                  message=f"{done} silence(s) removed")
