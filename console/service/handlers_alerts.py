"""Commands on alerts: shared triage (acknowledge, reopen, snooze, resolve, claim, not an ad) and the
platform actions taken from an alert (warn, blacklist, delete, mute its member or message).

An alert someone already acted on is skipped with who and when, decided before anything is
awaited, so two consoles pressing the same key at once reach the platform once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from console.engine.actions.model import ActionKind, BulkReport
from console.engine.alerts import Alert
from console.service.api import Actor, Command, Report, ServiceError
from console.service.handlers_common import ago, already_blacklisted, report_of, seconds_of
from console.service.handlers_incidents import PREFIX, expand, incident_aware

if TYPE_CHECKING:
    from console.service.service import Service


# --- alert triage ---

def _alerts(svc: "Service", cmd: Command) -> tuple[list[Alert], list[str]]:
    """The live alerts named by the targets; the rest said why."""
    out: list[Alert] = []
    missing: list[str] = []
    seen: set[int] = set()
    book = svc.engine.alerts
    for t in cmd.targets:
        if isinstance(t, str) and t.startswith(PREFIX):
            found = expand(svc, t, missing)  # the incident's open alerts
        elif isinstance(t, bool) or not isinstance(t, int):
            raise ServiceError("alert targets must be alert ids or incident:<id>")
        else:
            a = book.get(t)
            if a is None or not a.is_live:
                who = f" by {a.resolved_by}" if a is not None and a.resolved_by else ""
                state = a.state.value if a is not None else ""
                missing.append(f"#{t}: already {state}{who}" if a is not None else f"#{t}: no such alert")
                continue
            found = [a]
        for a in found:
            if a.id not in seen:
                seen.add(a.id)
                out.append(a)
    return out, missing


def _incident_of(svc: "Service", a: Alert) -> dict:
    """The incident the alert is in as it is acted on: the team report counts the work once per incident
    even after the incidents have been regrouped or forgotten."""
    incs = svc.engine.incidents.of_alert(a.id)
    return {"incident": incs[0].id} if incs else {}


def _audit(svc: "Service", actor: Actor, verb: str, a: Alert, **params) -> None:
    svc.moderation.ledger.audit(actor.user, f"alert {verb}", group=a.group, member=a.member,
                                params={"alert": a.id, "kind": a.kind, "first_at": a.first_at,
                                        **_incident_of(svc, a), **params},
                                origin=actor.session,
                                commit=False)


@incident_aware
async def _triage(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    book, now = svc.engine.alerts, svc.engine.now()
    done = 0
    seconds = seconds_of(cmd) if cmd.name == "snooze" else None
    acted: list[int] = []
    for a in alerts:
        if cmd.name == "ack" and a.state.value == "acknowledged":
            skipped.append(f"#{a.id}: already acknowledged by {a.state_by or '?'} {ago(now, a.state_at)}")
            continue
        if cmd.name == "unack" and a.state.value == "open":
            skipped.append(f"#{a.id}: not acknowledged or snoozed")
            continue
        if cmd.name in ("ack", "unack", "snooze"):
            a.state_by, a.state_at = actor.user, now  # before the change is announced: consoles show who
        if cmd.name == "ack":
            book.acknowledge(a.id, now)
            _audit(svc, actor, "acknowledged", a)
        elif cmd.name == "unack":
            book.unacknowledge(a.id)
            _audit(svc, actor, "reopened", a)
        elif cmd.name == "snooze":
            book.snooze(a.id, now + seconds)
            _audit(svc, actor, "snoozed", a, seconds=seconds)
        elif cmd.name == "resolve":
            book.resolve(a.id, now, actor.user)
            _audit(svc, actor, "resolved", a)
        elif cmd.name == "claim":
            if a.claimed_by and a.claimed_by != actor.user:
                skipped.append(f"#{a.id}: already claimed by {a.claimed_by} {ago(now, a.claimed_at)}")
                continue
            if a.claimed_by == actor.user:  # claiming one's own claim again lets it go
                a.claimed_by, a.claimed_at = None, None
                book.claim(a.id, None, None)
                _audit(svc, actor, "unclaimed", a)
            else:
                book.claim(a.id, actor.user, now)
                _audit(svc, actor, "claimed", a)
        done += 1
        acted.append(a.id)
    if done:
        svc.moderation.ledger.commit()
    verb = {"ack": "acknowledged", "unack": "reopened", "snooze": "snoozed", "resolve": "resolved",
            "claim": "claimed"}[cmd.name]
    out = Report(cmd.name, total=done + len(skipped), done=done, skipped=len(skipped), errors=skipped,
                 message=f"{done} alert(s) {verb}")
    out.data["alerts"] = acted  # what an undo gives back
    return out


@incident_aware
async def _not_ad(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    notes = []
    done = 0
    acted: list[int] = []
    for a in alerts:
        if a.kind != "ad":
            skipped.append(f"#{a.id}: a {a.kind} alert; 'not an ad' is for ad alerts")
            continue
        notes.append(svc.moderation.verdict(a.id, False))
        _audit(svc, actor, "marked not an ad", a)
        done += 1
        acted.append(a.id)
    if done:
        svc.moderation.ledger.commit()
    out = Report(cmd.name, total=done + len(skipped), done=done, skipped=len(skipped), errors=skipped,
                 message="; ".join(notes[:3]) if notes else "nothing to teach")
    out.data["alerts"] = acted  # what an undo gives back (undo_not_ad)
    return out


async def _undo_not_ad(svc: "Service", actor: Actor, cmd: Command) -> Report:
    """The inverse of "not an ad" (a console's undo): the ad model forgets the verdict (what it learned
    from it, and the saved verdict) and the alerts are back in the queue."""
    book, now = svc.engine.alerts, svc.engine.now()
    skipped: list[str] = []
    notes: list[str] = []
    done: list[int] = []
    for t in cmd.targets:
        if isinstance(t, bool) or not isinstance(t, int):
            raise ServiceError("undo_not_ad targets must be alert ids")
    with svc.engine.incidents.batch():
        for aid in dict.fromkeys(cmd.targets):
            taken, note = svc.moderation.take_back(aid)
            if not taken:
                skipped.append(note)
                continue
            notes.append(note)
            a = book.get(aid)
            if not a.is_live:
                try:
                    book.reopen(aid)
                except KeyError as e:  # a newer alert for the same member is open: the verdict is still taken back
                    skipped.append(str(e).strip("'\""))
            a.state_by, a.state_at = actor.user, now
            _audit(svc, actor, "not an ad taken back", a)
            done.append(aid)
    if done:
        svc.moderation.ledger.commit()
    out = Report(cmd.name, total=len(done) + len(skipped), done=len(done), skipped=len(skipped), errors=skipped,
                 message="; ".join(notes[:3]) if notes else "nothing taken back")
    out.data["alerts"] = done
    return out


# --- platform actions from alerts ---

STRONGER = {"blacklist": {"blacklist"}, "warn": {"warn", "blacklist"}, "mute": {"mute", "blacklist"},
            "delete": {"delete", "blacklist"}}


def _claim_for_action(svc: "Service", actor: Actor, alerts: list[Alert], how: str, skipped: list[str],
                      *, per_member: bool = True) -> list[Alert]:
    """The alerts nobody acted on this way yet, one per member; each marked handled now, before
    anything is awaited, so a second moderator's same key finds it taken."""
    now = svc.engine.now()
    out, seen = [], set()
    for a in alerts:
        if per_member and (a.member is None or a.group is None):
            skipped.append(f"#{a.id}: about a whole group, not a member")
            continue
        if a.handled_by and a.handled_how in STRONGER[how]:
            skipped.append(f"#{a.id}: already handled by {a.handled_by} ({a.handled_how}) {ago(now, a.handled_at)}")
            continue
        mark = (a.group, a.member) if per_member else (a.group, a.message_id)
        if mark in seen:
            continue
        seen.add(mark)
        svc.engine.alerts.handled(a.id, actor.user, now, how)
        out.append(a)
    return out


@incident_aware
async def _warn_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    bulk = BulkReport(total=0)
    for a in _claim_for_action(svc, actor, alerts, "warn", skipped):
        _outcome, r = await svc.moderation.warn(a.group, a.member, a.kind, alert=a.id)
        bulk.merge(r)
    return report_of(cmd.name, bulk, skipped=skipped)


@incident_aware
async def _blacklist_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    bulk = BulkReport(total=0)
    for a in _claim_for_action(svc, actor, alerts, "blacklist", skipped):
        if already_blacklisted(svc, a.member, skipped):
            continue
        _entry, r = await svc.moderation.blacklist_add(
            a.member, reason=f"{a.kind}: {a.reason}"[:200],
            evidence={"group": a.group, "alert": a.id, "message_id": a.message_id, "excerpt": (a.excerpt or "")[:200]})
        bulk.merge(r)
    return report_of(cmd.name, bulk, skipped=skipped)


@incident_aware
async def _delete_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    with_message = []
    for a in alerts:
        if a.message_id and a.group:
            with_message.append(a)
        else:
            skipped.append(f"#{a.id}: not about one message")
    bulk = BulkReport(total=0)
    for a in _claim_for_action(svc, actor, with_message, "delete", skipped, per_member=False):
        bulk.merge(await svc.moderation.act(ActionKind.DELETE, [(a.group, a.member)],
                                            message_ids={(a.group, a.member): a.message_id}))
    return report_of(cmd.name, bulk, skipped=skipped)


@incident_aware
async def _mute_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    seconds = seconds_of(cmd)
    alerts, skipped = _alerts(svc, cmd)
    chosen = _claim_for_action(svc, actor, alerts, "mute", skipped)
    bulk = await svc.moderation.act(ActionKind.MUTE, [(a.group, a.member) for a in chosen], seconds=seconds,
                                    reason="muted from an alert") if chosen else BulkReport(total=0)
    return report_of(cmd.name, bulk, skipped=skipped)
