"""Group: one group up close: its members (quiet ones to mark and mention), recent messages,
activity and churn over time, and its schedules. Pushed from any screen with enter; esc goes back."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.screens.base import Column, Row
from console.screens.detail import DetailScreen
from console.screens.cells import TIER_STYLE, ago, clock, percent, sparkline, untrusted
from console.screens.modals import Field, FormScreen
from console.service.api import Command, GroupDetail


class GroupScreen(DetailScreen):
    CSS_PATH = "group.tcss"
    SCREEN_NAME = ""
    TABLE_TITLE = "Members"
    QUERY = "group"
    HELP_TITLE = "Group"
    HELP_NOTES = ("Filter examples: quiet   status:bl   !status:quiet   warns:[1-9]",
                  "Q marks every quiet member; m mentions the marked ones (or every quiet member if none is marked).")
    COLUMNS = (
        Column("member", "member", 12, flex=1, unique="key", aliases=("name",)),
        Column("last", "last msg", 8, aliases=("last",)), Column("msgs", "30d", 4, aliases=("messages",)),
        Column("warns", "warn", 4, aliases=("warnings",)), Column("joined", "joined", 12),
        Column("status", "status", 12),
    )
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("Q", "mark_quiet", "Mark quiet"),
        Binding("m", "mention", "Mention"),
        Binding("P", "post", "Post now"),
        Binding("w", "warn", "Warn", show=False),
        Binding("b", "blacklist", "Blacklist", show=False),
        Binding("K", "kick", "Kick", show=False),
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

    def query_params(self) -> dict:
        return {"id": self.group_id}

    def collect(self) -> list[Row]:
        d: GroupDetail = self.data
        now = self.gw.header.now if self.gw.header else 0.0
        self.quiet = {m.id for m in d.members if m.quiet}
        rows = []
        for m in d.members:
            status = []
            if m.quiet:
                status.append("quiet")
            if m.blacklisted:
                status.append("bl")
            cells = [untrusted(m.name, 60), ago(now, m.last_message_at), str(m.messages_30d),
                     Text(str(m.warnings), style="yellow" if m.warnings else "dim"),
                     # no join seen: the member was there before groupwatch first watched the group
                     ago(now, m.joined_at, none="before watch"),
                     Text(" ".join(status), style="bold red" if "bl" in status else "yellow")]
            sort = [m.name, -(m.last_message_at or 0), m.messages_30d, m.warnings, -(m.joined_at or 0),
                    " ".join(status)]
            rows.append(Row(m.id, cells, sort, extra={"id": m.id}))
        rows.sort(key=lambda r: (r.key not in self.quiet, r.sort[1]))
        self._show_info(d)
        return rows

    def _show_info(self, d: GroupDetail) -> None:
        s = d.summary
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(Text(untrusted(s.name, 30).plain, style="bold"))
        t.append(f"  {s.platform}  {s.members} members  active {percent(s.active_ratio)} ")
        t.append(s.tier, style=TIER_STYLE[s.tier])
        t.append(f"  left 7d {s.leaves}  joined 7d {s.joins}  alerts {s.open_alerts}")
        if not d.member_list_complete:
            t.append("\npartial member list: the platform cannot list members; shown are those seen since "
                     + clock(d.observed_since), style="yellow")
        t.append(f"\nmsgs 48h  {sparkline(d.messages_48h)} {sum(d.messages_48h)}")
        t.append(f"\nleft 48h  {sparkline(d.leaves_48h)} {sum(d.leaves_48h)}")
        if d.schedules:
            t.append("\nschedules " + ", ".join(f"{sc.id} ({sc.when}{', paused' if sc.paused else ''})"
                                                for sc in d.schedules[:4]))
        self.query_one("#info", Static).update(t)
        recent = Text(no_wrap=True, overflow="ellipsis")
        for msg in d.recent[:5]:
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
        detail = "Members mentioned are not mentioned again for the cool-down period."
        if not_quiet:
            detail += f"\n{not_quiet} marked member(s) are not quiet (or were mentioned recently): left out."
        gw.act(Command("mention", [self.group_id], {"members": members}), done=lambda _r: self.clear_marks(),
               confirm=f"Mention {len(members)} quiet member(s) in this group?", detail=detail)

    def action_post(self) -> None:
        gw = self.gw
        if not gw.writable("post"):
            return

        def check(v: dict[str, str]) -> str | None:
            return None if v["text"].strip() else "the message is empty"

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                gw.act(Command("post", [self.group_id], {"text": v["text"]}),
                       confirm="Post this message to the group now?", detail=Text(v["text"][:300]))

        self.app.push_screen(FormScreen("Post now", [Field("text", "Message")], check), chosen)

    def _members_command(self, name: str, confirm: str, detail: str = "", **params) -> None:
        members = self._chosen()
        if not members or not self.gw.writable(name):
            return
        self.gw.act(Command(name, [[self.group_id, m] for m in members], params), confirm=confirm, detail=detail,
                    done=lambda _r: self.clear_marks())

    def action_warn(self) -> None:
        self._members_command("warn", f"Warn {len(self._chosen())} member(s)?", reason="warned from the group screen")

    def action_blacklist(self) -> None:
        members = self._chosen()
        if not members or not self.gw.writable("blacklist_add"):
            return
        self.gw.act(Command("blacklist_add", members, {"reason": "from the group screen",
                                                        "evidence": {"group": self.group_id}}),
                    confirm=f"Blacklist {len(members)} member(s)?", done=lambda _r: self.clear_marks(),
                    detail="Bans them in every watched group of their platform and removes them if they rejoin.")

    def action_kick(self) -> None:
        self._members_command("kick", f"Kick {len(self._chosen())} member(s) from this group?",
                              reason="removed by an operator")
