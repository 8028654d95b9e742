"""Schedules: scheduled posts with their next run; add, edit, pause/resume, run now, dry-run, remove."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.binding import Binding

from console.engine.actions.model import ActionError
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import untrusted, until
from console.screens.modals import Field, FormScreen
from console.service.api import Command, ScheduleRow


def schedule_row(s: ScheduleRow, now: float) -> Row:
    next_run = s.next_run
    state = "paused" if s.paused else "on"
    cells = [s.id, Text(state, style="yellow" if s.paused else "green"),
             until(now, next_run) if not s.paused else "-", untrusted(s.when, 40), untrusted(s.target, 40),
             s.next_run_text if next_run and not s.paused else "-", s.tz, untrusted(s.template, 200)]
    sort = [s.id, state, next_run, s.when, s.target, next_run, s.tz, s.template]
    return Row(s.id, cells, sort, extra={"id": s.id})


class SchedulesScreen(TableScreen):
    CSS_PATH = "schedules.tcss"
    SCREEN_NAME = "schedules"
    QUERY = "schedules"
    TABLE_TITLE = "Schedules"
    HELP_TITLE = "Schedules"
    HELP_NOTES = ("When: a cron expression (0 9 * * 1-5) or daily times (09:00,21:30). Targets: group ids, "
                  "tag:<tag>, tier:<tier> or all, comma-separated. Template placeholders: {group} {date} {members}.",
                  "Run now and remove ask first; dry-run shows what would be posted without posting.")
    COLUMNS = (
        Column("id", "id", 8), Column("state", "state", 6), Column("in", "in", 6),
        Column("when", "when", 12, flex=0.5, max=30), Column("target", "targets", 12, flex=0.5, max=40,
                                                               aliases=("target", "tier", "tag")),
        Column("next", "next run", 21, drop=2), Column("tz", "zone", 14, drop=1), Column("text", "text", 12, flex=2),
    )
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("t", "toggle", "Pause/resume"),
        Binding("r", "run_now", "Run now"),
        Binding("D", "dry_run", "Dry run"),
        Binding("d,delete", "remove", "Remove"),
    ]

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        return [schedule_row(s, now) for s in self.data]

    def _row(self, id: str) -> ScheduleRow | None:
        return next((s for s in self.data or () if s.id == id), None)

    def _form(self, title: str, s: ScheduleRow | None, then) -> None:
        when = "" if s is None else (s.cron or ",".join(s.times))
        fields = [Field("when", "When: cron (0 9 * * *) or daily times (09:00,21:00)", when, "09:00"),
                  Field("target", "Targets: ids, tag:x, tier:x or all", s.target if s else "all"),
                  Field("text", "Text ({group} {date} {members})", s.template if s else ""),
                  Field("tz", "Time zone (empty = this machine's)", s.tz if s else "")]

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                then(v)

        self.app.push_screen(FormScreen(title, fields, self._check(s)), chosen)

    def _check(self, replacing: ScheduleRow | None):
        from console.engine.actions.schedules import check_cron, check_template, parse_target, parse_times

        def check(v: dict[str, str]) -> str | None:
            try:
                when = v["when"].strip()
                if not when:
                    raise ActionError("no timetable: give a cron expression or daily times")
                if " " in when:
                    check_cron(when)
                else:
                    parse_times(when)
                parse_target(v["target"])
                if not v["text"].strip():
                    raise ActionError("the text is empty")
                check_template(v["text"])
            except ActionError as e:
                return str(e)
            return None
        return check

    def action_add(self) -> None:
        if not self.gw.writable("schedule_add"):
            return
        self._form("Add a schedule", None, lambda v: self.gw.run_command(Command("schedule_add", [], dict(v))))

    def action_edit(self) -> None:
        row = self.cursor_row()
        if row is None or not self.gw.writable("schedule_edit"):
            return
        old = self._row(row.key)
        if old is not None:
            self._form(f"Edit schedule {old.id}", old,
                       lambda v: self.gw.run_command(Command("schedule_edit", [old.id], dict(v))))

    def action_toggle(self) -> None:
        rows = [self._row(r.key) for r in self.targets()]
        rows = [r for r in rows if r is not None]
        if not rows or not self.gw.writable("schedule_pause"):
            return
        paused = [r.id for r in rows if r.paused]
        running = [r.id for r in rows if not r.paused]
        if running:
            self.gw.run_command(Command("schedule_pause", running))
        if paused:
            self.gw.run_command(Command("schedule_resume", paused))
        self.clear_marks()

    def action_run_now(self) -> None:
        rows = self.targets()
        if not rows or not self.gw.writable("schedule_run_now"):
            return
        ids = [r.key for r in rows]
        self.gw.act(Command("schedule_run_now", ids), confirm=f"Post {len(ids)} schedule(s) now?",
                    detail="Each posts to all its target groups at once.")

    def action_dry_run(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self._dry_run(row.key)

    @work(group="plan", exclusive=True, exit_on_error=False)
    async def _dry_run(self, id: str) -> None:
        posts = await self.gw.client.query("schedule_dry_run", id=id)
        text = Text(f"{id}: {len(posts)} post(s) at the next run\n", style="bold")
        for p in posts[:6]:
            text.append(untrusted(p.group_name or p.group, 24))
            text.append(": ")
            text.append(untrusted(p.text, 120))
            text.append("\n")
        self.gw.notify(text, timeout=12)

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows or not self.gw.writable("schedule_remove"):
            return
        ids = [r.key for r in rows]
        self.gw.act(Command("schedule_remove", ids), confirm=f"Remove {len(ids)} schedule(s)?", detail=", ".join(ids),
                    done=lambda _r: self.clear_marks())
