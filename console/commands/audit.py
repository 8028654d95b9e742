"""``groupwatch audit``: every action and automatic step, oldest first."""
from __future__ import annotations

import argparse
import csv
import io
import sys

from console.cli_table import CliColumn
from console.commands import Connect, common_options, connector, error, run_async, write_stdout
from console.engine.text import neutralise_cell

COLUMNS = ("id", "at", "actor", "action", "group", "member", "params", "result", "origin", "group_name",
           "member_name")


def add_parser(sub) -> None:
    p = sub.add_parser("audit", help="the audit log: who did what, when, and how it went")
    common_options(p)
    p.add_argument("--since", metavar="WHEN",
                   help="only entries since WHEN: ISO 8601 (2026-03-01T12:00Z) or a duration ago (2h, 7d)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")


def records(entries) -> list[dict]:
    """Audit rows (the service's ``audit`` view) as the command prints them, oldest first."""
    from console.engine.durations import iso

    return [{"id": e.id, "at": iso(e.at), "actor": e.actor, "action": e.action, "group": e.group,
             "member": e.member, "params": e.params, "result": e.result, "origin": e.origin,
             "group_name": e.group_name, "member_name": e.member_name}
            for e in sorted(entries, key=lambda e: (e.at, e.id))]


def run(args: argparse.Namespace, connect: Connect | None = None) -> int:
    from console.engine.actions.model import ActionError

    if args.since is not None and not args.since.strip():
        return error(ActionError("--since needs a time: ISO 8601 or a duration ago like 2h"))
    return run_async(_audit(connector(connect), args))


async def _audit(connect: Connect, args: argparse.Namespace) -> int:
    from console.engine.durations import parse_when

    # --since counts back from the engine's clock: bring it up to date first (the demo's is simulated).
    async with connect(args, session="cli audit", current=bool(args.since)) as at:
        since = None
        if args.since:
            now = (await at.client.query("header")).now  # the ledger's clock is the engine's
            since = parse_when(args.since, now, past=True)
        rows = await at.client.query("audit", since=since)
    render(records(rows), args.format, since)
    return 0


def render(rows: list[dict], fmt: str, since: float | None = None, out=None) -> None:
    from console.engine.actions.blacklist import utf8_safe
    from console.engine.text import json_line

    out = out or sys.stdout
    if fmt == "json":
        write_stdout(json_line(rows) + "\n", out)
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            cells = []
            for c in COLUMNS:
                v = r[c]
                if c == "params":
                    v = json_line(v) if v else ""
                cells.append(neutralise_cell(v) if isinstance(v, str) else ("" if v is None else v))
            w.writerow(cells)
        write_stdout(utf8_safe(buf.getvalue()), out, inert_on_tty=True)
        return
    from rich.console import Console

    from console.engine.durations import iso

    console = Console(file=out, markup=False, highlight=False, emoji=False)
    when = f" since {iso(since)}" if since is not None else ""
    if not rows:
        console.print(f"no audit entries{when}")
        return
    fitted = table(rows, console.width, f"audit log{when}: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
    console.print(fitted.table)
    if fitted.legend:
        console.print(fitted.legend, style="dim")


TABLE_COLUMNS = (
    CliColumn("at", min=11), CliColumn("actor", min=5), CliColumn("action", min=9), CliColumn("result", min=4),
    CliColumn("group", min=8), CliColumn("member", min=8, drop=1), CliColumn("details", min=16, wrap=True),
    CliColumn("origin", min=4, drop=2),
)


def table(rows: list[dict], width: int, title: str):
    """The entries by name (ids when nothing better is known), the outcome apart from what the platform
    said, parameters as words; fitted to ``width`` (80 columns too), the details folded, never cut."""
    import datetime as dt

    from rich.text import Text

    from console.audit_text import details, named
    from console.cli_table import fit_table
    from console.engine.text import visible

    cells = []
    for r in rows:
        at = dt.datetime.fromisoformat(r["at"].replace("Z", "+00:00")).astimezone()
        outcome, text = details(r["result"] or "", r["params"] or {})
        cells.append([Text(at.strftime("%m-%d %H:%M")), Text(visible(r["actor"] or "", 40)),
                      Text(visible(r["action"] or "", 40)),
                      Text(visible(outcome, 20), style="" if outcome in ("ok", "done", "") else "red"),
                      Text(visible(named(r.get("group_name"), r["group"]) or "-", 40)),
                      Text(visible(named(r.get("member_name"), r["member"]) or "-", 40)),
                      Text(visible(text, 300)), Text(visible(r["origin"] or "", 20))])
    return fit_table(TABLE_COLUMNS, cells, width, title)
