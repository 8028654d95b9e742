"""Blacklist: every entry (exact ids and platform-scoped globs); add, edit, remove with the usual keys."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.binding import Binding

from console.engine.actions.blacklist import check_pattern
from console.engine.actions.model import ActionError
from console.engine.durations import parse_when
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import ago, clock, shown, until, untrusted
from console.screens.modals import Field, FormScreen
from console.service.api import BlacklistRow, Command


def entry_row(e: BlacklistRow, now: float) -> Row:
    cells = [untrusted(e.pattern, 80), untrusted(e.name, 60), untrusted(e.reason, 200), untrusted(e.added_by, 30),
             ago(now, e.added_at), until(now, e.expires_at), str(e.present)]
    sort = [e.pattern, e.name, e.reason, e.added_by, -e.added_at, e.expires_at, e.present]
    return Row(e.pattern, cells, sort, extra={"id": e.pattern})


class BlacklistScreen(TableScreen):
    CSS_PATH = "blacklist.tcss"
    SCREEN_NAME = "blacklist"
    QUERY = "blacklist"
    TABLE_TITLE = "Blacklist"
    HELP_TITLE = "Blacklist"
    HELP_NOTES = ("Patterns: an exact id (qq:12345, telegram:777, matrix:@spam:example.org) or a glob scoped to "
                  "one platform (matrix:@*:spam.example); a bare * is refused.",
                  "Expiry: a duration (30d) or an ISO time; empty means never. 'here' (present) counts members "
                  "of watched groups the entry matches now.",
                  "v shows the cursor entry in full (its evidence too); X purges the member's recent messages.")
    COLUMNS = (
        Column("pattern", "pattern", 18, flex=1, max=40, aliases=("id",)),
        Column("name", "name", 14, flex=1, max=30, unique="key"),
        Column("reason", "reason", 12, flex=2), Column("by", "by", 8, drop=1, aliases=("added_by",)),
        Column("added", "added", 5), Column("expires", "expires", 7), Column("present", "here", 4),
    )
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d,delete", "remove", "Remove"),
        Binding("X", "purge", "Purge messages"),
    ]

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        return [entry_row(e, now) for e in self.data]

    def detail_pairs(self, row: Row) -> list[tuple[str, str]]:
        e = self._entry(row.key)
        if e is None:
            return super().detail_pairs(row)
        now = self.gw.header.now if self.gw.header else 0.0
        pairs = [("pattern", e.pattern), ("name", e.name or "-"), ("reason", e.reason or "-"),
                 ("added", f"by {e.added_by} {ago(now, e.added_at)} ago ({clock(e.added_at)})"),
                 ("expires", until(now, e.expires_at)), ("present", f"{e.present} member(s) in watched groups")]
        pairs += [(f"evidence {k}", str(v)) for k, v in sorted(e.evidence.items()) if v not in (None, "")]
        return pairs

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
               detail=Text("They are unbanned where they were banned.\n" + self._named(patterns)))

    def _named(self, patterns: list[str]) -> str:
        """'name (id), ...' for a confirm dialog: two entries with the same name still differ."""
        out = []
        for p in patterns[:8]:
            e = self._entry(p)
            out.append(f"{shown(e.name, 30)} ({shown(p, 60)})" if e is not None and e.name else shown(p, 60))
        more = f" and {len(patterns) - 8} more" if len(patterns) > 8 else ""
        return ", ".join(out) + more

    def action_purge(self) -> None:
        """Delete the marked (or cursor) members' recent messages in every group, and resolve their
        alerts: one confirmation that says how many."""
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("purge"):
            return
        members = [r.key for r in rows if not any(c in r.key for c in "*?[")]
        if len(members) < len(rows):
            gw.notify("purge applies to exact ids, not patterns: patterns left out", timeout=5)
        if members:
            self._confirm_purge(members)

    @work(group="plan", exclusive=True, exit_on_error=False)
    async def _confirm_purge(self, members: list[str]) -> None:
        gw = self.gw
        p = await gw.client.query("purge_preview", members=members)
        if not p.messages and not p.alerts:
            old = f" ({p.too_old} too old for the platform to delete)" if p.too_old else ""
            gw.notify(f"nothing to purge: no recent messages and no open alerts{old}")
            return
        detail = f"Of {self._named(members)}."
        if p.too_old:
            detail += f"\n{p.too_old} older message(s) are past what the platform lets a bot delete: left."
        gw.act(Command("purge", members), done=lambda _r: self.clear_marks(),
               confirm=f"Delete {p.messages} recent message(s) in {p.groups} group(s) and resolve "
                       f"{p.alerts} alert(s)?", detail=Text(detail))
