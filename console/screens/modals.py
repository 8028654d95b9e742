"""Dialogs: confirm a destructive action, fill a short form, read the help."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no before anything destructive. `y` confirms; `n`, `esc` or anything else cancels."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, question: str | Text, detail: str | Text = "") -> None:
        super().__init__()
        self.question = question if isinstance(question, Text) else Text(question)
        self.detail = detail if isinstance(detail, Text) else Text(detail)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="confirm"):
            yield Static(self.question, id="question")
            if self.detail.plain:
                yield Static(self.detail, id="detail")
            yield Static(Text.assemble(("y", "bold"), " confirm   ", ("n", "bold"), "/", ("esc", "bold"), " cancel"),
                         id="keys")
            yield Button("Yes (y)", id="yes", variant="error")
            yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # enter on the default answer must not act

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass(slots=True, frozen=True)
class Field:
    name: str
    label: str
    value: str = ""
    placeholder: str = ""


Validator = Callable[[dict[str, str]], str | None]


class FormScreen(ModalScreen[dict[str, str] | None]):
    """A few text fields; enter moves on and submits from the last one; esc cancels.

    ``validate`` returns a one-line error (shown, the form stays open) or None.
    """

    CSS_PATH = "modals.tcss"
    # priority: enter moves on (or submits) when the key is read, so keys typed right after it land in
    # the next field or on the screen below, not in this one
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "next_field", "Next/submit", priority=True)]

    def __init__(self, title: str, fields: Sequence[Field], validate: Validator | None = None,
                 note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.validate = validate
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="form"):
            yield Static(Text(self.title_text, style="bold"), id="title")
            if self.note:
                yield Static(Text(self.note), id="note")
            for f in self.fields:
                yield Label(Text(f.label))
                yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.name}")
            yield Static("", id="error")
            yield Static(Text.assemble(("enter", "bold"), " next/submit   ", ("esc", "bold"), " cancel"), id="keys")

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value for f in self.fields}

    def action_next_field(self) -> None:
        ids = [f"field-{f.name}" for f in self.fields]
        focused = self.focused
        i = ids.index(focused.id) if isinstance(focused, Input) and focused.id in ids else len(ids) - 1
        if i + 1 < len(ids):
            self.set_focus(self.query_one(f"#{ids[i + 1]}", Input))
            return
        self.submit()

    def submit(self) -> None:
        values = self.values()
        error = self.validate(values) if self.validate else None
        if error:
            self.query_one("#error", Static).update(Text(error, style="bold red"))
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key of the screen it was opened from, generated from the bindings so it cannot go stale."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, title: str, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]],
                 notes: Sequence[str] = ()) -> None:
        super().__init__()
        self.title_text = title
        self.sections = sections
        self.notes = notes

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="help"):
            yield Static(Text(f"Keys: {self.title_text}", style="bold"))
            for heading, keys in self.sections:
                table = Table(show_header=False, box=None, padding=(0, 1), title=heading, title_justify="left",
                              title_style="bold")
                table.add_column(style="bold", no_wrap=True)
                table.add_column()
                for key, description in keys:
                    table.add_row(Text(key), Text(description))
                yield Static(table)
            for note in self.notes:
                yield Static(Text(note, style="dim"))
            yield Static(Text("esc / q / ? to close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
