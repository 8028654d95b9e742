"""Blacklist: every entry (exact ids and platform-scoped globs); add, edit, remove with the usual keys."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.binding import Binding

from console.engine.actions.blacklist import check_pattern
from console.engine.actions.model import ActionError
from console.engine.durations import parse_when
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import ago, clock, until, untrusted
from console.screens.modals import Field, FormScreen
from console.service.api import BlacklistRow, Command


def entry_row(e: BlacklistRow, now: float) -> Row:
    cells = [untrusted(e.pattern, 28), untrusted(e.reason, 200), untrusted(e.added_by, 12), ago(now, e.added_at),
             until(now, e.expires_at), str(e.present)]
    sort = [e.pattern, e.reason, e.added_by, -e.added_at, e.expires_at, e.present]
    return Row(e.pattern, cells, sort)


class BlacklistScreen(TableScreen):
    CSS_PATH = "blacklist.tcss"
    SCREEN_NAME = "blacklist"
    QUERY = "blacklist"
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

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        return [entry_row(e, now) for e in self.data]

    def _entry(self, pattern: str) -> BlacklistRow | None:
        return next((e for e in self.data or () if e.pattern == pattern), None)

    def _form(self, title: str, entry: BlacklistRow | None, then) -> None:
        now = self.gw.header.now if self.gw.header else 0.0
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
        if not self.gw.writable("blacklist_add"):
            return

        def then(pattern: str, reason: str, expires: float | None) -> None:
            self._confirm_add(pattern, reason, expires)

        self._form("Add to the blacklist", None, then)

    @work(group="plan", exclusive=True, exit_on_error=False)
    async def _confirm_add(self, pattern: str, reason: str, expires: float | None) -> None:
        hits = await self.gw.client.query("blacklist_preview", pattern=pattern)
        members = {h.member for h in hits}
        self.gw.act(Command("blacklist_add", [pattern], {"reason": reason, "expires_at": expires}),
                    confirm=Text(f"Blacklist {pattern}?"),
                    detail=f"Matches {len(members)} present member(s) in {len({h.group for h in hits})} watched "
                           "group(s): they are banned now, and anyone matching is removed on joining.")

    def action_edit(self) -> None:
        gw = self.gw
        row = self.cursor_row()
        if row is None or not gw.writable("blacklist_add"):
            return
        entry = self._entry(row.key)
        if entry is None:
            return

        def then(pattern: str, reason: str, expires: float | None) -> None:
            if pattern != entry.pattern:
                if not gw.writable("blacklist_remove"):
                    return
                gw.run_command(Command("blacklist_remove", [entry.pattern]))
            gw.run_command(Command("blacklist_add", [pattern], {"reason": reason, "expires_at": expires,
                                                                 "evidence": entry.evidence, "replace": True}))

        self._form(f"Edit {entry.pattern}", entry, then)

    def action_remove(self) -> None:
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("blacklist_remove"):
            return
        patterns = [r.key for r in rows]
        gw.act(Command("blacklist_remove", patterns), done=lambda _r: self.clear_marks(),
               confirm=f"Remove {len(patterns)} blacklist entr{'y' if len(patterns) == 1 else 'ies'}?",
               detail=Text("They are unbanned where they were banned.\n" + ", ".join(patterns[:8])))
