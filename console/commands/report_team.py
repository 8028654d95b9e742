"""``groupwatch report --team``: per operator the incidents (or alerts outside an incident) claimed,
acknowledged and resolved, the median time to acknowledge, and the actions taken, from the audit
log through the service's ``team`` view."""
from __future__ import annotations

import argparse
import csv
import io
import sys

from console.commands import Connect, connector, error, run_async, write_stdout
from console.engine.text import json_line, neutralise_cell, visible

DEFAULT_SINCE = "7d"
COLUMNS = ("operator", "claimed", "acknowledged", "resolved", "median_ack_s", "acks_timed", "actions_total",
           "actions")


def run(args: argparse.Namespace, connect: Connect | None = None) -> int:
    from console.engine.actions.model import ActionError

    since = DEFAULT_SINCE if args.since is None else args.since
    if not since.strip():
        return error(ActionError("--since needs a time: ISO 8601 or a duration ago like 7d"))
    return run_async(_team(connector(connect), args, since))


async def _team(connect: Connect, args: argparse.Namespace, since_text: str) -> int:
    from console.engine.durations import parse_when

    async with connect(args, session="cli report", current=True) as at:
        header = await at.client.query("header")  # --since counts back from the engine's clock
        since = parse_when(since_text, header.now, past=True)
        team = await at.client.query("team", since=since)
    render(team, args.format, demo=header.demo)
    return 0


def records(team) -> list[dict]:
    return [{"operator": r.operator, "claimed": r.claimed, "acknowledged": r.acknowledged, "resolved": r.resolved,
             "median_ack_s": None if r.median_ack_s is None else round(r.median_ack_s, 1), "acks_timed": r.timed,
             "actions_total": r.actions_total, "actions": dict(r.actions)} for r in team.operators]


def actions_text(actions: dict, sep: str = ", ") -> str:
    return sep.join(f"{visible(str(k), 30)} {v}" for k, v in actions.items())


def render(team, fmt: str, out=None, *, demo: bool = False) -> None:
    from console.engine.durations import iso, short

    out = out or sys.stdout
    rows = records(team)
    if fmt == "json":
        write_stdout(json_line(rows) + "\n", out)
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            acts = ";".join(f"{k}={v}" for k, v in r["actions"].items())
            w.writerow([neutralise_cell(r["operator"]), r["claimed"], r["acknowledged"], r["resolved"],
                        "" if r["median_ack_s"] is None else r["median_ack_s"], r["acks_timed"], r["actions_total"],
                        neutralise_cell(acts)])
        write_stdout(buf.getvalue(), out, inert_on_tty=True)
        return
    if fmt == "markdown":
        lines = ["| operator | claimed | acknowledged | resolved | median to ack | actions |", "|---|---|---|---|---|---|"]
        for r in team.operators:
            cells = [visible(r.operator, 40), str(r.claimed), str(r.acknowledged), str(r.resolved),
                     short(r.median_ack_s), f"{r.actions_total}" + (f" ({actions_text(r.actions)})" if r.actions else "")]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        write_stdout("\n".join(lines) + "\n", out)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, markup=False, highlight=False, emoji=False)
    label = " (DEMO)" if demo else ""
    period = f"since {iso(team.since)[:16].replace('T', ' ')} UTC" if team.since is not None else "all kept"
    if not team.operators:
        write_stdout(f"team report{label}, {period}:\nnobody claimed, acknowledged, resolved or acted on anything\n",
                     out)
        return
    t = Table(title=f"team report{label}, {period}", title_justify="left",
              caption="incidents (or alerts outside one); to ack: median from its start to their first answer",
              caption_justify="left")
    for col, just in (("operator", "left"), ("claimed", "right"), ("acked", "right"), ("resolved", "right"),
                      ("to ack", "right"), ("actions", "left")):
        t.add_column(col, justify=just, overflow="fold" if col == "actions" else "ellipsis",
                     no_wrap=col == "operator", max_width=20 if col == "operator" else None)
    for r in team.operators:
        acts = f"{r.actions_total}" + (f": {actions_text(r.actions)}" if r.actions else "")
        t.add_row(Text(visible(r.operator, 40)), str(r.claimed), str(r.acknowledged), str(r.resolved),
                  short(r.median_ack_s), Text(acts))
    console.print(t)
