"""``groupwatch silence add|list|remove``: page nobody about matching alerts for a while.

A silence's matchers all must match an alert (``kind=``, ``group=`` an id, ``tag:NAME`` or
``tier:LEVEL``, ``member=``, ``severity=``); the alerts are still recorded and shown, their incident
only pages nobody until the silence ends.
"""
from __future__ import annotations

import argparse
import sys

from console.commands import Connect, check, common_options, connector, error, run_async


def add_parser(sub) -> None:
    p = sub.add_parser("silence", help="silences: page nobody about matching alerts for a while",
                       description="Matchers KEY=VALUE (kind, group, member, severity), all of which must match; "
                                   "group takes ids, tag:NAME, tier:LEVEL or all.")
    common_options(p)
    ssub = p.add_subparsers(dest="silence_command", metavar="ACTION", required=True)

    a = ssub.add_parser("add", help="add a silence; prints its id")
    common_options(a)
    a.add_argument("matchers", nargs="+", metavar="KEY=VALUE",
                   help="kind=silent_member group=tag:archive member=ID severity=low|medium|high")
    a.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="how long: 30m, 2h, 7d")
    a.add_argument("--comment", default="", help="why (shown with the silence)")

    ls = ssub.add_parser("list", help="the silences, with what they match and when they end")
    common_options(ls)
    ls.add_argument("--format", choices=("table", "json"), default="table")

    r = ssub.add_parser("remove", help="end a silence now")
    common_options(r)
    r.add_argument("id", metavar="ID")


def run(args: argparse.Namespace, connect: Connect | None = None) -> int:
    from console.engine.actions.model import ActionError
    from console.engine.durations import parse_duration
    from console.engine.silence_rules import parse_matchers

    cmd = args.silence_command
    connect = connector(connect)
    if cmd == "add":
        try:  # what the operator typed, checked here: one line, nothing sent
            matchers = parse_matchers(args.matchers)
            seconds = parse_duration(args.duration)
        except ActionError as e:
            return error(str(e))
        return run_async(_add(connect, args, matchers, seconds))
    if cmd == "list":
        return run_async(_list(connect, args))
    if cmd == "remove":
        if not args.id.strip().lstrip("#").isdigit():
            return error(f"bad silence id {args.id!r}: a number (see groupwatch silence list)")
        return run_async(_remove(connect, args, int(args.id.strip().lstrip("#"))))
    return error(f"unknown silence action {cmd!r}")


def _session(args: argparse.Namespace) -> str:
    return f"cli silence {args.silence_command}"


async def _add(connect: Connect, args: argparse.Namespace, matchers: dict, seconds: float) -> int:
    from console.engine.text import visible
    from console.service.api import Command

    async with connect(args, session=_session(args), current=False) as at:  # no fresh picture needed
        report = await at.client.run(Command("silence_add", [], {"matchers": matchers, "seconds": seconds,
                                                                 "comment": args.comment}))
        check(report)
    print(visible(report.message))
    return 0


async def _list(connect: Connect, args: argparse.Namespace) -> int:
    from datetime import datetime

    from console.engine.text import json_line, visible

    async with connect(args, session=_session(args), current=False) as at:  # no fresh picture needed
        items = await at.client.query("silences")
    if args.format == "json":
        sys.stdout.write(json_line([{"id": s.id, "matchers": s.matchers, "starts_at": s.starts_at,
                                     "ends_at": s.ends_at, "created_by": s.created_by, "comment": s.comment,
                                     "active": s.active, "silencing": s.silencing} for s in items]) + "\n")
        return 0
    if not items:
        print("no silences (add one with: groupwatch silence add kind=... --for 2h)")
        return 0
    for s in items:
        ends = datetime.fromtimestamp(s.ends_at).isoformat(timespec="minutes")
        matchers = " ".join(f"{k}={visible(str(v), 60)}" for k, v in s.matchers.items())
        comment = f"  # {visible(s.comment, 80)}" if s.comment else ""
        print(f"#{s.id}  {matchers}  until {ends}  by {visible(s.created_by, 30)}  "
              f"silencing {s.silencing} incident(s){comment}")
    return 0


async def _remove(connect: Connect, args: argparse.Namespace, sid: int) -> int:
    from console.service.api import Command

    async with connect(args, session=_session(args), current=False) as at:  # no fresh picture needed
        report = await at.client.run(Command("silence_remove", [sid]))
        check(report)
    if not report.done:
        return error(report.errors[0] if report.errors else f"no silence #{sid}")
    print(f"removed silence #{sid}")
    return 0
