"""Group: one group up close: its members (quiet ones to mark and mention), recent messages,
activity and churn over time, and its schedules. Pushed from any screen with enter; esc goes back."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.engine.actions.model import ActionKind, BulkReport
from console.engine.activity import summarize
from console.engine.stats import DAY
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import TIER_STYLE, ago, clock, percent, sparkline, untrusted
from console.screens.modals import Field, FormScreen


class GroupScreen(TableScreen):
    CSS_PATH = "group.tcss"
    SCREEN_NAME = ""
    TABLE_TITLE = "Members"
    HELP_TITLE = "Group"
    HELP_NOTES = ("Filter examples: quiet   status:bl   !status:quiet   warns:[1-9]",
                  "Q marks every quiet member; m mentions the marked ones (or every quiet member if none is marked).")
    COLUMNS = (
        Column("member", "member", flex=True), Column("last", "last msg", 8), Column("msgs", "30d", 4),
        Column("warns", "warn", 4), Column("joined", "joined", 6), Column("status", "status", 12),
    )
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("Q", "mark_quiet", "Mark quiet"),
        Binding("m", "mention", "Mention"),
        Binding("P", "post", "Post now"),
        Binding("w", "warn", "Warn", show=False),
        Binding("b", "blacklist", "Blacklist", show=False),
        Binding("k", "kick", "Kick", show=False),
    ]

    def __init__(self, group_id: str) -> None:
        super().__init__()
        self.group_id = group_id
        self.quiet: set[str] = set()

    @property
    def is_pushed(self) -> bool:
        return True

    def compose_above(self) -> ComposeResult:
        yield Static(id="info")

    def compose_below(self) -> ComposeResult:
        yield Static(id="recent")

    def collect(self) -> list[Row]:
        rt = self.gw.rt
        engine, mod = rt.engine, rt.moderation
        g = engine.stats.groups.get(self.group_id)
        if g is None:
            return []
        now = engine.now()
        try:
            self.quiet = {m.id for m in mod.quiet_members(self.group_id)}
        except Exception:  # an unknown group is shown empty, not crashed
            self.quiet = set()
        since = now - 30 * DAY
        rows = []
        for m in g.members.values():
            if not m.present:
                continue
            status = []
            if m.id in self.quiet:
                status.append("quiet")
            if mod.blacklist.match(m.id, now) is not None:
                status.append("bl")
            warns = mod.warnings.count(m.id, now)
            n30 = m.messages_since(since)
            cells = [untrusted(m.name, 60), ago(now, m.last_message_at), str(n30),
                     Text(str(warns), style="yellow" if warns else "dim"), ago(now, m.joined_at),
                     Text(" ".join(status), style="bold red" if "bl" in status else "yellow")]
            sort = [m.name, -(m.last_message_at or 0), n30, warns, -(m.joined_at or 0), " ".join(status)]
            rows.append(Row(m.id, cells, sort, extra={"id": m.id}))
        rows.sort(key=lambda r: (r.key not in self.quiet, r.sort[1]))
        self._show_info(g, now)
        return rows

    def _show_info(self, g, now: float) -> None:
        rt = self.gw.rt
        engine = rt.engine
        s = summarize(g, now, rt.settings.detectors.activity,
                      sum(1 for a in engine.alerts.live() if a.group == g.id))
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(Text(untrusted(g.name, 30).plain, style="bold"))
        t.append(f"  {g.platform}  {s.members} members  active {percent(s.active_ratio)} ")
        t.append(s.tier, style=TIER_STYLE[s.tier])
        t.append(f"  left 7d {s.leaves}  joined 7d {s.joins}  alerts {s.open_alerts}")
        if not g.member_list_complete:
            t.append("\npartial member list: the platform cannot list members; shown are those seen since "
                     + clock(g.observed_since), style="yellow")
        hours = g.hourly_series(g.hourly_messages, now, 48)
        leaves = g.hourly_series(g.hourly_leaves, now, 48)
        t.append(f"\nmsgs 48h  {sparkline(hours)} {sum(hours)}")
        t.append(f"\nleft 48h  {sparkline(leaves)} {sum(leaves)}")
        schedules = rt.moderation.schedules
        every = schedules.list()
        summaries = engine.summaries() if every else []  # once, and only when there are schedules to match
        scheds = [sc for sc in every if any(x.id == g.id for x in schedules.targets(sc, summaries))]
        if scheds:
            t.append("\nschedules " + ", ".join(f"{sc.id} ({sc.when}{', paused' if sc.paused else ''})"
                                                for sc in scheds[:4]))
        self.query_one("#info", Static).update(t)
        recent = Text(no_wrap=True, overflow="ellipsis")
        for msg in list(g.recent)[-5:][::-1]:
            recent.append(clock(msg.at, with_date=False) + " ", style="dim")
            recent.append(untrusted(msg.sender_name, 12))
            recent.append(": ")
            recent.append(untrusted(msg.text, 200))
            recent.append("\n")
        self.query_one("#recent", Static).update(recent if recent.plain else Text("no messages seen yet", style="dim"))

    # --- keys ---

    def action_mark_quiet(self) -> None:
        visible = {r.key for r in self.shown}
        self.marks |= self.quiet & visible
        self.render_rows()
        self.gw.notify(f"{len(self.quiet & visible)} quiet member(s) marked", timeout=3)

    def _chosen(self) -> list[str]:
        return [r.key for r in self.targets()]

    def action_mention(self) -> None:
        gw = self.gw
        if not gw.writable("mention"):
            return
        members = [k for k in self.marks if k in self.quiet] if self.marks else sorted(self.quiet)
        not_quiet = len(self.marks - self.quiet) if self.marks else 0
        if not members:
            gw.notify("no quiet members to mention (silent long enough and not mentioned recently)")
            return

        async def run():
            report, _ = await gw.rt.moderation.mention_quiet(self.group_id, members)
            self.clear_marks()
            return report

        detail = "Members mentioned are not mentioned again for the cool-down period."
        if not_quiet:
            detail += f"\n{not_quiet} marked member(s) are not quiet (or were mentioned recently): left out."
        gw.act("mention", run, confirm=f"Mention {len(members)} quiet member(s) in this group?", detail=detail)

    def action_post(self) -> None:
        gw = self.gw
        if not gw.writable("post"):
            return

        def check(v: dict[str, str]) -> str | None:
            return None if v["text"].strip() else "the message is empty"

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                gw.act("post", lambda: gw.rt.moderation.post([self.group_id], v["text"]),
                       confirm="Post this message to the group now?", detail=Text(v["text"][:300]))

        self.app.push_screen(FormScreen("Post now", [Field("text", "Message")], check), chosen)

    def action_warn(self) -> None:
        gw = self.gw
        members = self._chosen()
        if not members or not gw.writable("warn"):
            return

        async def run():
            report = BulkReport(total=0)
            for m in members:
                _o, r = await gw.rt.moderation.warn(self.group_id, m, "warned from the group screen")
                report.merge(r)
            self.clear_marks()
            return report

        gw.act("warn", run, confirm=f"Warn {len(members)} member(s)?")

    def action_blacklist(self) -> None:
        gw = self.gw
        members = self._chosen()
        if not members or not gw.writable("blacklist"):
            return

        async def run():
            report = BulkReport(total=0)
            for m in members:
                _e, r = await gw.rt.moderation.blacklist_add(m, reason="from the group screen",
                                                             evidence={"group": self.group_id})
                report.merge(r)
            self.clear_marks()
            return report

        gw.act("blacklist", run, confirm=f"Blacklist {len(members)} member(s)?",
               detail="Bans them in every watched group of their platform and removes them if they rejoin.")

    def action_kick(self) -> None:
        gw = self.gw
        members = self._chosen()
        if not members or not gw.writable("kick"):
            return

        async def run():
            report = await gw.rt.moderation.act(ActionKind.KICK, [(self.group_id, m) for m in members],
                                                reason="removed by an operator")
            self.clear_marks()
            return report

        gw.act("kick", run, confirm=f"Kick {len(members)} member(s) from this group?")
