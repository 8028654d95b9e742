"""Blacklist: every entry (exact ids and platform-scoped globs); add, edit, remove with the usual keys."""
from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding

from console.engine.actions.blacklist import BlacklistEntry, check_pattern
from console.engine.actions.model import ActionError, BulkReport
from console.engine.durations import parse_when
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import ago, clock, until, untrusted
from console.screens.modals import Field, FormScreen


def entry_row(e: BlacklistEntry, now: float, hits: int) -> Row:
    cells = [untrusted(e.pattern, 28), untrusted(e.reason, 200), untrusted(e.added_by, 12), ago(now, e.added_at),
             until(now, e.expires_at), str(hits)]
    sort = [e.pattern, e.reason, e.added_by, -e.added_at, e.expires_at, hits]
    return Row(e.pattern, cells, sort)


class BlacklistScreen(TableScreen):
    CSS_PATH = "blacklist.tcss"
    SCREEN_NAME = "blacklist"
    TABLE_TITLE = "Blacklist"
    HELP_TITLE = "Blacklist"
    HELP_NOTES = ("Patterns: an exact id (qq:12345, telegram:777, matrix:@spam:example.org) or a glob scoped to "
                  "one platform (matrix:@*:spam.example); a bare * is refused.",
                  "Expiry: a duration (30d) or an ISO time; empty means never. 'present' counts members of "
                  "watched groups the entry matches now.")
    COLUMNS = (
        Column("pattern", "pattern", 24), Column("reason", "reason", flex=True), Column("by", "added by", 12),
        Column("added", "added", 5), Column("expires", "expires", 8), Column("present", "present", 7),
    )
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d,delete", "remove", "Remove"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._present: dict[str, tuple[float, int]] = {}  # pattern -> (wall time counted, count)

    def collect(self) -> list[Row]:
        rt = self.gw.rt
        now = rt.engine.now()
        entries = rt.moderation.blacklist.entries()
        return [entry_row(e, now, self._count(e.pattern)) for e in entries]

    def _count(self, pattern: str) -> int:
        """Present members an entry matches; a scan of every group, so counted at most every 10 s."""
        wall = time.monotonic()
        hit = self._present.get(pattern)
        if hit is None or wall - hit[0] > 10:
            rt = self.gw.rt
            hit = (wall, len(rt.moderation.blacklist.preview(pattern, rt.engine.stats)))
            self._present[pattern] = hit
        return hit[1]

    def _form(self, title: str, entry: BlacklistEntry | None, then) -> None:
        now = self.gw.rt.engine.now()
        fields = [Field("pattern", "Pattern (id or platform-scoped glob)", entry.pattern if entry else "",
                        "qq:12345"),
                  Field("reason", "Reason", entry.reason if entry else ""),
                  Field("expires", "Expires (30d, ISO time, empty = never)",
                        "" if entry is None or entry.expires_at is None else clock(entry.expires_at))]

        def parse(v: dict[str, str]) -> tuple[str, str, float | None]:
            pattern = check_pattern(v["pattern"].strip())
            expires = parse_when(v["expires"], now) if v["expires"].strip() else None
            return pattern, v["reason"].strip(), expires

        def check(v: dict[str, str]) -> str | None:
            try:
                parse(v)
            except ActionError as e:
                return str(e)
            return None

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                then(*parse(v))

        self.app.push_screen(FormScreen(title, fields, check), chosen)

    def action_add(self) -> None:
        gw = self.gw
        if not gw.writable("blacklist"):
            return

        def then(pattern: str, reason: str, expires: float | None) -> None:
            hits = gw.rt.moderation.blacklist.preview(pattern, gw.rt.engine.stats)
            members = {m for _, m, _ in hits}
            gw.act("blacklist", lambda: gw.rt.moderation.blacklist_add(pattern, reason=reason, expires_at=expires),
                   confirm=Text(f"Blacklist {pattern}?"),
                   detail=f"Matches {len(members)} present member(s) in {len({g for g, _, _ in hits})} watched "
                          "group(s): they are banned now, and anyone matching is removed on joining.")

        self._form("Add to the blacklist", None, then)

    def action_edit(self) -> None:
        gw = self.gw
        row = self.cursor_row()
        if row is None or not gw.writable("blacklist edit"):
            return
        entry = gw.rt.moderation.blacklist.get(row.key)
        if entry is None:
            return

        def then(pattern: str, reason: str, expires: float | None) -> None:
            async def run():
                report = BulkReport(total=0)
                if pattern != entry.pattern:
                    _e, r = await gw.rt.moderation.blacklist_remove(entry.pattern)
                    report.merge(r)
                _e, r = await gw.rt.moderation.blacklist_add(pattern, reason=reason, expires_at=expires,
                                                             evidence=entry.evidence)
                report.merge(r)
                return report

            gw.act("blacklist edit", run)

        self._form(f"Edit {entry.pattern}", entry, then)

    def action_remove(self) -> None:
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("blacklist removal"):
            return
        patterns = [r.key for r in rows]

        async def run():
            report = BulkReport(total=0)
            for p in patterns:
                _e, r = await gw.rt.moderation.blacklist_remove(p)
                report.merge(r)
            self.clear_marks()
            return report

        gw.act("blacklist removal", run, confirm=f"Remove {len(patterns)} blacklist entr{'y' if len(patterns) == 1 else 'ies'}?",
               detail=Text("They are unbanned where they were banned.\n" + ", ".join(patterns[:8])))
