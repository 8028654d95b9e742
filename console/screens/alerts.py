"""Alerts: the live queue, most severe and newest first, one member's alerts side by side; act from here."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.engine.actions.model import ActionError, ActionKind, BulkReport
from console.engine.alerts import Alert, AlertState
from console.engine.durations import parse_duration
from console.engine.text import visible
from console.screens.base import Column, Row, TableScreen
from console.screens.cells import SEVERITY_SHORT, SEVERITY_STYLE, ago, untrusted
from console.screens.modals import Field, FormScreen

STATE_SHORT = {AlertState.OPEN: "open", AlertState.ACKNOWLEDGED: "ack", AlertState.SNOOZED: "zz"}


def queue_order(alerts: list[Alert]) -> list[Alert]:
    """Most severe and newest first; alerts about one member stay together, led by their worst."""
    clusters: dict[object, list[Alert]] = {}
    for a in alerts:
        key = (a.member,) if a.member is not None else a.id
        clusters.setdefault(key, []).append(a)
    for c in clusters.values():
        c.sort(key=lambda a: (-a.severity, -a.at, a.id))
    ordered = sorted(clusters.values(), key=lambda c: (-c[0].severity, -max(a.at for a in c), c[0].id))
    return [a for c in ordered for a in c]


def alert_row(a: Alert, group: str | None, member: str | None, now: float) -> Row:
    sev = a.severity.label
    cells = [Text(SEVERITY_SHORT[sev], style=SEVERITY_STYLE[sev]), ago(now, a.at), STATE_SHORT.get(a.state, a.state.value), a.kind,
             untrusted(group or "(fleet)", 40), untrusted(member or "", 40), untrusted(a.reason, 200),
             untrusted(a.excerpt, 200, "dim")]
    sort = [int(a.severity), -a.at, a.state.value, a.kind, group or "", member or "", a.reason, a.excerpt or ""]
    return Row(str(a.id), cells, sort, extra={"id": str(a.id), "member_id": a.member or "",
                                               "group_id": a.group or ""})


class AlertsScreen(TableScreen):
    CSS_PATH = "alerts.tcss"
    SCREEN_NAME = "alerts"
    TABLE_TITLE = "Alerts"
    MAX_ROWS = 500  # a queue longer than this is worked through a filter, not by scrolling
    HELP_TITLE = "Alerts"
    HELP_NOTES = ("Filter examples: kind:ad   sev:high   group:fans   !state:ack",
                  "Actions apply to the marked alerts, or to the cursor row when none is marked.",
                  "In read-only mode acknowledge/snooze/resolve still work (they only change this console's "
                  "queue); every platform action is refused.")
    COLUMNS = (
        Column("sev", "sev", 4), Column("age", "age", 3), Column("state", "st", 4), Column("kind", "kind", 13),
        Column("group", "group", 14), Column("member", "member", 12), Column("reason", "reasons", flex=True),
        Column("evidence", "evidence", flex=True),
    )
    BINDINGS = [
        Binding("enter", "open", "Open group"),
        Binding("a", "acknowledge", "Ack"),
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
        self._cache: dict[int, tuple[tuple, Row]] = {}

    def compose_below(self) -> ComposeResult:
        yield Static(id="detail")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def render_rows(self) -> None:
        super().render_rows()
        self.show_detail()

    def show_detail(self) -> None:
        """The cursor alert in full: the table crops reasons and evidence to fit 80 columns."""
        row = self.cursor_row()
        a = self.gw.rt.engine.alerts.get(int(row.key)) if row is not None else None
        t = Text(no_wrap=False)
        if a is not None:
            engine = self.gw.rt.engine
            t.append(f"#{a.id} {a.kind} {a.severity.label}", style=SEVERITY_STYLE[a.severity.label])
            t.append(f"  {a.state.value}  hits {a.hits}  ")
            t.append(untrusted(engine.group_name(a.group) or "(fleet)", 40))
            if a.member:
                t.append(" / ")
                t.append(untrusted(engine.member_name(a.group, a.member), 30))
                t.append(f" ({visible(a.member, 40)})", style="dim")
            t.append("\n")
            t.append(untrusted(a.reason, 300))
            if a.excerpt:
                t.append("\n")
                t.append(untrusted(a.excerpt, 300, "dim"))
        self.query_one("#detail", Static).update(t)

    def collect(self) -> list[Row]:
        engine = self.gw.rt.engine
        now = engine.now()
        cache, fresh = self._cache, {}
        out = []
        for a in queue_order(engine.alerts.live()):
            # an unchanged alert of the same age keeps its Row: the table skips it without comparing cells
            key = (a.at, a.state, a.hits, a.severity, a.reasons, ago(now, a.at))
            hit = cache.get(a.id)
            if hit is None or hit[0] != key:
                hit = (key, alert_row(a, engine.group_name(a.group), engine.member_name(a.group, a.member), now))
            fresh[a.id] = hit
            out.append(hit[1])
        self._cache = fresh
        return out

    # --- helpers ---

    def chosen(self) -> list[Alert]:
        book = self.gw.rt.engine.alerts
        out = []
        for r in self.targets():
            a = book.get(int(r.key))
            if a is not None and a.is_live:
                out.append(a)
        return out

    def _members(self, alerts: list[Alert], what: str) -> list[Alert]:
        """The alerts about a member, one per member; tells the operator what was left out."""
        with_member, seen = [], set()
        for a in alerts:
            if a.member is not None and a.group is not None and (a.group, a.member) not in seen:
                seen.add((a.group, a.member))
                with_member.append(a)
        skipped = len([a for a in alerts if a.member is None])
        if skipped:
            self.gw.notify(f"{what}: {skipped} alert(s) are about a whole group, not a member: left out")
        return with_member

    def _names(self, alerts: list[Alert]) -> Text:
        engine = self.gw.rt.engine
        names = [f"{visible_name(engine.member_name(a.group, a.member))} ({visible(a.member or '', 60)})"
                 for a in alerts[:8]]
        more = f" and {len(alerts) - 8} more" if len(alerts) > 8 else ""
        return Text(", ".join(names) + more)

    def _after(self, _result=None) -> None:
        self.clear_marks()
        self.refresh_live()

    # --- triage ---

    def action_open(self) -> None:
        row = self.cursor_row()
        a = self.gw.rt.engine.alerts.get(int(row.key)) if row is not None else None
        if a is None:
            return
        if a.group is None:
            self.gw.notify("this alert is about the whole fleet, not one group")
            return
        self.gw.open_group(a.group)

    def action_acknowledge(self) -> None:
        n = self.gw.triage.acknowledge([a.id for a in self.chosen()])
        self.gw.notify(f"{n} alert(s) acknowledged", timeout=3)
        self._after()

    def action_resolve(self) -> None:
        n = self.gw.triage.resolve([a.id for a in self.chosen()])
        self.gw.notify(f"{n} alert(s) resolved", timeout=3)
        self._after()

    def action_snooze(self) -> None:
        ids = [a.id for a in self.chosen()]
        if not ids:
            return

        def chosen(v: dict[str, str] | None) -> None:
            if v is None:
                return
            n = self.gw.triage.snooze(ids, parse_duration(v["for"]))
            self.gw.notify(f"{n} alert(s) snoozed for {v['for']}", timeout=3)
            self._after()

        self.app.push_screen(FormScreen(f"Snooze {len(ids)} alert(s)", [Field("for", "For how long", "1h")], check_duration),
                             chosen)

    def action_not_ad(self) -> None:
        gw = self.gw
        ads = [a for a in self.chosen() if a.kind == "ad"]
        if not ads:
            gw.notify("'not an ad' applies to ad alerts only")
            return
        verdict = getattr(gw.rt.moderation, "verdict", None)
        if verdict is None:
            gw.notify("this version has no learning ad model to teach", severity="warning")
            return
        for a in ads:
            gw.notify(Text(verdict(a.id, False)), timeout=3)
        self._after()

    # --- platform actions ---

    def action_warn(self) -> None:
        gw = self.gw
        if not gw.writable("warn"):
            return
        alerts = self._members(self.chosen(), "warn")
        if not alerts:
            return

        async def run():
            report = BulkReport(total=0)
            for a in alerts:
                _outcome, r = await gw.rt.moderation.warn(a.group, a.member, a.kind, alert=a.id)
                report.merge(r)
            return report

        gw.act("warn", run, confirm=f"Warn {len(alerts)} member(s)?", done=self._after,
               detail=Text.assemble("Posts the group's rules with a mention; repeated warnings escalate by the "
                                    "policy.\n", self._names(alerts)))

    def action_blacklist(self) -> None:
        gw = self.gw
        if not gw.writable("blacklist"):
            return
        alerts = self._members(self.chosen(), "blacklist")
        if not alerts:
            return

        async def run():
            report = BulkReport(total=0)
            for a in alerts:
                _entry, r = await gw.rt.moderation.blacklist_add(
                    a.member, reason=f"{a.kind}: {a.reason}"[:200],
                    evidence={"group": a.group, "alert": a.id, "message_id": a.message_id,
                              "excerpt": (a.excerpt or "")[:200]})
                report.merge(r)
            return report

        gw.act("blacklist", run, confirm=f"Blacklist {len(alerts)} member(s)?", done=self._after,
               detail=Text.assemble("Bans them in every watched group of their platform and removes them "
                                    "again if they rejoin.\n", self._names(alerts)))

    def action_delete(self) -> None:
        gw = self.gw
        if not gw.writable("delete"):
            return
        alerts = [a for a in self.chosen() if a.message_id and a.group]
        if not alerts:
            gw.notify("no message to delete: these alerts are not about one message")
            return
        targets = [(a.group, a.member) for a in alerts]
        ids = {(a.group, a.member): a.message_id for a in alerts}

        gw.act("delete", lambda: gw.rt.moderation.act(ActionKind.DELETE, targets, message_ids=ids),
               confirm=f"Delete {len(alerts)} message(s)?", done=self._after,
               detail=Text("\n".join(visible_name(a.excerpt or "")[:70] for a in alerts[:5])))

    def action_mute(self) -> None:
        gw = self.gw
        if not gw.writable("mute"):
            return
        alerts = self._members(self.chosen(), "mute")
        if not alerts:
            return

        def chosen(v: dict[str, str] | None) -> None:
            if v is None:
                return
            seconds = int(parse_duration(v["for"]))
            targets = [(a.group, a.member) for a in alerts]
            gw.act("mute", lambda: gw.rt.moderation.act(ActionKind.MUTE, targets, seconds=seconds,
                                                        reason="muted from an alert"),
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
