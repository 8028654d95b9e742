"""``groupwatch blacklist add|remove|list|import|export``: the cross-group blacklist.

``add`` previews who a pattern hits before anything happens, asks for
``--yes`` when a glob hits more than one member, then records the entry and
bans the id in every watched group of its platform (kicks where the platform
cannot ban). ``remove`` lifts it (unbans where the platform needs it).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from console.commands import EXIT_PARTIAL, common_options, error, write_stdout

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


def run(args: argparse.Namespace, open_rt) -> int:
    from console.engine.actions.model import ActionError, ReadOnlyError

    cmd = args.blacklist_command
    try:
        if cmd in ("add", "remove"):
            from console.engine.actions.blacklist import check_pattern

            args.pattern = check_pattern(args.pattern)  # a bad id fails before anything is opened
        if cmd == "import":
            fmt = _format_of(args.file, args.format, None)
            text = _read(args.file)
            rt = open_rt()
            return _import(rt, text, fmt)
        rt = open_rt()
        if cmd == "add":
            return asyncio.run(_add(rt, args))
        if cmd == "remove":
            return asyncio.run(_remove(rt, args))
        if cmd == "list":
            return _list(rt, args.format)
        if cmd == "export":
            return _export(rt, args.file, _format_of(args.file, args.format, "csv"))
        return error(f"unknown blacklist action {cmd!r}")
    except (ActionError, ReadOnlyError) as e:
        return error(str(e))


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


def _refuse_if_read_only(mod, what: str) -> None:
    from console.engine.actions.model import ReadOnlyError

    if getattr(mod.pipeline, "read_only", False):
        raise ReadOnlyError(f"read-only mode: blacklist {what} refused (it acts on the groups)")


def _print_report(report, label: str) -> int:
    from console.engine.text import visible

    print(f"{label}: {report.summary()}")
    for err in report.errors:
        print(f"  error: {visible(err)}")
    return EXIT_PARTIAL if report.failed else 0


# --- actions ---

async def _add(rt, args: argparse.Namespace) -> int:
    from console.engine.actions.blacklist import BlacklistEntry
    from console.engine.durations import parse_when
    from console.engine.text import visible

    mod = rt.moderation
    bl = mod.blacklist
    now = bl.clock()
    expires = parse_when(args.expires, now) if args.expires else None
    entry = bl.validate(BlacklistEntry(pattern=args.pattern, reason=args.reason or "", expires_at=expires), now)
    _refuse_if_read_only(mod, "add")
    await mod.sync()
    stats = rt.engine.stats
    hits = bl.preview(entry.pattern, stats)
    members = {m for _, m, _ in hits}
    groups = {g for g, _, _ in hits}
    print(f"{visible(entry.pattern)} matches {len(members)} present member(s) in {len(groups)} group(s)")
    for g, m, name in hits[:PREVIEW_SHOWN]:
        print(f"  {visible(g)}  {visible(m)}  {visible(name, 40)}")
    if len(hits) > PREVIEW_SHOWN:
        print(f"  … and {len(hits) - PREVIEW_SHOWN} more")
    if entry.is_glob and len(members) > 1 and not args.yes:
        return error(f"{entry.pattern} matches {len(members)} members in {len(groups)} group(s); "
                     "rerun with --yes to blacklist and ban them all")
    added, report = await mod.blacklist_add(entry.pattern, reason=entry.reason, expires_at=entry.expires_at)
    when = f", expires {_iso(added.expires_at)}" if added.expires_at is not None else ""
    print(f"blacklisted {visible(added.pattern)}{when}")
    if not report.total:
        print("no group to act in (none watched on this platform, or none can ban or kick)")
        return 0
    code = _print_report(report, "enforced")
    if report.done:
        await mod.sync()  # let the connectors report the bans back before the caller checkpoints
    return code


async def _remove(rt, args: argparse.Namespace) -> int:
    from console.engine.text import visible

    mod = rt.moderation
    bl = mod.blacklist
    if bl.get(args.pattern) is None:
        from console.engine.actions.model import ActionError

        raise ActionError(f"{args.pattern!r} is not on the blacklist")
    _refuse_if_read_only(mod, "remove")
    await mod.sync()
    entry, report = await mod.blacklist_remove(args.pattern)
    print(f"removed {visible(entry.pattern)} from the blacklist")
    if not report.total:
        print("nothing to unban (no group here needs an unban)")
        return 0
    return _print_report(report, "unbanned")


def _iso(at: float | None) -> str:
    from console.engine.durations import iso

    return iso(at) or "never"


def _list(rt, fmt: str) -> int:
    bl = rt.moderation.blacklist
    if fmt in ("json", "csv"):
        write_stdout(bl.export(fmt), inert_on_tty=fmt == "csv")
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from console.engine.text import json_line, visible

    entries = bl.entries()
    console = Console(file=sys.stdout, markup=False, highlight=False, emoji=False)
    if not entries:
        console.print("the blacklist is empty")
        return 0
    now = bl.clock()
    t = Table(title=f"blacklist: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", title_justify="left")
    for col in ("pattern", "reason", "added by", "added", "expires", "evidence"):
        t.add_column(col, overflow="fold")
    for e in entries:
        expires = Text(_iso(e.expires_at))
        if e.expired(now):
            expires.append(" (expired)", style="yellow")
        t.add_row(Text(visible(e.pattern)), Text(visible(e.reason, 80)), Text(visible(e.added_by, 40)),
                  Text(_iso(e.added_at)), expires, Text(visible(json_line(e.evidence), 80) if e.evidence else ""))
    console.print(t)
    return 0


def _import(rt, text: str, fmt: str) -> int:
    mod = rt.moderation
    n = mod.blacklist.import_text(text, fmt, mod.actor)
    print(f"imported {n} blacklist entr{'y' if n == 1 else 'ies'}; they act when a listed member joins "
          "(blacklist add enforces one at once)")
    return 0


def _export(rt, file: str, fmt: str) -> int:
    from console.engine.actions.model import ActionError

    bl = rt.moderation.blacklist
    text = bl.export(fmt)
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
    n = len(bl)
    print(f"exported {n} blacklist entr{'y' if n == 1 else 'ies'} to {file} ({fmt})")
    return 0
