"""What each command does. Called only by ``Service.execute``, after it allowed the actor, with
the actor's name set for the engine (``ACTING_AS``): nothing here checks a role or read-only.

Several moderators work one queue: an alert or a member someone already acted on is skipped
with who and when ("already handled by alice 20 s ago"), decided before anything is awaited,
so two consoles pressing the same key at once reach the platform once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from console.engine.actions.blacklist import MAX_REASON
from console.engine.actions.model import ActionError, ActionKind, BulkReport
from console.engine.alerts import Alert
from console.engine.durations import parse_duration
from console.engine.text import visible
from console.service.api import Actor, Command, Report, ServiceError

if TYPE_CHECKING:
    from console.service.service import Service


def report_of(name: str, bulk: BulkReport, message: str = "", skipped: list[str] | None = None) -> Report:
    skipped = skipped or []
    return Report(name, total=bulk.total + len(skipped), done=bulk.done, failed=bulk.failed,
                  skipped=bulk.skipped + len(skipped), errors=[visible(e, 300) for e in bulk.errors] + skipped,
                  message=message)


def ago(now: float, at: float | None) -> str:
    if at is None:
        return ""
    s = max(0, int(now - at))
    if s < 90:
        return f"{s} s ago"
    if s < 5400:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


async def run(svc: "Service", actor: Actor, cmd: Command) -> Report:
    handler = HANDLERS.get(cmd.name)
    if handler is None:
        raise ServiceError(f"unknown command {cmd.name!r}")
    return await handler(svc, actor, cmd)


# --- alert triage ---

def _alerts(svc: "Service", cmd: Command) -> tuple[list[Alert], list[str]]:
    """The live alerts named by the targets; the rest said why."""
    out, missing = [], []
    book = svc.engine.alerts
    for t in cmd.targets:
        if isinstance(t, bool) or not isinstance(t, int):
            raise ServiceError("alert targets must be alert ids")
        a = book.get(t)
        if a is None or not a.is_live:
            who = f" by {a.resolved_by}" if a is not None and a.resolved_by else ""
            missing.append(f"#{t}: already resolved{who}" if a is not None else f"#{t}: no such alert")
        else:
            out.append(a)
    return out, missing


def _audit(svc: "Service", actor: Actor, verb: str, a: Alert, **params) -> None:
    svc.moderation.ledger.audit(actor.user, f"alert {verb}", group=a.group, member=a.member,
                                params={"alert": a.id, "kind": a.kind, **params}, origin=actor.session,
                                commit=False)


async def _triage(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    book, now = svc.engine.alerts, svc.engine.now()
    done = 0
    seconds = None
    if cmd.name == "snooze":
        seconds = cmd.params.get("seconds")
        if isinstance(seconds, str):
            seconds = parse_duration(seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 10 * 365 * 86400:
            raise ServiceError("snooze needs seconds: a duration above 0")
    for a in alerts:
        if cmd.name == "ack":
            if a.state.value == "acknowledged":
                skipped.append(f"#{a.id}: already acknowledged")
                continue
            book.acknowledge(a.id, now)
            _audit(svc, actor, "acknowledged", a)
        elif cmd.name == "unack":
            if a.state.value == "open":
                skipped.append(f"#{a.id}: not acknowledged or snoozed")
                continue
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
    if done:
        svc.moderation.ledger.commit()
    verb = {"ack": "acknowledged", "unack": "reopened", "snooze": "snoozed", "resolve": "resolved",
            "claim": "claimed"}[cmd.name]
    return Report(cmd.name, total=done + len(skipped), done=done, skipped=len(skipped), errors=skipped,
                  message=f"{done} alert(s) {verb}")


async def _not_ad(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    notes = []
    done = 0
    for a in alerts:
        if a.kind != "ad":
            skipped.append(f"#{a.id}: a {a.kind} alert; 'not an ad' is for ad alerts")
            continue
        notes.append(svc.moderation.verdict(a.id, False))
        done += 1
    return Report(cmd.name, total=done + len(skipped), done=done, skipped=len(skipped), errors=skipped,
                  message="; ".join(notes[:3]) if notes else "nothing to teach")


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


async def _warn_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    bulk = BulkReport(total=0)
    for a in _claim_for_action(svc, actor, alerts, "warn", skipped):
        _outcome, r = await svc.moderation.warn(a.group, a.member, a.kind, alert=a.id)
        bulk.merge(r)
    return report_of(cmd.name, bulk, skipped=skipped)


async def _blacklist_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    alerts, skipped = _alerts(svc, cmd)
    bulk = BulkReport(total=0)
    for a in _claim_for_action(svc, actor, alerts, "blacklist", skipped):
        if _already_blacklisted(svc, a.member, skipped):
            continue
        _entry, r = await svc.moderation.blacklist_add(
            a.member, reason=f"{a.kind}: {a.reason}"[:200],
            evidence={"group": a.group, "alert": a.id, "message_id": a.message_id, "excerpt": (a.excerpt or "")[:200]})
        bulk.merge(r)
    return report_of(cmd.name, bulk, skipped=skipped)


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


async def _mute_alerts(svc: "Service", actor: Actor, cmd: Command) -> Report:
    seconds = _seconds(cmd)
    alerts, skipped = _alerts(svc, cmd)
    chosen = _claim_for_action(svc, actor, alerts, "mute", skipped)
    bulk = await svc.moderation.act(ActionKind.MUTE, [(a.group, a.member) for a in chosen], seconds=seconds,
                                    reason="muted from an alert") if chosen else BulkReport(total=0)
    return report_of(cmd.name, bulk, skipped=skipped)


def _seconds(cmd: Command) -> int:
    seconds = cmd.params.get("seconds")
    if isinstance(seconds, str):
        seconds = parse_duration(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 400 * 86400:
        raise ServiceError(f"{cmd.name} needs seconds: a duration above 0")
    return int(seconds)


# --- members, messages, posts ---

def _pairs(cmd: Command) -> list[tuple[str, str]]:
    out = []
    for t in cmd.targets:
        if not (isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t)):
            raise ServiceError(f"{cmd.name} targets must be [group, member] pairs")
        out.append((t[0], t[1]))
    return out


def _known_group(svc: "Service", group: str) -> None:
    if group not in svc.engine.stats.groups:
        raise ServiceError(f"unknown group {visible(group, 80)}")


def _recently(svc: "Service", verb: str, key: tuple, actor: Actor, skipped: list[str], window: float = 120.0) -> bool:
    """The same verb on the same member by anyone in the last two minutes: skipped, said who."""
    recent = svc.recent_acts
    now = svc.engine.now()
    hit = recent.get((verb, key))
    if hit is not None and now - hit[1] < window * max(1.0, svc.clock_speed):
        skipped.append(f"{visible(key[-1], 60)}: already handled by {hit[0]} ({verb}) {ago(now, hit[1])}")
        return True
    recent[(verb, key)] = (actor.user, now)
    if len(recent) > 10_000:
        del recent[next(iter(recent))]
    return False


async def _warn(svc: "Service", actor: Actor, cmd: Command) -> Report:
    reason = str(cmd.params.get("reason") or "warned by an operator")[:300]
    skipped: list[str] = []
    bulk = BulkReport(total=0)
    for g, m in _pairs(cmd):
        _known_group(svc, g)
        if _recently(svc, "warn", (g, m), actor, skipped):
            continue
        _o, r = await svc.moderation.warn(g, m, reason)
        bulk.merge(r)
    return report_of(cmd.name, bulk, skipped=skipped)


async def _kick(svc: "Service", actor: Actor, cmd: Command) -> Report:
    """Kick, or ban in the named groups only (the blacklist bans everywhere)."""
    verb = cmd.name
    skipped: list[str] = []
    pairs = []
    for g, m in _pairs(cmd):
        _known_group(svc, g)
        if not _recently(svc, verb, (g, m), actor, skipped):
            pairs.append((g, m))
    reason = str(cmd.params.get("reason") or "removed by an operator")[:300]
    kind = ActionKind.KICK if verb == "kick" else ActionKind.BAN
    bulk = await svc.moderation.act(kind, pairs, reason=reason) if pairs else BulkReport(total=0)
    return report_of(cmd.name, bulk, skipped=skipped)


async def _mention(svc: "Service", actor: Actor, cmd: Command) -> Report:
    groups = cmd.targets
    if not all(isinstance(g, str) for g in groups):
        raise ServiceError("mention targets must be group ids")
    members = cmd.params.get("members")
    if members is not None and (len(groups) != 1 or not isinstance(members, list)
                                or not all(isinstance(m, str) for m in members)):
        raise ServiceError("mention members apply to one group: give a list of member ids")
    bulk = BulkReport(total=0)
    mentioned = 0
    for g in groups:
        _known_group(svc, g)
        r, who = await svc.moderation.mention_quiet(g, members)
        bulk.merge(r)
        mentioned += len(who)
    msg = "" if bulk.total else "no quiet members to mention (silent long enough and not mentioned recently)"
    out = report_of(cmd.name, bulk, msg)
    out.data["mentioned"] = mentioned
    return out


async def _delete(svc: "Service", actor: Actor, cmd: Command) -> Report:
    skipped: list[str] = []
    bulk = BulkReport(total=0)
    for t in cmd.targets:
        if not (isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t)):
            raise ServiceError("delete targets must be [group, message id, member] triples")
        g, mid, m = t
        _known_group(svc, g)
        if _recently(svc, "delete", (g, mid), actor, skipped):
            continue
        bulk.merge(await svc.moderation.act(ActionKind.DELETE, [(g, m)], message_ids={(g, m): mid}))
    return report_of(cmd.name, bulk, skipped=skipped)


async def _post(svc: "Service", actor: Actor, cmd: Command) -> Report:
    text = cmd.params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ServiceError("the message is empty")
    if not cmd.targets or not all(isinstance(g, str) for g in cmd.targets):
        raise ServiceError("post targets must be group ids")
    for g in cmd.targets:
        _known_group(svc, g)
    return report_of(cmd.name, await svc.moderation.post(list(cmd.targets), text))


# --- blacklist ---

def _already_blacklisted(svc: "Service", pattern: str, skipped: list[str]) -> bool:
    entry = svc.moderation.blacklist.get(pattern)
    if entry is None:
        return False
    skipped.append(f"{visible(pattern, 60)}: already blacklisted by {entry.added_by} "
                   f"{ago(svc.engine.now(), entry.added_at)}")
    return True


def _patterns(cmd: Command) -> list[str]:
    from console.engine.actions.blacklist import check_pattern

    if not cmd.targets or not all(isinstance(p, str) for p in cmd.targets):
        raise ServiceError(f"{cmd.name} targets must be ids or patterns")
    return [check_pattern(p.strip()) for p in cmd.targets]


async def _blacklist_add(svc: "Service", actor: Actor, cmd: Command) -> Report:
    p = cmd.params
    reason = p.get("reason") or ""
    expires = p.get("expires_at")
    evidence = p.get("evidence") or {}
    replace = bool(p.get("replace", False))  # an edit: the entry exists and is rewritten
    if not isinstance(reason, str) or not isinstance(evidence, dict) or (
            expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float)))):
        raise ServiceError("blacklist_add params: reason text, expires_at a time or null, evidence a table")
    skipped: list[str] = []
    bulk = BulkReport(total=0)
    added = []
    for pattern in _patterns(cmd):
        if not replace and _already_blacklisted(svc, pattern, skipped):
            continue
        entry, r = await svc.moderation.blacklist_add(pattern, reason=reason[:MAX_REASON], expires_at=expires,
                                                      evidence=evidence)
        added.append(entry.pattern)
        bulk.merge(r)
    out = report_of(cmd.name, bulk, f"blacklisted {', '.join(visible(a, 60) for a in added[:5])}" if added else "",
                    skipped)
    out.data["added"] = added
    return out


async def _blacklist_remove(svc: "Service", actor: Actor, cmd: Command) -> Report:
    skipped: list[str] = []
    bulk = BulkReport(total=0)
    removed = []
    for pattern in _patterns(cmd):
        if svc.moderation.blacklist.get(pattern) is None:
            skipped.append(f"{visible(pattern, 60)}: not on the blacklist")
            continue
        entry, r = await svc.moderation.blacklist_remove(pattern)
        removed.append(entry.pattern)
        bulk.merge(r)
    out = report_of(cmd.name, bulk, f"removed {', '.join(visible(a, 60) for a in removed[:5])}" if removed else "",
                    skipped)
    out.data["removed"] = removed
    return out


async def _blacklist_import(svc: "Service", actor: Actor, cmd: Command) -> Report:
    text, fmt = cmd.params.get("text"), cmd.params.get("format")
    if not isinstance(text, str) or fmt not in ("csv", "json"):
        raise ServiceError("blacklist_import needs text and format csv or json")
    n = svc.moderation.blacklist.import_text(text, fmt, actor.user)
    out = Report(cmd.name, total=n, done=n, message=f"imported {n} entr{'y' if n == 1 else 'ies'}")
    out.data["imported"] = n
    return out


# --- schedules ---

def _schedule_fields(p: dict) -> dict:
    when = p.get("when")
    if not isinstance(when, str) or not when.strip():
        raise ActionError("no timetable: give a cron expression or daily times")
    when = when.strip()
    for key in ("target", "text"):
        if not isinstance(p.get(key), str):
            raise ActionError(f"schedule {key} must be text")
    tz = p.get("tz") or None
    if tz is not None and not isinstance(tz, str):
        raise ActionError("schedule tz must be text")
    if not p["text"].strip():
        raise ActionError("the text is empty")
    cron = when if " " in when else None
    missed = p.get("missed") or "skip"
    if not isinstance(missed, str):
        raise ActionError("schedule missed must be text")
    return dict(cron=cron, times=None if cron else when, tz=(tz or "").strip() or None,
                target=p["target"].strip(), template=p["text"], missed=missed)


def _schedule_ids(cmd: Command) -> list[str]:
    if not cmd.targets or not all(isinstance(t, str) for t in cmd.targets):
        raise ServiceError(f"{cmd.name} targets must be schedule ids")
    return list(cmd.targets)


async def _schedule_add(svc: "Service", actor: Actor, cmd: Command) -> Report:
    sid = cmd.params.get("id")
    if sid is not None and not isinstance(sid, str):
        raise ServiceError("schedule id must be text")
    s = svc.moderation.schedules.add(id=sid, actor=actor.user, **_schedule_fields(cmd.params))
    out = Report(cmd.name, total=1, done=1, message=f"schedule {s.id} added: {s.when}")
    out.data["id"] = s.id
    return out


async def _schedule_edit(svc: "Service", actor: Actor, cmd: Command) -> Report:
    ids = _schedule_ids(cmd)
    if len(ids) != 1:
        raise ServiceError("schedule_edit takes one schedule")
    sch = svc.moderation.schedules
    old = sch.get(ids[0])
    fields = _schedule_fields(cmd.params)
    # Replace under the same id: remove, then add; if the add fails, put the old one back.
    sch.remove(old.id, actor.user)
    try:
        sch.add(id=old.id, actor=actor.user, **fields)
    except ActionError:
        sch.add(id=old.id, cron=old.cron, times=old.times or None, tz=old.tz, target=old.target,
                template=old.template, missed=old.missed, actor=actor.user)
        raise
    return Report(cmd.name, total=1, done=1, message=f"schedule {old.id} updated")


async def _schedule_state(svc: "Service", actor: Actor, cmd: Command) -> Report:
    sch = svc.moderation.schedules
    done = 0
    for sid in _schedule_ids(cmd):
        if cmd.name == "schedule_pause":
            sch.pause(sid, actor.user)
        elif cmd.name == "schedule_resume":
            sch.resume(sid, actor.user)
        else:
            sch.remove(sid, actor.user)
        done += 1
    verb = {"schedule_pause": "paused", "schedule_resume": "resumed", "schedule_remove": "removed"}[cmd.name]
    return Report(cmd.name, total=done, done=done, message=f"{done} schedule(s) {verb}")


async def _schedule_run_now(svc: "Service", actor: Actor, cmd: Command) -> Report:
    sch = svc.moderation.schedules
    bulk = BulkReport(total=0)
    for sid in _schedule_ids(cmd):
        bulk.merge(await sch.run_now(sch.get(sid), svc.engine.summaries(), svc.moderation.pipeline, actor.user))
    return report_of(cmd.name, bulk)


HANDLERS = {
    "ack": _triage, "unack": _triage, "snooze": _triage, "resolve": _triage, "claim": _triage,
    "not_ad": _not_ad,
    "warn_alerts": _warn_alerts, "blacklist_alerts": _blacklist_alerts, "delete_alerts": _delete_alerts,
    "mute_alerts": _mute_alerts,
    "warn": _warn, "kick": _kick, "ban": _kick, "mention": _mention, "delete": _delete, "post": _post,
    "blacklist_add": _blacklist_add, "blacklist_remove": _blacklist_remove, "blacklist_import": _blacklist_import,
    "schedule_add": _schedule_add, "schedule_edit": _schedule_edit, "schedule_pause": _schedule_state,
    "schedule_resume": _schedule_state, "schedule_remove": _schedule_state, "schedule_run_now": _schedule_run_now,
}
