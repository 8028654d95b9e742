"""The Textual console. It reads engine state and sends it commands; the
engine runs in this event loop as an async worker and never waits on the UI."""
from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding

from console.runtime import Runtime, start
from console.screens.fleet import FleetScreen


class GroupWatchApp(App):
    TITLE = "groupwatch"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(self, rt: Runtime, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.rt = rt
        self.paused = False
        self.refresh_seconds = refresh_seconds

    def on_mount(self) -> None:
        self.push_screen(FleetScreen())
        self.run_engine()
        self.set_interval(self.refresh_seconds, self.refresh_view)

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def run_engine(self) -> None:
        await start(self.rt)
        await self.rt.engine.run()

    def refresh_view(self) -> None:
        screen = self.screen
        if isinstance(screen, FleetScreen):
            screen.refresh_from(self.rt.engine, self.rt.is_demo, self.paused)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.refresh_view()

    async def action_quit(self) -> None:
        self.rt.engine.stop()
        await self.workers.wait_for_complete()
        self.exit()


def run_console(rt: Runtime) -> None:
    GroupWatchApp(rt).run()
