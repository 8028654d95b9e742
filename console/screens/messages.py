"""Messages (``!``): every notice and result this console showed, newest first, with its time, so
nothing that flashed by on the message bar is lost."""
from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from console.widgets.message_bar import RESULT, SEVERITY_MARK, MessageLog

LANE_LABEL = {RESULT: "you", "news": "news"}


class MessagesScreen(ModalScreen[None]):
    CSS_PATH = "modals.tcss"
    BINDINGS = [
        Binding("escape,q,exclamation_mark", "close", "Close"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
    ]

    def __init__(self, log: MessageLog) -> None:
        super().__init__()
        self.notes_log = log

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="messages"):
            yield Static(Text(f"Messages: {len(self.notes_log.notes)} (newest first; 'you' = your actions' results)",
                              style="bold"))
            yield DataTable(id="log", cursor_type="row", zebra_stripes=False)
            yield Static(Text("esc / q / ! to close", style="dim"))

    def on_mount(self) -> None:
        table = self.query_one("#log", DataTable)
        table.add_column("time", width=8)
        table.add_column("lane", width=4)
        table.add_column("message")
        for note in reversed(self.notes_log.notes):
            mark, style = SEVERITY_MARK.get(note.severity, ("", ""))
            table.add_row(dt.datetime.fromtimestamp(note.at).strftime("%H:%M:%S"), LANE_LABEL.get(note.lane, ""),
                          Text(mark + note.line(), style=style))
        table.focus()

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#log", DataTable)
        (table.action_cursor_down if step > 0 else table.action_cursor_up)()

    def action_close(self) -> None:
        self.dismiss(None)
