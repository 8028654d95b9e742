"""``groupwatch schedule add|list|pause|resume|run-now|remove``: scheduled posts.

A schedule posts a template to a set of groups at daily local times (``--at``)
or on a cron expression (``--cron``), in its own time zone. ``run-now
--dry-run`` shows what each target group would get and sends nothing.
"""
from __future__ import annotations

import argparse
import sys

from console.commands import EXIT_PARTIAL, Connect, check, common_options, connector, counts, error, run_async

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


def run(args: argparse.Namespace, connect: Connect | None = None) -> int:
    cmd = args.schedule_command
    connect = connector(connect)
    if cmd == "add":
        return run_async(_add(connect, args))
    if cmd == "list":
        return run_async(_list(connect, args))
    if cmd in ("pause", "resume", "remove"):
        return run_async(_change(connect, args, cmd, args.id))
    if cmd == "run-now":
        return run_async(_run_now(connect, args, args.id, args.dry_run))
    return error(f"unknown schedule action {cmd!r}")


def _session(args: argparse.Namespace) -> str:
    return f"cli schedule {args.schedule_command}"


# --- helpers ---

def _iso(t: float | None, tz: str) -> str | None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return None if t is None else datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat(timespec="minutes")


def _doc(s) -> dict:
    return {"id": s.id, "cron": s.cron, "times": list(s.times), "tz": s.tz, "target": s.target,
            "template": s.template, "missed": s.missed, "paused": s.paused,
            "next_run": _iso(s.next_run, s.tz), "next_run_at": s.next_run,
            "last_fire": _iso(s.last_fire, s.tz), "last_fire_at": s.last_fire,
            "created_at": s.created_at, "created_by": s.created_by}


async def _row(client, sid: str):
    for s in await client.query("schedules"):
        if s.id == sid:
            return s
    return None


async def _missing(client, target: str) -> list[str]:
    """Group ids the target names that no watched group has (a hint; the service posts to the rest)."""
    from console.engine.actions.model import ActionError
    from console.engine.actions.schedules import parse_target

    try:
        named = [v for k, v in parse_target(target) if k == "group"]
    except ActionError:
        return []
    if not named:
        return []
    known = {g.id for g in await client.query("groups")}
    return [g for g in named if g not in known]


# --- actions ---

async def _add(connect: Connect, args: argparse.Namespace) -> int:
    from console.engine.actions.schedules import fmt_time
    from console.engine.text import visible
    from console.service.api import Command

    # The service tells a cron expression (fields apart) from daily times (HH:MM,HH:MM): keep --at
    # free of spaces so "09:00, 20:30" stays a list of times.
    when = args.cron if args.cron is not None else "".join((args.at or "").split())
    params = {"id": args.id, "when": when, "target": args.target, "text": args.template, "tz": args.tz,
              "missed": args.missed}
    async with connect(args, session=_session(args)) as at:
        report = await at.client.run(Command("schedule_add", [], params))
        check(report)
        sid = report.data.get("id") or args.id
        s = await _row(at.client, sid)
        plan = await at.client.query("schedule_dry_run", id=sid) if s is not None else []
        groups = await at.client.query("groups") if s is not None and not plan else []
    if s is None:
        print(f"added schedule {visible(str(sid))}")
        return 0
    print(f"added schedule {visible(s.id)}: {visible(s.when)} ({s.tz}), next run {fmt_time(s.next_run, s.tz)}")
    if groups and not plan:
        print(f"groupwatch: warning: target {visible(s.target)!r} matches no watched group right now",
              file=sys.stderr)
    return 0


async def _list(connect: Connect, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from console.engine.actions.schedules import fmt_time
    from console.engine.text import json_line, visible

    async with connect(args, session=_session(args)) as at:
        items = await at.client.query("schedules")
    if args.format == "json":
        sys.stdout.write(json_line([_doc(s) for s in items]) + "\n")
        return 0
    console = Console(markup=False, highlight=False)
    if not items:
        console.print("no schedules (add one with: groupwatch schedule add)")
        return 0
    t = Table(title="scheduled posts", title_justify="left")
    for col in ("id", "state", "when", "target", "next run", "template"):
        t.add_column(col, overflow="fold", no_wrap=col == "id", min_width=len(col))
    for s in items:
        state = "paused" if s.paused else "active"
        if s.missed == "run_once":
            state += ", catch up once"
        t.add_row(Text(visible(s.id)), Text(state, style="yellow" if s.paused else "green"),
                  Text(f"{visible(s.when)} {s.tz}"), Text(visible(s.target)),
                  Text(fmt_time(s.next_run, s.tz)), Text(visible(s.template, 40)))
    console.print(t)
    return 0


async def _change(connect: Connect, args: argparse.Namespace, cmd: str, id: str) -> int:
    from console.engine.actions.schedules import fmt_time
    from console.engine.text import visible
    from console.service.api import Command

    async with connect(args, session=_session(args)) as at:
        report = await at.client.run(Command(f"schedule_{cmd}", [id]))
        check(report)
        s = await _row(at.client, id) if cmd == "resume" else None
    if cmd == "pause":
        print(f"paused schedule {visible(id)}")
    elif cmd == "resume":
        nxt = fmt_time(s.next_run, s.tz) if s is not None else "-"
        print(f"resumed schedule {visible(id)}, next run {nxt}")
    else:
        print(f"removed schedule {visible(id)}")
    return 0


async def _run_now(connect: Connect, args: argparse.Namespace, id: str, dry_run: bool) -> int:
    from console.engine.text import visible
    from console.service.api import Command, ServiceError

    async with connect(args, session=_session(args)) as at:
        client = at.client
        s = await _row(client, id)
        if s is None:
            raise ServiceError(f"no schedule {id!r}")
        for gid in await _missing(client, s.target):
            print(f"groupwatch: warning: {visible(gid)}: no such group is watched", file=sys.stderr)
        if dry_run:
            plan = await client.query("schedule_dry_run", id=id)
            print(f"dry run of {visible(id)}: would post to {len(plan)} group(s); nothing sent")
            for p in plan:
                print(f"  {visible(p.group)} ({visible(p.group_name or '', 40)}): {visible(p.text)}")
            return 0
        report = await client.run(Command("schedule_run_now", [id]))
        check(report)
        print(f"ran {visible(id)} now: {counts(report)}")
        for err in report.errors:
            print(f"  error: {visible(err)}")
        return EXIT_PARTIAL if report.failed else 0
