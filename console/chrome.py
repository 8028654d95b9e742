"""The console's chrome around the screens, as a mixin of the app: messages (the message bar and
the Messages screen instead of toasts), the bulk-action progress on the status line, ``:`` command
mode, and the palette's system entries."""
from __future__ import annotations

from rich.text import Text

from console.screens.command_line import CommandLine
from console.screens.messages import MessagesScreen
from console.widgets.message_bar import RESULT, MessageBar


class Chrome:
    """Needs ``self.messages`` (a MessageLog), ``self.progress`` and ``status_text()`` on the app."""

    def notify(self, message, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False, lane: str = RESULT) -> None:
        """Every message goes to the message bar (never a toast over the work) and the Messages screen,
        as literal text: notices quote names and messages written by strangers. ``lane``: RESULT for
        what this operator did, NEWS for what happened (alerts, others' actions)."""
        text = message.plain if isinstance(message, Text) else str(message)
        self.messages.add(text, severity if severity in ("information", "warning", "error") else "information",
                          lane, title, timeout if timeout is not None else 6.0)
        self.show_messages()

    def show_messages(self) -> None:
        for screen in self.screen_stack:
            for bar in screen.query(MessageBar):
                bar.show()

    def action_messages(self) -> None:
        if not isinstance(self.screen, MessagesScreen):
            self.push_screen(MessagesScreen(self.messages))

    def action_command_line(self) -> None:
        if isinstance(self.screen, CommandLine):
            return

        def chosen(action: str | None) -> None:
            if action:
                self.call_later(self.run_action, action)

        self.push_screen(CommandLine(), chosen)

    def get_system_commands(self, screen):
        """Textual's own palette entries, less those the console's own list already has (Quit,
        the keys): the palette listed Quit three times."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys"):
                yield command

    def show_progress(self, text: str) -> None:
        """A bulk action of this console: "blacklist 3/12…" on the status line until its result."""
        self.progress = text
        if not self.screen_stack:
            return
        status = self.screen.query("#status")
        if not status:
            under = [s for s in self.screen_stack if s.query("#status")]
            status = under[-1].query("#status") if under else status
        if status:
            status.first().update(self.status_text())

