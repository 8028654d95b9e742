"""Audit: every action and automatic step, newest first: who did what, to whom, and how it went."""
from __future__ import annotations

from rich.text import Text

from console.audit_text import HIDDEN_PARAMS, named
from console.audit_text import details as entry_details
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import clock, shown, untrusted
from console.service.api import AuditRow

SHOWN = 2000


def audit_row(e: AuditRow) -> Row:
    group, member = named(e.group_name, e.group), named(e.member_name, e.member)
    outcome, details = entry_details(e.result, e.params)
    ok = outcome in ("ok", "done", "")
    cells = [clock(e.at), untrusted(e.actor, 40), untrusted(e.action, 40),
             Text(shown(outcome, 40), style="" if ok else "red"), untrusted(group, 40),
             untrusted(member, 40), untrusted(details, 300, "dim"), untrusted(e.origin, 20)]
    sort = [-e.at, e.actor, e.action, outcome, group, member, details, e.origin]
    return Row(str(e.id), cells, sort, extra={"group_id": e.group or "", "member_id": e.member or "",
                                               "result_full": e.result or ""})


class AuditScreen(TableScreen):
    CSS_PATH = "audit.tcss"
    SCREEN_NAME = "audit"
    QUERY = "audit"
    TABLE_TITLE = "Audit log"
    DEFAULT_ORDER = "newest first"
    HELP_TITLE = "Audit"
    HELP_NOTES = ("Filter examples: actor:alice   action:blacklist   !actor:auto   result:fail   origin:schedule",
                  f"Shows the newest {SHOWN} entries; `groupwatch audit --format csv` exports them all.",
                  "v shows the cursor entry in full below the table.")
    COLUMNS = (
        Column("at", "at", 11, aliases=("time",)), Column("actor", "actor", 8, flex=0.5, max=20, aliases=("by",)),
        Column("action", "action", 11), Column("result", "result", 6),
        Column("group", "group", 10, flex=1, max=30, unique="group_id", drop=1),
        Column("member", "member", 8, flex=1, max=24, unique="member_id", drop=2),
        Column("params", "details", 16, flex=3, aliases=("params",)),
        Column("origin", "origin", 8, drop=3),
    )
    BINDINGS = []

    def query_params(self) -> dict:
        return {"limit": SHOWN}

    def collect(self) -> list[Row]:
        return [audit_row(e) for e in self.data]

    def detail_pairs(self, row: Row) -> list[tuple[str, str]]:
        e = next((x for x in self.data or () if str(x.id) == row.key), None)
        if e is None:
            return super().detail_pairs(row)
        pairs = [("at", clock(e.at)), ("actor", e.actor), ("action", e.action), ("result", e.result)]
        if e.group:
            pairs.append(("group", f"{e.group_name or e.group} ({e.group})"))
        if e.member:
            pairs.append(("member", f"{e.member_name or e.member} ({e.member})"))
        pairs += [(k.replace("_", " "), str(v)) for k, v in sorted(e.params.items()) if k not in HIDDEN_PARAMS]
        if e.origin:
            pairs.append(("origin", e.origin))
        return pairs
