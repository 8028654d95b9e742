"""``groupwatch schedule add|list|pause|resume|run-now|remove``: scheduled posts.

A schedule posts a template to a set of groups at daily local times (``--at``)
or on a cron expression (``--cron``), in its own time zone. ``run-now
--dry-run`` shows what each target group would get and sends nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from console.commands import EXIT_PARTIAL, common_options, error

TARGET_HELP = ("group ids (demo:g1,demo:g5), tag:NAME, tier:high|ordinary|inactive|critical, or all; "
               "several, comma-separated, add up")


def add_parser(sub) -> None:
    p = sub.add_parser("schedule", help="scheduled posts: add, list, pause, resume, run-now, remove",
                       description="Posts that go out on a timetable, per group or set of groups. Templates "
                                   "may use {group} {members} {date} {time} {tier}; write {{ and }} for "
                                   "literal braces.")
    common_options(p)
    ssub = p.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)

    a = ssub.add_parser("add", help="add a schedule; prints its id and next run")
    common_options(a)
    a.add_argument("--target", required=True, help=TARGET_HELP)
    a.add_argument("--template", required=True, help="the text to post, with placeholders")
    when = a.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help="a 5-field cron expression, like '0 9 * * 1-5'")
    when.add_argument("--at", metavar="HH:MM[,HH:MM...]", help="daily local times")
    a.add_argument("--tz", metavar="ZONE", help="IANA time zone (default: this machine's)")
    a.add_argument("--id", metavar="ID", help="a short name (default: sched-N)")
    a.add_argument("--missed", choices=("skip", "run_once"), default="skip",
                   help="after downtime: skip missed posts, or post the latest once (default skip)")

    ls = ssub.add_parser("list", help="the schedules, with their next run")
    common_options(ls)
    ls.add_argument("--format", choices=("table", "json"), default="table")

    for name, text in (("pause", "stop a schedule firing (kept)"),
                       ("resume", "let a paused schedule fire again (missed posts are not caught up)"),
                       ("remove", "delete a schedule")):
        x = ssub.add_parser(name, help=text)
        common_options(x)
        x.add_argument("id", metavar="ID")

    r = ssub.add_parser("run-now", help="post a schedule now, outside its timetable")
    common_options(r)
    r.add_argument("id", metavar="ID")
    r.add_argument("--dry-run", action="store_true", help="show each target group and its text; send nothing")


def run(args: argparse.Namespace, open_rt) -> int:
    from console.engine.actions.model import ActionError, ReadOnlyError

    cmd = args.schedule_command
    try:
        rt = open_rt()
        if cmd in ("add", "list", "resume"):
            asyncio.run(_current(rt))
        if cmd == "add":
            return _add(rt, args)
        if cmd == "list":
            return _list(rt, args.format)
        if cmd in ("pause", "resume", "remove"):
            return _change(rt, cmd, args.id)
        if cmd == "run-now":
            return asyncio.run(_run_now(rt, args.id, args.dry_run))
        return error(f"unknown schedule action {cmd!r}")
    except (ActionError, ReadOnlyError) as e:
        return error(str(e))


# --- helpers ---

async def _current(rt) -> None:
    """The demo's clock is simulated: bring its world to where it was left, so "now" is right."""
    if getattr(rt, "is_demo", False):
        await rt.moderation.sync()


def _iso(t: float | None, tz: str) -> str | None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return None if t is None else datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat(timespec="minutes")


def _doc(s, sch) -> dict:
    nxt = sch.next_run(s, sch.clock())
    return {"id": s.id, "cron": s.cron, "times": list(s.times), "tz": s.tz, "target": s.target,
            "template": s.template, "missed": s.missed, "paused": s.paused,
            "next_run": _iso(nxt, s.tz), "next_run_at": nxt,
            "last_fire": _iso(s.last_fire, s.tz), "last_fire_at": s.last_fire,
            "created_at": s.created_at, "created_by": s.created_by}


# --- actions ---

def _add(rt, args: argparse.Namespace) -> int:
    from console.engine.actions.schedules import fmt_time
    from console.engine.text import visible

    mod = rt.moderation
    sch = mod.schedules
    s = sch.add(id=args.id, cron=args.cron, times=args.at, tz=args.tz, target=args.target,
                template=args.template, missed=args.missed, actor=mod.actor)
    nxt = sch.next_run(s, sch.clock())
    print(f"added schedule {visible(s.id)}: {visible(s.when)} ({s.tz}), next run {fmt_time(nxt, s.tz)}")
    try:
        summaries = rt.engine.summaries()
    except Exception:  # noqa: BLE001 - a hint only
        summaries = []
    if summaries and not sch.targets(s, summaries):
        print(f"groupwatch: warning: target {visible(s.target)!r} matches no watched group right now",
              file=sys.stderr)
    return 0


def _list(rt, fmt: str) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from console.engine.actions.schedules import fmt_time
    from console.engine.text import json_line, visible

    sch = rt.moderation.schedules
    items = sch.list()
    if fmt == "json":
        sys.stdout.write(json_line([_doc(s, sch) for s in items]) + "\n")
        return 0
    console = Console(markup=False, highlight=False)
    if not items:
        console.print("no schedules (add one with: groupwatch schedule add)")
        return 0
    t = Table(title="scheduled posts", title_justify="left")
    for col in ("id", "state", "when", "target", "next run", "template"):
        t.add_column(col, overflow="fold", no_wrap=col == "id", min_width=len(col))
    now = sch.clock()
    for s in items:
        state = "paused" if s.paused else "active"
        if s.missed == "run_once":
            state += ", catch up once"
        t.add_row(Text(visible(s.id)), Text(state, style="yellow" if s.paused else "green"),
                  Text(f"{visible(s.when)} {s.tz}"), Text(visible(s.target)),
                  Text(fmt_time(sch.next_run(s, now), s.tz)), Text(visible(s.template, 40)))
    console.print(t)
    return 0


def _change(rt, cmd: str, id: str) -> int:
    from console.engine.actions.schedules import fmt_time
    from console.engine.text import visible

    mod = rt.moderation
    sch = mod.schedules
    if cmd == "pause":
        s = sch.pause(id, mod.actor)
        print(f"paused schedule {visible(s.id)}")
    elif cmd == "resume":
        s = sch.resume(id, mod.actor)
        print(f"resumed schedule {visible(s.id)}, next run {fmt_time(sch.next_run(s, sch.clock()), s.tz)}")
    else:
        s = sch.remove(id, mod.actor)
        print(f"removed schedule {visible(s.id)}")
    return 0


async def _run_now(rt, id: str, dry_run: bool) -> int:
    from console.engine.text import visible

    mod = rt.moderation
    sch = mod.schedules
    s = sch.get(id)
    await mod.sync()
    summaries = rt.engine.summaries()
    names = {g.id: g.name for g in summaries}
    for gid in sch.missing(s, summaries):
        print(f"groupwatch: warning: {visible(gid)}: no such group is watched", file=sys.stderr)
    if dry_run:
        plan = sch.dry_run(s, summaries)
        print(f"dry run of {visible(s.id)}: would post to {len(plan)} group(s); nothing sent")
        for gid, text in plan:
            print(f"  {visible(gid)} ({visible(names.get(gid, ''), 40)}): {visible(text)}")
        return 0
    report = await sch.run_now(s, summaries, mod.pipeline, mod.actor)
    print(f"ran {visible(s.id)} now: {report.summary()}")
    for err in report.errors:
        print(f"  error: {visible(err)}")
    if report.done:
        await mod.sync()  # let the connectors report the posts back before the caller checkpoints
    return EXIT_PARTIAL if report.failed else 0
