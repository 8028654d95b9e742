"""One incident: the alerts inside it (ended ones too), its timeline, and the same keys as the
Alerts screen acting on single alerts. esc goes back."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.screens.alert_keys import TriageKeys
from console.screens.alerts import ALERT_COLUMNS, alert_row
from console.screens.base import Row
from console.screens.detail import DetailScreen
from console.screens.cells import SEVERITY_STYLE, ago, untrusted
from console.service.api import IncidentDetail


class IncidentScreen(TriageKeys, DetailScreen):
    CSS_PATH = "alerts.tcss"
    SCREEN_NAME = "alerts"
    QUERY = "incident"
    TABLE_TITLE = "Alerts of the incident"
    HELP_TITLE = "Incident"
    HELP_NOTES = ("The alerts folded into this incident; keys act on the marked alerts or the cursor one.",
                  "enter opens the alert's group; esc goes back to the incidents.")
    COLUMNS = ALERT_COLUMNS
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open", "Open group"),
        *TriageKeys.TRIAGE_BINDINGS,
    ]

    def __init__(self, incident_id: int) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.by_key = {}
        self.incidents = {}

    @property
    def is_pushed(self) -> bool:
        return True

    def query_params(self) -> dict:
        return {"id": self.incident_id}

    def take(self, data: IncidentDetail) -> None:
        self.data = data
        self.by_key = {str(a.id): a for a in data.alerts}

    def compose_above(self) -> ComposeResult:
        yield Static(id="info")

    def compose_below(self) -> ComposeResult:
        yield Static(id="detail")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def render_rows(self, keep: str | None = None) -> None:
        super().render_rows(keep)
        self.show_detail()

    def collect(self) -> list[Row]:
        d: IncidentDetail = self.data
        now = self.gw.header.now if self.gw.header else 0.0
        i = d.incident
        info = Text(no_wrap=False)
        info.append(f"incident #{i.id} {i.kind} {i.severity}", style=SEVERITY_STYLE[i.severity])
        info.append(f"  {i.state}  rule {i.rule}  {i.count} alert(s)  ")
        info.append(untrusted(i.title, 200))
        for at, text in i.timeline[-4:]:
            info.append(f"\n  {ago(now, at)} ago  ", style="dim")
            info.append(untrusted(str(text), 200))
        self.query_one("#info", Static).update(info)
        return [alert_row(a, now) for a in d.alerts]

    def show_detail(self) -> None:
        row = self.cursor_row()
        t = Text(no_wrap=False)
        if row is not None and row.key in self.by_key:
            self.alert_detail(t, self.by_key[row.key], self.gw.header.now if self.gw.header else 0.0)
        self.query_one("#detail", Static).update(t)

    def action_open(self) -> None:
        row = self.cursor_row()
        if row is not None and row.key in self.by_key:
            self.gw.open_group(self.by_key[row.key].group)
