"""Groups: every watched group as a row, worst first; the screen an operator starts a shift on."""
from __future__ import annotations

import re
import shlex

from rich.text import Text
from textual import work
from textual.binding import Binding

from console.screens.base import Row, TableScreen
from console.screens.cells import group_list, shown
from console.screens.modals import Field, FormScreen
from console.service.api import Command
from console.service.table_specs import GROUP_COLUMNS, group_cells, group_row, group_stamp

__all__ = ["GroupsScreen", "group_cells", "group_row"]


class GroupsScreen(TableScreen):
    CSS_PATH = "groups.tcss"
    SCREEN_NAME = "groups"
    QUERY = "groups"
    TABLE_TITLE = "Groups"
    DEFAULT_ORDER = "worst first"
    HELP_TITLE = "Groups"
    HELP_NOTES = ("Filter examples: fans   tier:crit   tier:inactive   !tier:high   pf:qq   tags:vip   al:[1-9]"
                  "   (a column by its header or its name)",
                  "Tiers by the 7-day active ratio: high > 40%, ord(inary) 20-40%, inac(tive) < 20%, crit(ical) < 10%.",
                  "Actions apply to the marked groups, or to the cursor row when none is marked.")
    COLUMNS = GROUP_COLUMNS
    BINDINGS = [
        Binding("enter", "open", "Open group"),
        Binding("m", "mention", "Mention quiet"),
        Binding("P", "post", "Post now"),
        Binding("a", "alerts", "Its alerts"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, tuple[tuple, Row]] = {}

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        out = []
        cache = self._rows
        for r in self.data:
            # what the row shows unchanged: the same Row, which the table then skips without comparing
            # cells (by value: attached, every refresh decodes new objects)
            key = group_stamp(r, now)
            hit = cache.get(r.id)
            if hit is None or hit[0] != key:
                hit = cache[r.id] = (key, group_row(r, now))
            out.append(hit[1])
        return out

    def action_open(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.gw.open_group(row.key)

    def action_alerts(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        name = next((r.name for r in self.data or () if r.id == row.key), row.key)
        self.app.switch_mode("alerts")
        # Quoted for the filter's word splitting: a name with quotes or backslashes matches itself.
        self.app.screen.set_filter(shlex.quote(f"group:^{re.escape(name)}$"))

    def action_mention(self) -> None:
        rows = self.targets()
        if not rows or not self.gw.writable("mention"):
            return
        self._plan_mention([r.key for r in rows])

    @work(group="plan", exclusive=True, exit_on_error=False)
    async def _plan_mention(self, groups: list[str]) -> None:
        gw = self.gw
        counts = await gw.client.query("quiet", groups=groups)
        plan = [(g, counts.get(g, 0)) for g in groups if counts.get(g, 0)]
        if not plan:
            gw.notify("no quiet members to mention (silent long enough and not mentioned recently)")
            return
        total = sum(n for _, n in plan)
        gw.act(Command("mention", [g for g, _ in plan]), done=lambda _r: self.clear_marks(),
               confirm=f"Mention {total} quiet member(s) in {self.named([g for g, _ in plan])}?",
               detail="One message per batch of the platform's mention limit; each member is not mentioned "
                      "again for the cool-down period.")

    def action_post(self) -> None:
        gw = self.gw
        rows = self.targets()
        if not rows or not gw.writable("post"):
            return
        groups = [r.key for r in rows]

        def check(v: dict[str, str]) -> str | None:
            return None if v["text"].strip() else "the message is empty"

        def chosen(v: dict[str, str] | None) -> None:
            if v is None:
                return

            gw.act(Command("post", groups, {"text": v["text"]}), done=lambda _r: self.clear_marks(),
                   confirm=f"Post now to {self.named(groups)}?", detail=Text(shown(v["text"], 300)))

        self.app.push_screen(FormScreen(f"Post now to {self.named(groups)}", [Field("text", "Message")], check),
                             chosen)

    def named(self, groups: list[str]) -> str:
        """'3 groups: A, B, C' for a confirm line (names neutralised; the first few, then a count)."""
        names = {r.id: r.name for r in self.data or ()}
        return group_list([names.get(g, g) for g in groups])
