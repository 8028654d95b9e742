"""``:`` command mode (k9s): type a screen or a command and enter: ``:alerts``, ``:2``, ``:bl``,
``:q``. A prefix is enough when it names one thing; anything else says what it could be."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.widgets.screen_bar import SCREENS


@dataclass(slots=True, frozen=True)
class Target:
    name: str
    action: str   # an app action
    what: str


def targets() -> list[Target]:
    out = [Target(mode, f"switch_mode('{mode}')", f"go to {label}") for _, mode, label in SCREENS]
    out += [Target("quit", "quit", "quit the console"), Target("help", "help", "the keys of this screen"),
            Target("messages", "messages", "past messages and results"), Target("pause", "pause",
                                                                                  "pause/resume live updates")]
    return out


ALIASES = {"q": "quit", "q!": "quit", "wq": "quit", "exit": "quit", "bl": "blacklist", "sched": "schedules",
           "msg": "messages", "?": "help", **{key: mode for key, mode, _ in SCREENS}}


def resolve(text: str) -> Target | str:
    """The one target ``text`` names, or a one-line reason why none."""
    word = text.strip().lstrip(":").strip().lower()
    if not word:
        return "type a screen or a command: " + ", ".join(t.name for t in targets())
    word = ALIASES.get(word, word)
    found = [t for t in targets() if t.name == word] or [t for t in targets() if t.name.startswith(word)]
    if len(found) == 1:
        return found[0]
    if not found:
        return f"no screen or command {word!r}: try " + ", ".join(t.name for t in targets())
    return f"{word!r} could be " + " or ".join(t.name for t in found)


class CommandLine(ModalScreen[str | None]):
    """One line at the bottom; enter runs, esc cancels."""

    CSS_PATH = "modals.tcss"
    # priority: enter runs the command now, so keys typed after it reach the screen it opens
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "run", "Run", priority=True)]

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Static("", id="command-error")
            yield Input(id="command", placeholder="screen or command: alerts, blacklist, messages, q …")

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    def action_run(self) -> None:
        found = resolve(self.query_one("#command", Input).value)
        if isinstance(found, str):
            self.query_one("#command-error", Static).update(Text(found, style="bold red"))
            return
        self.dismiss(found.action)

    def action_cancel(self) -> None:
        self.dismiss(None)
