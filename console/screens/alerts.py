"""Alerts: the live queue, most severe and newest first, one member's alerts side by side; act from here."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.engine.actions.model import ActionError
from console.engine.durations import parse_duration
from console.engine.text import visible
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import SEVERITY_SHORT, SEVERITY_STYLE, ago, untrusted
from console.screens.modals import Field, FormScreen
from console.service.api import AlertsPage, AlertView, Command

STATE_SHORT = {"open": "open", "acknowledged": "ack", "snoozed": "zz"}
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def alert_row(a: AlertView, now: float) -> Row:
    sev = a.severity
    state = STATE_SHORT.get(a.state, a.state)
    if a.claimed_by and a.state == "open":
        state = "clm"  # someone is on it: the detail pane says who
    cells = [Text(SEVERITY_SHORT[sev], style=SEVERITY_STYLE[sev]), ago(now, a.at), state, a.kind,
             untrusted(a.group_name or a.group or "(fleet)", 40), untrusted(a.member_name or a.member or "", 40),
             untrusted(a.reason, 200), untrusted(a.excerpt, 200, "dim")]
    sort = [SEVERITY_RANK.get(sev, 0), -a.at, a.state, a.kind, a.group_name or "", a.member_name or "", a.reason,
            a.excerpt or ""]
    return Row(str(a.id), cells, sort, extra={"id": str(a.id), "member_id": a.member or "",
                                               "group_id": a.group or "", "claimed": a.claimed_by or "",
                                               "handled": a.handled_by or ""})


class AlertsScreen(TableScreen):
    CSS_PATH = "alerts.tcss"
    SCREEN_NAME = "alerts"
    QUERY = "alerts"
    TABLE_TITLE = "Alerts"
    MAX_ROWS = 500  # a queue longer than this is worked through a filter, not by scrolling
    HELP_TITLE = "Alerts"
    HELP_NOTES = ("Filter examples: kind:ad   sev:high   group:fans   !state:ack",
                  "Actions apply to the marked alerts, or to the cursor row when none is marked.",
                  "Triage is shared: an ack, snooze, resolve or claim (c: I'm on it) shows on every console; "
                  "state clm means claimed (the pane below says by whom).",
                  "A viewer or --read-only console sees everything and every change is refused.")
    COLUMNS = (
        Column("sev", "sev", 4), Column("age", "age", 3), Column("state", "st", 4), Column("kind", "kind", 13),
        Column("group", "group", 12, flex=1, max=40, unique="group_id"),
        Column("member", "member", 10, flex=1, max=30, unique="member_id"),
        Column("reason", "reasons", 12, flex=2, aliases=("reason",)), Column("evidence", "evidence", flex=2, drop=1),
    )
    BINDINGS = [
        Binding("enter", "open", "Open group"),
        Binding("a", "acknowledge", "Ack"),
        Binding("c", "claim", "Claim"),
        Binding("u", "reopen", "Un-ack", show=False),
        Binding("z", "snooze", "Snooze"),
        Binding("r", "resolve", "Resolve"),
        Binding("w", "warn", "Warn"),
        Binding("b", "blacklist", "Blacklist"),
        Binding("d", "delete", "Delete msg", show=False),
        Binding("M", "mute", "Mute", show=False),
        Binding("n", "not_ad", "Not an ad", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[int, tuple[AlertView, str, Row]] = {}
        self.by_key: dict[str, AlertView] = {}

    def query_params(self) -> dict:
        # a queue longer than the table is worked through a filter or a sort: then every alert is needed
        return {} if self.row_filter.active or self.sort_col is not None else {"limit": self.MAX_ROWS}

    def take(self, data: AlertsPage) -> None:
        self.data = data
        self.by_key = {str(a.id): a for a in data.alerts}

    def compose_below(self) -> ComposeResult:
        yield Static(id="detail")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def render_rows(self) -> None:
        super().render_rows()
        self.show_detail()

    def update_title(self) -> None:
        super().update_title()
        if self.data is not None and self.data.total > len(self.rows):
            title = self.table.border_title
            self.table.border_title = Text.assemble(title if isinstance(title, Text) else str(title or ""),
                                                    f" · first {len(self.rows)} of {self.data.total}")

    def show_detail(self) -> None:
        """The cursor alert in full: the table crops reasons and evidence to fit 80 columns."""
        row = self.cursor_row()
        a = self.by_key.get(row.key) if row is not None else None
        t = Text(no_wrap=False)
        if a is not None:
            now = self.gw.header.now if self.gw.header else a.at
            t.append(f"#{a.id} {a.kind} {a.severity}", style=SEVERITY_STYLE[a.severity])
            t.append(f"  {a.state}  hits {a.hits}  ")
            t.append(untrusted(a.group_name or a.group or "(fleet)", 40))
            if a.member:
                t.append(" / ")
                t.append(untrusted(a.member_name or a.member, 30))
                t.append(f" ({visible(a.member, 40)})", style="dim")
            if a.state_by and a.state != "open":
                t.append(f"  {a.state} by {visible(a.state_by, 30)} {ago(now, a.state_at)} ago", style="cyan")
            if a.claimed_by:
                t.append(f"  claimed by {visible(a.claimed_by, 30)} {ago(now, a.claimed_at)} ago", style="cyan")
            if a.handled_by:
                t.append(f"  {visible(a.handled_how or 'handled', 20)} by {visible(a.handled_by, 30)} "
                         f"{ago(now, a.handled_at)} ago", style="cyan")
            t.append("\n")
            t.append(untrusted(a.reason, 300))
            if a.excerpt:
                t.append("\n")
                t.append(untrusted(a.excerpt, 300, "dim"))
        self.query_one("#detail", Static).update(t)

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        cache, fresh = self._cache, {}
        out = []
        for a in self.data.alerts:
            # an unchanged alert of the same age keeps its Row: the table skips it without comparing cells
            age = ago(now, a.at)
            hit = cache.get(a.id)
            if hit is None or hit[1] != age or (hit[0] is not a and hit[0] != a):
                hit = (a, age, alert_row(a, now))
            fresh[a.id] = hit
            out.append(hit[2])
        self._cache = fresh
        return out

    # --- helpers ---

    def chosen(self) -> list[AlertView]:
        return [self.by_key[r.key] for r in self.targets() if r.key in self.by_key]

    def _members(self, alerts: list[AlertView], what: str) -> list[AlertView]:
        """The alerts about a member, one per member; tells the operator what was left out."""
        out, seen = [], set()
        for a in alerts:
            if a.member is not None and a.group is not None and (a.group, a.member) not in seen:
                seen.add((a.group, a.member))
                out.append(a)
        skipped = len([a for a in alerts if a.member is None])
        if skipped:
            self.gw.notify(f"{what}: {skipped} alert(s) are about a whole group, not a member: left out")
        return out

    def _names(self, alerts: list[AlertView]) -> Text:
        names = [f"{visible_name(a.member_name or a.member)} ({visible(a.member or '', 60)})" for a in alerts[:8]]
        more = f" and {len(alerts) - 8} more" if len(alerts) > 8 else ""
        return Text(", ".join(names) + more)

    def _after(self, _report=None) -> None:
        self.clear_marks()

    def _ids(self, alerts: list[AlertView]) -> list[int]:
        return [a.id for a in alerts]

    # --- triage ---

    def action_open(self) -> None:
        row = self.cursor_row()
        a = self.by_key.get(row.key) if row is not None else None
        if a is not None:
            self.gw.open_group(a.group)

    def _triage(self, name: str, params: dict | None = None) -> None:
        if not self.gw.writable(name):
            return
        ids = self._ids(self.chosen())
        if ids:
            self.gw.act(Command(name, ids, params or {}), done=self._after)

    def action_acknowledge(self) -> None:
        self._triage("ack")

    def action_reopen(self) -> None:
        self._triage("unack")

    def action_claim(self) -> None:
        self._triage("claim")

    def action_resolve(self) -> None:
        self._triage("resolve")

    def action_snooze(self) -> None:
        ids = self._ids(self.chosen())
        if not ids or not self.gw.writable("snooze"):
            return

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                self.gw.act(Command("snooze", ids, {"seconds": parse_duration(v["for"])}), done=self._after)

        self.app.push_screen(FormScreen(f"Snooze {len(ids)} alert(s)", [Field("for", "For how long", "1h")],
                                        check_duration), chosen)

    def action_not_ad(self) -> None:
        if not self.gw.writable("not_ad"):
            return
        ads = [a for a in self.chosen() if a.kind == "ad"]
        if not ads:
            self.gw.notify("'not an ad' applies to ad alerts only")
            return
        self.gw.act(Command("not_ad", self._ids(ads)), done=self._after)

    # --- platform actions ---

    def action_warn(self) -> None:
        if not self.gw.writable("warn_alerts"):
            return
        alerts = self._members(self.chosen(), "warn")
        if alerts:
            self.gw.act(Command("warn_alerts", self._ids(alerts)), confirm=f"Warn {len(alerts)} member(s)?",
                        done=self._after,
                        detail=Text.assemble("Posts the group's rules with a mention; repeated warnings escalate "
                                             "by the policy.\n", self._names(alerts)))

    def action_blacklist(self) -> None:
        if not self.gw.writable("blacklist_alerts"):
            return
        alerts = self._members(self.chosen(), "blacklist")
        if alerts:
            self.gw.act(Command("blacklist_alerts", self._ids(alerts)), confirm=f"Blacklist {len(alerts)} member(s)?",
                        done=self._after,
                        detail=Text.assemble("Bans them in every watched group of their platform and removes "
                                             "them again if they rejoin.\n", self._names(alerts)))

    def action_delete(self) -> None:
        if not self.gw.writable("delete_alerts"):
            return
        alerts = [a for a in self.chosen() if a.message_id and a.group]
        if not alerts:
            self.gw.notify("no message to delete: these alerts are not about one message")
            return
        self.gw.act(Command("delete_alerts", self._ids(alerts)), confirm=f"Delete {len(alerts)} message(s)?",
                    done=self._after, detail=Text("\n".join(visible_name(a.excerpt or "")[:70] for a in alerts[:5])))

    def action_mute(self) -> None:
        if not self.gw.writable("mute_alerts"):
            return
        alerts = self._members(self.chosen(), "mute")
        if not alerts:
            return

        def chosen(v: dict[str, str] | None) -> None:
            if v is None:
                return
            self.gw.act(Command("mute_alerts", self._ids(alerts), {"seconds": int(parse_duration(v["for"]))}),
                        confirm=f"Mute {len(alerts)} member(s) for {v['for']}?", detail=self._names(alerts),
                        done=self._after)

        self.app.push_screen(FormScreen(f"Mute {len(alerts)} member(s)", [Field("for", "For how long", "1d")],
                                        check_duration), chosen)


def check_duration(v: dict[str, str]) -> str | None:
    """The form's check of its "for" field: the duration parser's one-line error, or None."""
    try:
        parse_duration(v["for"])
    except ActionError as e:
        return str(e)
    return None


def visible_name(text: str | None) -> str:
    return visible(text or "", 40)
