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
from console.engine.text import visible
from console.service.api import Actor, Command, Report, ServiceError
from console.service.handlers_alerts import (_blacklist_alerts, _delete_alerts, _mute_alerts, _not_ad, _triage,
                                             _undo_not_ad,
                                             _warn_alerts)
from console.service.handlers_common import ago, already_blacklisted, report_of
from console.service.handlers_incidents import reopen, resolve_blacklisted, silence_add, silence_remove
from console.service.handlers_purge import _purge

if TYPE_CHECKING:
    from console.service.service import Service

async def run(svc: "Service", actor: Actor, cmd: Command) -> Report:
    handler = HANDLERS.get(cmd.name)
    if handler is None:
        raise ServiceError(f"unknown command {cmd.name!r}")
    return await handler(svc, actor, cmd)


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
        if not replace and already_blacklisted(svc, pattern, skipped):
            continue
        entry, r = await svc.moderation.blacklist_add(pattern, reason=reason[:MAX_REASON], expires_at=expires,
                                                      evidence=evidence)
        added.append(entry.pattern)
        bulk.merge(r)
    if added:
        resolve_blacklisted(svc, actor)  # their open alerts are handled: they leave the queue
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
    "not_ad": _not_ad, "reopen": reopen, "undo_not_ad": _undo_not_ad,
    "warn_alerts": _warn_alerts, "blacklist_alerts": _blacklist_alerts, "delete_alerts": _delete_alerts,
    "mute_alerts": _mute_alerts,
    "warn": _warn, "kick": _kick, "ban": _kick, "mention": _mention, "delete": _delete, "post": _post,
    "purge": _purge,
    "blacklist_add": _blacklist_add, "blacklist_remove": _blacklist_remove, "blacklist_import": _blacklist_import,
    "schedule_add": _schedule_add, "schedule_edit": _schedule_edit, "schedule_pause": _schedule_state,
    "schedule_resume": _schedule_state, "schedule_remove": _schedule_state, "schedule_run_now": _schedule_run_now,
    "silence_add": silence_add, "silence_remove": silence_remove,
}
