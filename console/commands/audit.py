"""``groupwatch audit``: every action and automatic step, oldest first."""
from __future__ import annotations

import argparse
import csv
import io
import sys

from console.commands import Connect, common_options, connector, error, run_async, write_stdout
from console.engine.text import neutralise_cell

COLUMNS = ("id", "at", "actor", "action", "group", "member", "params", "result", "origin")


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
             "member": e.member, "params": e.params, "result": e.result, "origin": e.origin}
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
    from console.engine.text import json_line, visible

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
    from rich.table import Table
    from rich.text import Text

    from console.engine.durations import iso

    console = Console(file=out, markup=False, highlight=False, emoji=False)
    when = f" since {iso(since)}" if since is not None else ""
    if not rows:
        console.print(f"no audit entries{when}")
        return
    t = Table(title=f"audit log{when}: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", title_justify="left")
    for col in ("at", "actor", "action", "group", "member", "details", "result", "origin"):
        t.add_column(col, overflow="fold")
    for r in rows:
        details = json_line(r["params"]) if r["params"] else ""
        t.add_row(Text(r["at"]), Text(visible(r["actor"] or "", 40)), Text(visible(r["action"] or "")),
                  Text(visible(r["group"] or "-")), Text(visible(r["member"] or "-")),
                  Text(visible(details, 120)), Text(visible(r["result"] or "", 80)), Text(visible(r["origin"] or "")))
    console.print(t)
