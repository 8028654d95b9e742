"""Schedules: scheduled posts with their next run; add, edit, pause/resume, run now, dry-run, remove."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from console.engine.actions.model import ActionError
from console.engine.actions.schedules import Schedule, fmt_time
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import untrusted, until
from console.screens.modals import Field, FormScreen


def schedule_row(s: Schedule, next_run: float | None, now: float) -> Row:
    state = "paused" if s.paused else "on"
    cells = [s.id, Text(state, style="yellow" if s.paused else "green"),
             until(now, next_run) if not s.paused else "-", untrusted(s.when, 40), untrusted(s.target, 40),
             fmt_time(next_run, s.tz) if next_run and not s.paused else "-", s.tz, untrusted(s.template, 200)]
    sort = [s.id, state, next_run, s.when, s.target, next_run, s.tz, s.template]
    return Row(s.id, cells, sort)


class SchedulesScreen(TableScreen):
    CSS_PATH = "schedules.tcss"
    SCREEN_NAME = "schedules"
    TABLE_TITLE = "Schedules"
    HELP_TITLE = "Schedules"
    HELP_NOTES = ("When: a cron expression (0 9 * * 1-5) or daily times (09:00,21:30). Targets: group ids, "
                  "tag:<tag>, tier:<tier> or all, comma-separated. Template placeholders: {group} {date} {members}.",
                  "Run now and remove ask first; dry-run shows what would be posted without posting.")
    COLUMNS = (
        Column("id", "id", 8), Column("state", "state", 6), Column("in", "in", 6), Column("when", "when", 14),
        Column("target", "targets", 12), Column("next", "next run", 21), Column("tz", "zone", 14),
        Column("text", "text", flex=True),
    )
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("t", "toggle", "Pause/resume"),
        Binding("r", "run_now", "Run now"),
        Binding("D", "dry_run", "Dry run"),
        Binding("d,delete", "remove", "Remove"),
    ]

    @property
    def schedules(self):
        return self.gw.rt.moderation.schedules

    def collect(self) -> list[Row]:
        now = self.gw.rt.engine.now()
        return [schedule_row(s, self.schedules.next_run(s, now), now) for s in self.schedules.list()]

    def _form(self, title: str, s: Schedule | None, then) -> None:
        when = "" if s is None else (s.cron or ",".join(s.times))
        fields = [Field("when", "When: cron (0 9 * * *) or daily times (09:00,21:00)", when, "09:00"),
                  Field("target", "Targets: ids, tag:x, tier:x or all", s.target if s else "all"),
                  Field("text", "Text ({group} {date} {members})", s.template if s else ""),
                  Field("tz", "Time zone (empty = this machine's)", s.tz if s else "")]

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                then(v)

        self.app.push_screen(FormScreen(title, fields, self._check(s)), chosen)

    def _check(self, replacing: Schedule | None):
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

    def _add(self, v: dict[str, str], id: str | None = None) -> Schedule:
        when = v["when"].strip()
        cron = when if " " in when else None
        return self.schedules.add(id=id, cron=cron, times=None if cron else when, tz=v["tz"].strip() or None,
                                  target=v["target"].strip(), template=v["text"], actor=self.gw.rt.moderation.actor)

    def action_add(self) -> None:
        gw = self.gw
        if not gw.writable("schedule add"):
            return

        def then(v: dict[str, str]) -> None:
            try:
                s = self._add(v)
            except ActionError as e:
                gw.notify(Text(f"schedule add: {e}"), severity="error")
                return
            gw.notify(Text(f"schedule {s.id} added: {s.when}"))
            self.refresh_live()

        self._form("Add a schedule", None, then)

    def action_edit(self) -> None:
        gw = self.gw
        row = self.cursor_row()
        if row is None or not gw.writable("schedule edit"):
            return
        old = self.schedules.get(row.key)

        def then(v: dict[str, str]) -> None:
            # Replace under the same id: remove, then add; if the add fails, put the old one back.
            actor = gw.rt.moderation.actor
            self.schedules.remove(old.id, actor)
            try:
                self._add(v, id=old.id)
            except ActionError as e:
                self.schedules.add(id=old.id, cron=old.cron, times=old.times or None, tz=old.tz, target=old.target,
                                   template=old.template, missed=old.missed, actor=actor)
                gw.notify(Text(f"schedule edit: {e}"), severity="error")
                return
            gw.notify(f"schedule {old.id} updated")
            self.refresh_live()

        self._form(f"Edit schedule {old.id}", old, then)

    def action_toggle(self) -> None:
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("schedule pause"):
            return
        actor = gw.rt.moderation.actor
        for r in rows:
            s = self.schedules.get(r.key)
            (self.schedules.resume if s.paused else self.schedules.pause)(s.id, actor)
        self.clear_marks()
        self.refresh_live()

    def action_run_now(self) -> None:
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("schedule run"):
            return
        ids = [r.key for r in rows]

        async def run():
            from console.engine.actions.model import BulkReport
            report = BulkReport(total=0)
            for id in ids:
                report.merge(await self.schedules.run_now(self.schedules.get(id), gw.rt.engine.summaries(),
                                                          gw.rt.moderation.pipeline, gw.rt.moderation.actor))
            return report

        gw.act("run now", run, confirm=f"Post {len(ids)} schedule(s) now?",
               detail="Each posts to all its target groups at once.")

    def action_dry_run(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        s = self.schedules.get(row.key)
        posts = self.schedules.dry_run(s, self.gw.rt.engine.summaries())
        text = Text(f"{s.id}: {len(posts)} post(s) at the next run\n", style="bold")
        engine = self.gw.rt.engine
        for group, body in posts[:6]:
            text.append(untrusted(engine.group_name(group) or group, 24))
            text.append(": ")
            text.append(untrusted(body, 120))
            text.append("\n")
        self.gw.notify(text, timeout=12)

    def action_remove(self) -> None:
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("schedule removal"):
            return
        ids = [r.key for r in rows]

        async def run():
            for id in ids:
                self.schedules.remove(id, gw.rt.moderation.actor)
            self.clear_marks()
            return f"{len(ids)} schedule(s) removed"

        gw.act("schedule removal", run, confirm=f"Remove {len(ids)} schedule(s)?", detail=", ".join(ids))
