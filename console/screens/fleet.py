"""The fleet screen: every group worst first, and the live alert queue."""
from __future__ import annotations


from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from console.engine.activity import GroupSummary
from console.engine.alerts import Alert
from console.engine.text import visible
from console.widgets.keyed_table import KeyedTable
from console.widgets.status import StatusLine, status_text

SPARK = " ▁▂▃▄▅▆▇█"
TIER_STYLE = {"high": "green", "ordinary": "", "inactive": "yellow", "critical": "red"}
SEVERITY_STYLE = {"low": "cyan", "medium": "yellow", "high": "bold red"}


def sparkline(values: list[int]) -> str:
    top = max(values) if values else 0
    if top == 0:
        return " " * len(values)
    return "".join(SPARK[min(8, (v * 8 + top - 1) // top)] for v in values)


def ago(now: float, at: float | None) -> str:
    if at is None:
        return "never"
    s = max(0, now - at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def group_cells(r: GroupSummary, now: float) -> list:
    ratio = "-" if r.active_ratio is None else f"{r.active_ratio * 100:.0f}%"
    return [Text(visible(r.name, 28)), str(r.members), str(r.messages_1h), ratio,
            Text(r.tier, style=TIER_STYLE[r.tier]), ago(now, r.last_message_at), str(r.leaves),
            Text(str(r.open_alerts), style="bold" if r.open_alerts else ""), sparkline(r.sparkline[-12:])]


def alert_cells(a: Alert, group: str | None, member: str | None, now: float) -> list:
    return [Text(a.severity.label, style=SEVERITY_STYLE[a.severity.label]), a.kind,
            Text(visible(group or "(fleet)", 22)), Text(visible(member or "", 16)),
            Text(visible(a.reason, 60)), Text(visible(a.excerpt or "", 50), style="dim"), ago(now, a.at)]


class FleetScreen(Screen):
    CSS_PATH = "fleet.tcss"
    BINDINGS = [
        Binding("tab", "focus_next", "Switch pane", show=False),
        Binding("p", "app.pause", "Pause"),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        groups = KeyedTable(id="groups", cursor_type="row", zebra_stripes=False)
        groups.border_title = "Groups (worst first)"
        yield groups
        alerts = KeyedTable(id="alerts", cursor_type="row")
        alerts.border_title = "Alerts"
        yield alerts
        yield Footer()

    def on_mount(self) -> None:
        g = self.query_one("#groups", KeyedTable)
        g.add_columns("group", "members", "msg/1h", "active 7d", "tier", "last msg", "left 7d", "alerts",
                      "12h")
        a = self.query_one("#alerts", KeyedTable)
        a.add_columns("sev", "kind", "group", "member", "reason", "evidence", "age")
        g.focus()

    def refresh_from(self, engine, demo: bool, paused: bool) -> None:
        self.query_one("#status", StatusLine).update(status_text(engine, demo, paused))
        if paused:
            return
        now = engine.now()
        rows = engine.summaries()
        self.query_one("#groups", KeyedTable).set_rows([(r.id, group_cells(r, now)) for r in rows])
        live = sorted(engine.alerts.live(), key=lambda a: (-a.severity, -a.at, a.id))
        self.query_one("#alerts", KeyedTable).set_rows(
            [(str(a.id), alert_cells(a, engine.group_name(a.group), engine.member_name(a.group, a.member), now))
             for a in live[:500]])
