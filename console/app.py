"""The Textual console. It talks to the engine only through the service API: the same screens work
with the engine in this process (a :class:`LocalClient`; the console then also serves the data
dir's socket so other consoles and subcommands attach to it) and attached to a service elsewhere.

Screens are Textual modes (one key each); the group screen is pushed on top of whichever screen
drilled into it. Every operator action is a :class:`Command` sent through ``act``: refused at once
when the service says this operator may not run it, confirmed when destructive, run in a worker so
the keyboard never waits on a platform, reported when done.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual import events
from textual.app import App
from textual.binding import Binding
from textual.worker import WorkerCancelled, WorkerFailed

from console import colours, hangup
from console.engine.text import visible
from console.keyorder import OrderedKeys
from console.screens.alerts import AlertsScreen
from console.screens.audit import AuditScreen
from console.screens.blacklist import BlacklistScreen
from console.screens.commands import ScreenCommands
from console.screens.feed import FeedScreen
from console.screens.group import GroupScreen
from console.screens.groups import GroupsScreen
from console.screens.schedules import SchedulesScreen
from console.chrome import Chrome
from console.screens.keymap import help_sections
from console.screens.silences import SilencesScreen
from console.screens.modals import ConfirmScreen, HelpScreen
from console.service.api import COMMANDS, Command, HeaderView, NoticeView, Report
from console.widgets.message_bar import NEWS, MessageLog
from console.widgets.screen_bar import SCREENS
from console.widgets.status import status_text
from console.service.host import Host

log = logging.getLogger("groupwatch.console")

REFRESH_STEPS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
TOAST_EVERY = 10.0  # seconds between high-alert toasts
# A timed refresh lands this long after the operator's last key at the earliest (but never later than
# KEY_QUIET_MAX): the key's frame is drawn first instead of waiting behind a table's repaint.
KEY_QUIET = 0.12
KEY_QUIET_MAX = 1.0
HIGH_ALERT = "high-alert"  # Service.HIGH_ALERT: notices announcing a new high alert
HIGH_ALERT_BELL = "high-alert-bell"  # Service.HIGH_ALERT_BELL: the same from an on-call route with bell = true
PROGRESS = "progress:"    # Service.PROGRESS + a session: how that console's bulk action goes


class GroupWatchApp(Chrome, OrderedKeys, App):
    TITLE = "groupwatch"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {ScreenCommands}
    MODES = {"groups": GroupsScreen, "alerts": AlertsScreen, "feed": FeedScreen, "blacklist": BlacklistScreen,
             "schedules": SchedulesScreen, "audit": AuditScreen, "silences": SilencesScreen}
    DEFAULT_MODE = "groups"
    BINDINGS = [
        *(Binding(key, f"switch_mode('{mode}')", label, show=False) for key, mode, label in SCREENS),
        Binding("question_mark", "help", "Help"),
        Binding("exclamation_mark", "messages", "Messages"),
        Binding("colon", "command_line", "Command (:alerts, :q)"),
        Binding("p", "pause", "Pause"),
        Binding("plus,equals_sign", "faster", "Refresh faster", show=False),
        Binding("minus", "slower", "Refresh slower", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", show=False, priority=True),
    ]

    def __init__(self, source, refresh_seconds: float = 1.0, bell: bool = False, serve_socket: bool = False,
                 where: str = "") -> None:
        """``source``: a Runtime (the engine runs in this process) or a Client attached to a service."""
        super().__init__()
        colours.apply(self)
        self._init_key_order()
        if hasattr(source, "engine"):
            self.host: Host | None = Host(source, serve_socket)
            self.client = self.host.client
            self.rt = source  # tests and benchmarks look at the engine they gave; screens never do
        else:
            self.host, self.client, self.rt = None, source, None
        self.where = where  # the service's socket when attached, for the header
        self.header: HeaderView | None = None
        self.paused = False
        self.refresh_seconds = refresh_seconds
        self.bell_on_high = bell
        self._new_high: list[NoticeView] = []
        self._last_toast = float("-inf")
        self._timer = None
        self._refreshing = False
        self.last_refresh_s = 0.0
        self.messages = MessageLog()
        self.progress = ""  # "blacklist 3/12…" while a bulk action of this console runs
        self._in_flight = 0  # commands sent and not answered yet
        self.last_key_at = float("-inf")  # monotonic time of the operator's last key
        self._tick_late = False  # a timed refresh put off by a key is on its way
        self.client.on_push(self._on_push)

    # --- lifecycle ---

    def on_mount(self) -> None:
        if not self.is_headless:  # a terminal that can hang up (tests run headless in pytest's process)
            hangup.install(self._hang_up_from_signal, HANG_UP_GRACE)
        if self.host is not None:
            self.run_engine()
            for warning in self.host.warnings:  # printed before the screen took over: say it here too
                self.notify(Text(visible(warning, 300)), severity="warning", timeout=30)
        self._timer = self.set_interval(self.refresh_seconds, self._timed_refresh)
        self.refresh_view()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.last_key_at = time.monotonic()
        await super().on_event(event)

    def _timed_refresh(self) -> None:
        """The once-a-second refresh: put off (once) while the operator is typing."""
        if self._tick_late:
            return
        quiet = time.monotonic() - self.last_key_at
        if quiet < KEY_QUIET:
            self._tick_late = True
            self.set_timer(KEY_QUIET - quiet, self._late_refresh)
            return
        self.refresh_view(timed=True)

    def _late_refresh(self) -> None:
        self._tick_late = False
        self.refresh_view(timed=True)

    async def _keys_quiet(self) -> None:
        """Wait until no key came for KEY_QUIET (at most KEY_QUIET_MAX): an answer to a timed refresh is
        applied between keys, not in front of one."""
        started = time.monotonic()
        while True:
            now = time.monotonic()
            wait = KEY_QUIET - (now - self.last_key_at)
            if wait <= 0 or now - started >= KEY_QUIET_MAX:
                return
            await asyncio.sleep(min(wait, KEY_QUIET_MAX - (now - started)))

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def run_engine(self) -> None:
        problem = await self.host.start()
        if problem:
            self.notify(problem, severity="warning", timeout=15)
        await self.host.run()

    async def _wind_down(self) -> None:
        if self.host is not None:
            await self.host.stop()
        try:
            await asyncio.wait_for(self.workers.wait_for_complete(), 5)
        except (asyncio.TimeoutError, TimeoutError, WorkerCancelled, WorkerFailed):
            pass  # a question a newer one replaced (cancelled) or one the service failed: nothing to wait for
        try:
            await asyncio.wait_for(self.client.close(), 3)
        except Exception:
            pass
        if self.host is not None:
            try:
                await asyncio.wait_for(self.host.close_connectors(), 5)  # in this loop: their sockets belong to it
            except (asyncio.TimeoutError, TimeoutError):
                pass

    def _hang_up_from_signal(self) -> None:
        """In the signal handler (the watchdog is armed already): ask the loop to save and leave."""
        loop = self._loop
        if loop is None or loop.is_closed():
            os._exit(0)
        loop.call_soon_threadsafe(self.call_later, self.hang_up)

    async def hang_up(self) -> None:
        """Save state and release the data dir first, then leave. The terminal may be gone, and Textual
        can hang writing to it on the way out: the watchdog armed by the signal ends the process then."""
        try:
            await self._wind_down()
        finally:
            if self.host is not None:
                self.host.close()
        hangup.arm(LEAVE_GRACE)  # saved: only leaving is left, and Textual may hang on a dead tty
        self.exit()

    async def action_quit(self) -> None:
        await self._wind_down()
        self.exit()

    # --- live view ---

    def _on_push(self, kind: str, payload: Any) -> None:
        if not self.is_running or not self.screen_stack:
            return  # the console is closing: nothing left to tell
        if kind == "notice" and isinstance(payload, NoticeView):
            if payload.actor.startswith(PROGRESS):
                if payload.actor == PROGRESS + (getattr(self.client.actor, "session", None) or ""):
                    if self._in_flight:  # one may come after the result: then nothing is running
                        self.show_progress(visible(payload.text, 60))
            elif payload.actor in (HIGH_ALERT, HIGH_ALERT_BELL):
                self._new_high.append(payload)
            elif payload.actor != getattr(self.client.actor, "session", None):  # our own results we report
                self.notify(Text(payload.text), severity=payload.severity if payload.severity in (
                    "information", "warning", "error") else "information", timeout=6, lane=NEWS)
        elif kind == "connection":
            self.notify("service lost, reconnecting" if payload == "lost" else "service back",
                        severity="error" if payload == "lost" else "information", timeout=4, lane=NEWS)
            self.refresh_view()
        elif kind == "resync":
            self.refresh_view()

    def status_text(self) -> Text:
        t = status_text(self.header, self.paused, lost=self.client.lost, where=self.where)
        if self.refresh_seconds != 1.0:
            t.append(f"  every {self.refresh_seconds:g}s", style="dim")
        if self.progress:
            t.append(f"  {self.progress}", style="bold reverse")
        return t

    def may(self, command: str) -> bool:
        """What the service said this operator may run (its own rule); unknown until the first header."""
        return self.header is None or command not in self.header.refused

    def views_fresh(self) -> None:
        """Refresh now from views built afresh (not the quarter-second copy other consoles share)."""
        if self.host is not None:
            self.host.service.views.invalidate()
        self.refresh_view()

    def _live_screen(self):
        if not self.screen_stack:
            return None  # closing: the screens are gone, a last timer tick may still come
        screen = self.screen
        if hasattr(screen, "refresh_live"):
            return screen
        under = [s for s in self.screen_stack if hasattr(s, "refresh_live")]  # a dialog is open
        return under[-1] if under else None

    def refresh_view(self, timed: bool = False) -> None:
        """Fetch the header and the visible screen's view, then show them. In this process the
        service answers at once; attached, the fetch runs in a worker and the screen updates when
        the answer arrives (``timed``: the once-a-second refresh, applied between the operator's keys)."""
        query_now = getattr(self.client, "query_now", None)
        screen = self._live_screen()
        if query_now is not None:
            started = time.perf_counter()
            self._announce_high()
            self.header = query_now("header")
            if screen is not None:
                screen.load_with(query_now)
                screen.refresh_live()
            self.last_refresh_s = time.perf_counter() - started
            return
        self._refresh_remote(timed)

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def _refresh_remote(self, timed: bool = False) -> None:
        started = time.perf_counter()
        self._announce_high()
        screen = self._live_screen()
        try:
            # both at once: one round trip's wait, not two
            header, _ = await asyncio.gather(self.client.query("header"),
                                             screen.load_async(self.client) if screen is not None else _nothing())
            self.header = header
        except Exception as e:  # lost meanwhile: the header says so, the screen keeps its rows
            log.debug("refresh failed: %s", e)
        if timed:
            await self._keys_quiet()
        if screen is not None:
            screen.refresh_live()
        elif self.screen_stack:
            status = self.screen.query("#status")
            if status:
                status.first().update(self.status_text())
        self.last_refresh_s = time.perf_counter() - started

    def _announce_high(self) -> None:
        """At most one toast every few seconds, however many high alerts arrive: a flood must not bury the screen."""
        now = time.monotonic()
        if not self._new_high or now - self._last_toast < TOAST_EVERY:
            return
        new, self._new_high = self._new_high, []
        self._last_toast = now
        text = new[0].text
        more = sum(n.count for n in new) - 1
        if more > 0:
            text += f" (+{more} more; 2 shows the queue)"
        self.notify(text, title="High alert", severity="error", timeout=6, lane=NEWS)
        if self.bell_on_high or any(n.actor == HIGH_ALERT_BELL for n in new):
            self.bell()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("live updates paused (p resumes)" if self.paused else "live updates resumed", timeout=2)
        status = self.screen.query("#status")
        if status:  # the rows catch up at the next tick; the key's answer is the status line, at once
            status.first().update(self.status_text())

    def _set_interval(self, seconds: float) -> None:
        self.refresh_seconds = seconds
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(seconds, self._timed_refresh)
        self.notify(f"refresh every {seconds:g} s", timeout=2)
        self.refresh_view()

    def action_faster(self) -> None:
        smaller = [s for s in REFRESH_STEPS if s < self.refresh_seconds]
        self._set_interval(smaller[-1] if smaller else REFRESH_STEPS[0])

    def action_slower(self) -> None:
        bigger = [s for s in REFRESH_STEPS if s > self.refresh_seconds]
        self._set_interval(bigger[0] if bigger else REFRESH_STEPS[-1])

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(help_for(self))

    def open_group(self, group_id: str | None) -> None:
        if not group_id:
            self.notify("this is about the whole fleet, not one group")
            return
        self.push_screen(GroupScreen(group_id))

    # --- acting ---

    def writable(self, command: str) -> bool:
        """Refused at once, without a dialog, when the service says this operator may not run it."""
        if not self.may(command):
            self.notify(self.header.refused[command], severity="error")  # the service's own words
            return False
        return True

    def act(self, command: Command, *, confirm: str | Text | None = None, detail: str | Text = "",
            done: Callable[[Report], None] | None = None) -> None:
        """Send a command: refused at once when not allowed, confirmed first when ``confirm`` is given."""
        if not self.writable(command.name):
            return

        def go(yes: bool | None = True) -> None:
            if yes:
                self._run_command(command, done)

        if confirm is not None:
            self.push_screen(ConfirmScreen(confirm, detail), go)
        else:
            go()

    def run_command(self, command: Command, done: Callable[[Report], None] | None = None) -> None:
        """Send an already confirmed command."""
        self._run_command(command, done)

    @work(group="actions", exit_on_error=False)
    async def _run_command(self, command: Command, done: Callable[[Report], None] | None) -> None:
        what = COMMANDS[command.name].what if command.name in COMMANDS else command.name
        self.show_progress(f"{what}…")
        self._in_flight += 1
        try:
            report = await self.client.run(command)
        except Exception as e:  # the service went away mid-command: say so, the ledger knows what was done
            self.notify(Text(f"{what}: {visible(str(e), 200) or type(e).__name__}"), severity="error", timeout=10)
            return
        finally:
            self._in_flight -= 1
            self.show_progress("")
        self.show_report(what, report)
        if done is not None and not report.refused:
            done(report)
        self.refresh_view()

    def show_report(self, what: str, report: Report) -> None:
        if report.refused:
            self.notify(Text(report.message), severity="error", timeout=8)
            return
        text = Text(f"{what}: {report.summary()}")
        for e in report.errors[:3]:
            text.append(f"\n{e}")
        self.notify(text, severity="error" if report.failed else "information", timeout=8)


async def _nothing() -> None:
    return None


def help_for(app: GroupWatchApp) -> HelpScreen:
    screen = app.screen
    title = getattr(screen, "HELP_TITLE", "") or type(screen).__name__.removesuffix("Screen")
    return HelpScreen(title, help_sections(type(screen), type(app)), list(getattr(screen, "HELP_NOTES", ())))


HANG_UP_GRACE = 20.0  # seconds to save state and leave after a hang-up before the process is ended
LEAVE_GRACE = 3.0     # seconds to leave once the state is saved


def run_console(source, bell: bool = False, serve_socket: bool = True, where: str = "") -> None:
    GroupWatchApp(source, bell=bell, serve_socket=serve_socket, where=where).run()
