"""Audit: every action and automatic step, newest first: who did what, to whom, and how it went."""
from __future__ import annotations

import json

from rich.text import Text

from console.screens.base import Column, Row, TableScreen
from console.screens.cells import clock, untrusted
from console.service.api import AuditRow

SHOWN = 2000


def audit_row(e: AuditRow) -> Row:
    group, member = e.group_name or e.group, e.member_name or e.member
    ok = e.result in ("ok", "done", "")
    params = json.dumps(e.params, ensure_ascii=False, sort_keys=True) if e.params else ""
    cells = [clock(e.at), untrusted(e.actor, 40), untrusted(e.action, 40),
             Text(untrusted(e.result, 80).plain, style="" if ok else "red"), untrusted(group or "", 40),
             untrusted(member or "", 40), untrusted(params, 300, "dim")]
    sort = [-e.at, e.actor, e.action, e.result, group or "", member or "", params]
    return Row(str(e.id), cells, sort, extra={"group_id": e.group or "", "member_id": e.member or "",
                                               "origin": e.origin})


class AuditScreen(TableScreen):
    CSS_PATH = "audit.tcss"
    SCREEN_NAME = "audit"
    QUERY = "audit"
    TABLE_TITLE = "Audit log (newest first)"
    HELP_TITLE = "Audit"
    HELP_NOTES = ("Filter examples: actor:alice   action:blacklist   !actor:auto   result:fail   origin:schedule",
                  f"Shows the newest {SHOWN} entries; `groupwatch audit --format csv` exports them all.")
    COLUMNS = (
        Column("at", "at", 11), Column("actor", "actor", 10), Column("action", "action", 16),
        Column("result", "result", 8), Column("group", "group", 12), Column("member", "member", 10),
        Column("params", "details", flex=True),
    )
    BINDINGS = []

    def query_params(self) -> dict:
        return {"limit": SHOWN}

    def collect(self) -> list[Row]:
        return [audit_row(e) for e in self.data]
