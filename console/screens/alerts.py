"""Alerts: the queue as incidents (alerts that belong together, one row each), or as single alerts
(`v`); act on the rows from here. `enter` on an incident opens the alerts inside it.

Handled work is hidden by default (acknowledged, snoozed, acted on): `h` shows it again. `U` (or
ctrl+z) undoes this console's last acknowledge, snooze, resolve or "not an ad" through the service.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.engine.text import visible
from console.screens.alert_keys import TriageKeys, check_duration, visible_name
from console.screens.base import Row, TableScreen
from console.screens.cells import SEVERITY_STYLE, ago, untrusted
from console.screens.filtering import parse_filter
from console.service.api import AlertView, IncidentsPage, IncidentView
from console.service.table_specs import (ALERT_COLUMNS, INCIDENT_COLUMNS, STATE_SHORT, alert_cells, alert_row, handled,
                                         incident_row, incident_state)

__all__ = ["AlertsScreen", "ALERT_COLUMNS", "INCIDENT_COLUMNS", "STATE_SHORT", "alert_cells", "alert_row",
           "handled", "incident_row", "incident_state", "check_duration", "visible_name"]

class AlertsScreen(TriageKeys, TableScreen):
    CSS_PATH = "alerts.tcss"
    SCREEN_NAME = "alerts"
    QUERY = "incidents"
    TABLE_TITLE = "Incidents"
    HELP_TITLE = "Alerts"
    HELP_NOTES = ("One row per incident: alerts that belong together (one sender across groups, one ad text "
                  "from several senders, a churn spike after an ad burst, a silent group). enter opens it; "
                  "v shows single alerts instead.",
                  "Filter examples: kind:ad   sev:high   rule:wave   group:fans   !state:ack",
                  "Actions apply to the marked rows, or to the cursor row when none is marked; on an incident "
                  "they act on all its alerts (blacklist: the sender everywhere; delete: every copy).",
                  "h shows or hides handled work (acknowledged, snoozed, acted on); U or ctrl+z undoes this "
                  "console's last ack, snooze, resolve or not-an-ad.",
                  "States: sil silenced (pages nobody), inh inhibited (its group is silent), clm claimed.",
                  "A viewer or --read-only console sees everything and every change is refused.")
    INCIDENT_COLUMNS = INCIDENT_COLUMNS
    ALERT_COLUMNS = ALERT_COLUMNS
    COLUMNS = INCIDENT_COLUMNS
    BINDINGS = [
        Binding("enter", "open", "Open"),
        *TriageKeys.TRIAGE_BINDINGS,
        Binding("h", "toggle_handled", "Hide/show handled"),
        Binding("v", "toggle_view", "Incidents/alerts", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[str, tuple[object, str, Row]] = {}
        self.by_key: dict[str, AlertView] = {}
        self.incidents: dict[str, IncidentView] = {}
        self.hide_handled = True
        self.by_incident = True

    # --- the view ---

    def query_params(self) -> dict:
        return {"hide_handled": self.hide_handled}  # the service leaves handled work out of the window

    def take(self, data) -> None:
        if isinstance(data, IncidentsPage) != self.by_incident:
            return  # an answer to the other view, asked for before a toggle
        self.data = data
        if isinstance(data, IncidentsPage):
            self.incidents = {i.target: i for i in data.incidents}
            self.by_key = {}
        else:
            self.by_key = {str(a.id): a for a in data.alerts}
            self.incidents = {}

    def compose_below(self) -> ComposeResult:
        yield Static(id="detail")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def render_rows(self, keep: str | None = None) -> None:
        super().render_rows(keep)
        self.show_detail()

    def update_title(self) -> None:
        super().update_title()
        title = self.table.border_title
        extra = []
        extra.append("handled hidden (h shows)" if self.hide_handled else "handled shown (h hides)")
        self.table.border_title = Text.assemble(title if isinstance(title, Text) else str(title or ""),
                                                " · " + " · ".join(extra))

    def show_detail(self) -> None:
        """The cursor row in full: the table crops to fit 80 columns."""
        row = self.cursor_row()
        now = self.gw.header.now if self.gw.header else 0.0
        t = Text(no_wrap=False)
        if row is not None and row.key in self.incidents:
            i = self.incidents[row.key]
            t.append(f"incident #{i.id} {i.kind} {i.severity}", style=SEVERITY_STYLE[i.severity])
            t.append(f"  {i.state}  {i.count} alert(s), {i.open_count} waiting  rule {i.rule}")
            if i.acked_by:
                t.append(f"  acknowledged by {visible(i.acked_by, 30)} {ago(now, i.acked_at)} ago", style="cyan")
            if i.claimed_by:
                t.append(f"  claimed by {visible(i.claimed_by, 30)} {ago(now, i.claimed_at)} ago", style="cyan")
            if i.silenced_by is not None:
                t.append(f"  silenced by #{i.silenced_by}", style="dim")
            if i.inhibited:
                t.append("  inhibited: its group is silent", style="dim")
            t.append("\n")
            t.append(untrusted(i.title, 300))
            if i.timeline:
                t.append("\n")
                t.append(untrusted(" · ".join(str(s) for _at, s in i.timeline[-3:]), 300, "dim"))
        elif row is not None and row.key in self.by_key:
            self.alert_detail(t, self.by_key[row.key], now)
        self.query_one("#detail", Static).update(t, layout=False)  # four lines, whatever they say

    def collect(self) -> list[Row]:
        now = self.gw.header.now if self.gw.header else 0.0
        cache, fresh = self._cache, {}
        out = []
        items = self.data.incidents if isinstance(self.data, IncidentsPage) else self.data.alerts
        make = incident_row if isinstance(self.data, IncidentsPage) else alert_row
        for x in items:
            if self.hide_handled and handled(x.state, getattr(x, "handled_by", None),
                                                x.claimed_by if isinstance(x, IncidentView) else None):
                continue
            # an unchanged row of the same age keeps its Row: the table skips it without comparing cells
            age = ago(now, x.at)
            key = x.target if isinstance(x, IncidentView) else str(x.id)
            hit = cache.get(key)
            if hit is None or hit[1] != age or (hit[0] is not x and hit[0] != x):
                hit = (x, age, make(x, now))
            fresh[key] = hit
            out.append(hit[2])
        self._cache = fresh
        return out

    # --- keys of this screen ---

    def action_open(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        if row.key in self.incidents:
            from console.screens.incident import IncidentScreen

            self.app.push_screen(IncidentScreen(self.incidents[row.key].id))
        elif row.key in self.by_key:
            self.gw.open_group(self.by_key[row.key].group)

    def action_toggle_handled(self) -> None:
        self.hide_handled = not self.hide_handled
        self.gw.notify("handled alerts hidden" if self.hide_handled else "handled alerts shown")
        self.changed_question()

    def action_toggle_view(self) -> None:
        self.by_incident = not self.by_incident
        self.QUERY = "incidents" if self.by_incident else "alerts"
        self.TABLE_TITLE = "Incidents" if self.by_incident else "Alerts"
        self.COLUMNS = self.INCIDENT_COLUMNS if self.by_incident else self.ALERT_COLUMNS
        self.data, self.rows, self.marks, self._cache = None, [], set(), {}
        self.window, self.marked_rows, self._order = None, [], {}
        self._gen += 1  # an answer to the other view, asked for before the toggle, is dropped
        self.sort_col = None
        t = self.table
        t.clear(columns=True)
        t._cells.clear()  # the keyed table's memory of the rows it set: the other view's keys differ
        self._col_index = []  # fit_columns adds the other view's columns
        fields, aliases = self.filter_names()
        self.row_filter = parse_filter(self.row_filter.text, fields, aliases)
        self.fit_columns()
        self.gw.refresh_view()
