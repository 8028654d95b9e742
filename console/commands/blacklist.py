"""``groupwatch blacklist add|remove|purge|list|import|export``: the cross-group blacklist.

``add`` previews who a pattern hits before anything happens, asks for
``--yes`` when a glob hits more than one member, then records the entry and
bans the id in every watched group of its platform (kicks where the platform
cannot ban). ``remove`` lifts it (unbans where the platform needs it). ``purge``
deletes a member's recent messages in every watched group and resolves their
alerts (it says how many, and acts with ``--yes``).

Everything goes through the service (the running one, else the engine opened
here): the preview and the lists are its views, the changes its commands.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path

from console.commands import (EXIT_PARTIAL, Connect, check, common_options, connector, counts, error, run_async,
                              write_stdout)

PREVIEW_SHOWN = 20


def add_parser(sub) -> None:
    p = sub.add_parser("blacklist", help="ban member ids or id globs in every watched group",
                       description="The cross-group blacklist. Ids are platform-qualified (qq:12345, "
                                   "telegram:777); a glob (telegram:55*) matches on the qualified id.")
    common_options(p)
    bsub = p.add_subparsers(dest="blacklist_command", metavar="ACTION", required=True)

    a = bsub.add_parser("add", help="blacklist an id or glob and ban it everywhere now")
    common_options(a)
    a.add_argument("pattern", metavar="ID_OR_PATTERN", help="qq:12345, or a glob such as telegram:55*")
    a.add_argument("--reason", default="", help="why (kept in the entry and the audit log)")
    a.add_argument("--expires", metavar="WHEN",
                   help="when the entry lapses: ISO 8601 (2026-03-01, 2026-03-01T12:00Z) or a duration "
                        "(30d, 12h, 90m); default never")
    a.add_argument("--yes", "-y", action="store_true", help="act even when a glob matches several members")

    r = bsub.add_parser("remove", help="take an entry off the blacklist and unban it")
    common_options(r)
    r.add_argument("pattern", metavar="ID_OR_PATTERN")

    pg = bsub.add_parser("purge", help="delete a member's recent messages in every group and resolve their alerts")
    common_options(pg)
    pg.add_argument("member", metavar="ID", help="the member's id (qq:12345, matrix:@x:server)")
    pg.add_argument("--yes", "-y", action="store_true", help="act; without it, only say what would be deleted")

    ls = bsub.add_parser("list", help="the entries")
    common_options(ls)
    ls.add_argument("--format", choices=("table", "json", "csv"), default="table")

    i = bsub.add_parser("import", help="add (or replace) entries from a CSV or JSON file; all or nothing")
    common_options(i)
    i.add_argument("file", metavar="FILE", help="the file, or - for standard input (then --format is needed)")
    i.add_argument("--format", choices=("csv", "json"), default=None, help="default: from the file extension")

    e = bsub.add_parser("export", help="write the entries as CSV or JSON")
    common_options(e)
    e.add_argument("file", metavar="FILE", nargs="?", default="-", help="the file (default -: standard output)")
    e.add_argument("--format", choices=("csv", "json"), default=None,
                   help="default: from the file extension, csv on standard output")


def run(args: argparse.Namespace, connect: Connect | None = None) -> int:
    from console.engine.actions.model import ActionError

    cmd = args.blacklist_command
    connect = connector(connect)
    try:
        if cmd in ("add", "remove"):
            from console.engine.actions.blacklist import check_pattern

            args.pattern = check_pattern(args.pattern)  # a bad id fails before anything is opened
        if cmd == "purge":
            from console.engine.actions.blacklist import check_pattern, is_glob

            args.member = check_pattern(args.member)
            if is_glob(args.member):
                return error(f"purge takes one member id, not a pattern: {args.member}")
            return run_async(_purge(connect, args))
        if cmd == "add":
            _check_reason(args.reason or "")
            return run_async(_add(connect, args))
        if cmd == "remove":
            return run_async(_remove(connect, args))
        if cmd == "list":
            return run_async(_list(connect, args))
        if cmd == "import":
            fmt = _format_of(args.file, args.format, None)
            return run_async(_import(connect, args, _read(args.file), fmt))
        if cmd == "export":
            return run_async(_export(connect, args, args.file, _format_of(args.file, args.format, "csv")))
        return error(f"unknown blacklist action {cmd!r}")
    except ActionError as e:
        return error(str(e))


def _session(args: argparse.Namespace) -> str:
    return f"cli blacklist {args.blacklist_command}"


# --- helpers ---

def _format_of(file: str, given: str | None, default: str | None) -> str:
    from console.engine.actions.model import ActionError

    if given:
        return given
    suffix = Path(file).suffix.lower() if file != "-" else ""
    if suffix in (".csv", ".json"):
        return suffix[1:]
    if default:
        return default
    raise ActionError(f"cannot tell the format of {file!r} from its name: add --format csv or --format json")


def _read(file: str) -> str:
    from console.engine.actions.model import ActionError

    try:
        if file == "-":
            return sys.stdin.read()
        with open(file, encoding="utf-8", newline="") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ActionError(f"{file}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise ActionError(f"cannot read {file}: {e.strerror or e}") from None


def _check_reason(reason: str) -> None:
    from console.engine.actions.blacklist import MAX_REASON
    from console.engine.actions.model import ActionError

    if len(reason) > MAX_REASON:
        raise ActionError(f"the reason is longer than {MAX_REASON} characters")


def _print_report(report, label: str) -> int:
    from console.engine.text import visible

    print(f"{label}: {counts(report)}")
    for err in report.errors:
        print(f"  error: {visible(err)}")
    return EXIT_PARTIAL if report.failed else 0


# --- actions ---

async def _add(connect: Connect, args: argparse.Namespace) -> int:
    from console.engine.actions.blacklist import is_glob
    from console.engine.actions.model import ActionError
    from console.engine.durations import iso, parse_when
    from console.engine.text import visible
    from console.service.api import Command

    async with connect(args, session=_session(args)) as at:
        client = at.client
        expires = None
        if args.expires:
            now = (await client.query("header")).now  # the engine's clock (simulated in the demo)
            expires = parse_when(args.expires, now)
            if expires <= now:
                raise ActionError(f"expiry {iso(expires)} is not in the future (now {iso(now)})")
        hits = await client.query("blacklist_preview", pattern=args.pattern)
        members = {h.member for h in hits}
        groups = {h.group for h in hits}
        print(f"{visible(args.pattern)} matches {len(members)} present member(s) in {len(groups)} group(s)")
        for h in hits[:PREVIEW_SHOWN]:
            print(f"  {visible(h.group)}  {visible(h.member)}  {visible(h.name, 40)}")
        if len(hits) > PREVIEW_SHOWN:
            print(f"  … and {len(hits) - PREVIEW_SHOWN} more")
        if is_glob(args.pattern) and len(members) > 1 and not args.yes:
            return error(f"{args.pattern} matches {len(members)} members in {len(groups)} group(s); "
                         "rerun with --yes to blacklist and ban them all")
        report = await client.run(Command("blacklist_add", [args.pattern],
                                          {"reason": args.reason or "", "expires_at": expires}))
        check(report)
        if not report.data.get("added"):  # already on the blacklist: said by whom and when
            for err in report.errors:
                print(visible(err))
            return 0
        when = f", expires {_iso(expires)}" if expires is not None else ""
        print(f"blacklisted {visible(args.pattern)}{when}")
        if not report.total:
            print("no group to act in (none watched on this platform, or none can ban or kick)")
            return 0
        return _print_report(report, "enforced")


async def _remove(connect: Connect, args: argparse.Namespace) -> int:
    from console.engine.text import visible
    from console.service.api import Command

    async with connect(args, session=_session(args)) as at:
        report = await at.client.run(Command("blacklist_remove", [args.pattern]))
        check(report)
        if not report.data.get("removed"):
            return error(report.errors[0] if report.errors else f"{args.pattern!r} is not on the blacklist")
        print(f"removed {visible(args.pattern)} from the blacklist")
        if not report.total:
            print("nothing to unban (no group here needs an unban)")
            return 0
        return _print_report(report, "unbanned")


async def _purge(connect: Connect, args: argparse.Namespace) -> int:
    from console.engine.text import visible
    from console.service.api import Command

    async with connect(args, session=_session(args)) as at:
        p = await at.client.query("purge_preview", members=[args.member])
        old = f"; {p.too_old} older one(s) are past what the platform lets a bot delete" if p.too_old else ""
        print(f"{visible(args.member)}: {p.messages} recent message(s) in {p.groups} group(s), "
              f"{p.alerts} open alert(s){old}")
        if not args.yes:
            if not p.messages and not p.alerts:
                print("nothing to purge")
                return 0
            return error(f"rerun with --yes to delete {p.messages} message(s) and resolve {p.alerts} alert(s)")
        report = await at.client.run(Command("purge", [args.member]))
        check(report)
        print(visible(report.message))
        return _print_report(report, "purged")


def _iso(at: float | None) -> str:
    from console.engine.durations import iso

    return iso(at) or "never"


async def _list(connect: Connect, args: argparse.Namespace) -> int:
    fmt = args.format
    # The table marks lapsed entries by the engine's clock: bring it up to date (the demo's is simulated).
    async with connect(args, session=_session(args), current=fmt == "table") as at:
        if fmt in ("json", "csv"):
            write_stdout(await at.client.query("blacklist_export", format=fmt), inert_on_tty=fmt == "csv")
            return 0
        rows = await at.client.query("blacklist")
        now = (await at.client.query("header")).now
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from console.engine.text import json_line, visible

    console = Console(file=sys.stdout, markup=False, highlight=False, emoji=False)
    if not rows:
        console.print("the blacklist is empty")
        return 0
    t = Table(title=f"blacklist: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", title_justify="left")
    for col in ("pattern", "reason", "added by", "added", "expires", "evidence"):
        t.add_column(col, overflow="fold")
    for e in rows:
        expires = Text(_iso(e.expires_at))
        if e.expires_at is not None and e.expires_at <= now:
            expires.append(" (expired)", style="yellow")
        t.add_row(Text(visible(e.pattern)), Text(visible(e.reason, 80)), Text(visible(e.added_by, 40)),
                  Text(_iso(e.added_at)), expires, Text(visible(json_line(e.evidence), 80) if e.evidence else ""))
    console.print(t)
    return 0


async def _import(connect: Connect, args: argparse.Namespace, text: str, fmt: str) -> int:
    from console.engine.actions.model import ActionError
    from console.service.api import Command

    async with connect(args, session=_session(args)) as at:
        if at.runtime is None:  # over the socket: one request, all or nothing, of a bounded size
            from console.service.server import MAX_FRAME

            size = len(json.dumps(text)) + 1024  # as the frame carries it (ASCII JSON), and its envelope
            if size > MAX_FRAME:
                raise ActionError(f"{args.file} is {size / 1e6:.1f} MB as sent; a running service takes an "
                                  f"import of at most {MAX_FRAME / 1e6:.1f} MB: split the file (each part is "
                                  "all or nothing)")
        report = await at.client.run(Command("blacklist_import", [], {"text": text, "format": fmt}))
    check(report)
    n = report.data.get("imported", report.done)
    print(f"imported {n} blacklist entr{'y' if n == 1 else 'ies'}; they act when a listed member joins "
          "(blacklist add enforces one at once)")
    return 0


def _entries_in(text: str, fmt: str) -> int:
    if fmt == "json":
        data = json.loads(text)
        return len(data) if isinstance(data, list) else 0
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)


async def _export(connect: Connect, args: argparse.Namespace, file: str, fmt: str) -> int:
    from console.engine.actions.model import ActionError

    async with connect(args, session=_session(args), current=False) as at:
        text = await at.client.query("blacklist_export", format=fmt)
    if file == "-":
        write_stdout(text, inert_on_tty=fmt == "csv")
        return 0
    path = Path(file)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ActionError(f"cannot write {file}: {e.strerror or e}") from None
    n = _entries_in(text, fmt)
    print(f"exported {n} blacklist entr{'y' if n == 1 else 'ies'} to {file} ({fmt})")
    return 0
