"""The weekly tiering report: per group members, active ratio, tier, joins,
leaves, exit rate, new-member retention (7 and 30 days), reactivation of
mentioned quiet members and open alerts, worst first. Rendered from the service's
``report`` view (``GroupRow``s, in the service's worst-first order)."""
from __future__ import annotations

import csv
import io
from typing import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from console.engine.text import json_line, neutralise_cell, visible
from console.service.api import GroupRow

COLUMNS = ("group", "name", "platform", "members", "active_ratio", "tier", "joins", "leaves", "exit_rate",
           "open_alerts", "retention_7d", "retention_30d", "reactivation")
RATIOS = ("active_ratio", "exit_rate", "retention_7d", "retention_30d", "reactivation")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def rows(summaries: Iterable[GroupRow]) -> list[dict]:
    return [{"group": s.id, "name": s.name, "platform": s.platform, "members": s.members,
             "active_ratio": None if s.active_ratio is None else round(s.active_ratio, 4), "tier": s.tier,
             "joins": s.joins, "leaves": s.leaves,
             "exit_rate": None if s.exit_rate is None else round(s.exit_rate, 4), "open_alerts": s.open_alerts,
             **_weekly(s)}
            for s in summaries]


def _weekly(s: GroupRow) -> dict:
    return {k: None if getattr(s, k) is None else round(getattr(s, k), 4)
            for k in ("retention_7d", "retention_30d", "reactivation")}


def render(summaries: list[GroupRow], fmt: str, console: Console, title: str) -> None:
    data = rows(summaries)
    if fmt == "json":
        console.file.write(json_line(data) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS)
        w.writeheader()
        # CSV opens in spreadsheets: neutralise formula injection from group names.
        for r in data:
            w.writerow({**r, "name": neutralise_cell(r["name"])})
        console.file.write(buf.getvalue())
    elif fmt == "markdown":
        out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for r in data:
            cells = [_cell(r[c], c) for c in COLUMNS]
            out.append("| " + " | ".join(cells) + " |")
        console.file.write("\n".join(out) + "\n")
    else:
        console.print(_table(summaries, title))


def _cell(v: object, col: str) -> str:
    if col in RATIOS:
        return _pct(v)  # type: ignore[arg-type]
    s = visible(str(v)) if v is not None else "-"
    return s.replace("|", "\\|")


TIER_STYLE = {"high": "green", "ordinary": "default", "inactive": "yellow", "critical": "red"}


def _table(summaries: list[GroupRow], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col, just in (("group", "left"), ("name", "left"), ("members", "right"), ("active 7d", "right"),
                      ("tier", "left"), ("joins", "right"), ("leaves", "right"), ("exit rate", "right"),
                      ("alerts", "right")):
        t.add_column(col, justify=just, overflow="ellipsis", no_wrap=col in ("group", "name"))
    for s in summaries:
        t.add_row(Text(visible(s.id)), Text(visible(s.name, 40)), str(s.members), _pct(s.active_ratio),
                  Text(s.tier, style=TIER_STYLE[s.tier]), str(s.joins), str(s.leaves), _pct(s.exit_rate),
                  str(s.open_alerts))
    return t
