"""The Textual console. It reads engine state and sends it commands; the
engine runs in this event loop as an async worker and never waits on the UI.

Screens are Textual modes (one key each); the group screen is pushed on top
of whichever screen drilled into it. Every operator action goes through
``act``: refused at once in read-only mode, confirmed when destructive, run
in a worker so the keyboard never waits on a platform, reported when done.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from typing import Any, Awaitable, Callable

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding

from connectors.contract import ConnectorError
from console.engine.actions.model import ActionError, BulkReport, ReadOnlyError
from console.engine.alerts import Alert, Change
from console.engine.detectors.base import Severity
from console.engine.feed import Feed
from console.engine.store import StoreError
from console.engine.text import visible
from console.engine.triage import Triage
from console.runtime import Runtime, start
from console.screens.alerts import AlertsScreen
from console.screens.audit import AuditScreen
from console.screens.blacklist import BlacklistScreen
from console.screens.commands import ScreenCommands
from console.screens.feed import FeedScreen
from console.screens.group import GroupScreen
from console.screens.groups import GroupsScreen
from console.screens.schedules import SchedulesScreen
from console.screens.modals import ConfirmScreen, HelpScreen
from console.widgets.screen_bar import SCREENS
from console.widgets.status import status_text

log = logging.getLogger("groupwatch.console")

REFRESH_STEPS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
TOAST_EVERY = 10.0  # seconds between high-alert toasts


class GroupWatchApp(App):
    TITLE = "groupwatch"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {ScreenCommands}
    MODES = {"groups": GroupsScreen, "alerts": AlertsScreen, "feed": FeedScreen, "blacklist": BlacklistScreen,
             "schedules": SchedulesScreen, "audit": AuditScreen}
    DEFAULT_MODE = "groups"
    BINDINGS = [
        *(Binding(key, f"switch_mode('{mode}')", label, show=False) for key, mode, label in SCREENS),
        Binding("question_mark", "help", "Help"),
        Binding("p", "pause", "Pause"),
        Binding("plus,equals_sign", "faster", "Refresh faster", show=False),
        Binding("minus", "slower", "Refresh slower", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, rt: Runtime, refresh_seconds: float = 1.0, bell: bool = False) -> None:
        super().__init__()
        self.rt = rt
        self.paused = False
        self.refresh_seconds = refresh_seconds
        self.bell_on_high = bell
        self.feed = Feed()
        rt.engine.observers.append(self.feed)
        rt.engine.alerts.subscribe(self.feed.on_alert)
        rt.engine.alerts.subscribe(self._on_alert)
        rt.moderation.listeners.append(lambda n: self.call_later(self.notify, Text(n.text), timeout=6))
        self.triage = Triage(rt.engine, rt.moderation.ledger, rt.moderation.actor)
        self._new_high: list[Alert] = []
        self._last_toast = float("-inf")
        self._timer = None
        self.last_refresh_s = 0.0

    # --- lifecycle ---

    def on_mount(self) -> None:
        if self.rt.is_demo:
            self.sub_title = "DEMO: simulated groups"
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, lambda: self.call_later(self.hang_up))
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        self.run_engine()
        self._timer = self.set_interval(self.refresh_seconds, self.refresh_view)
        for warning in self.rt.store.warnings:  # printed before the screen took over: say it here too
            self.notify(Text(visible(warning, 300)), severity="warning", timeout=30)

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def run_engine(self) -> None:
        await start(self.rt)
        await self.rt.engine.run()

    async def hang_up(self) -> None:
        """SIGHUP (a dropped SSH session) or SIGTERM: save state and release the data dir first, then
        leave. The terminal may be gone, and Textual can hang writing to it on the way out (its SIGCONT
        handler restarts output on a dead tty), so a watchdog ends the process if leaving stalls."""
        self.rt.engine.stop()
        try:
            await asyncio.wait_for(self.workers.wait_for_complete(), 5)
            await asyncio.wait_for(self.rt.close_connectors(), 5)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        finally:
            self.rt.close()
        watchdog = threading.Timer(3.0, os._exit, args=(0,))
        watchdog.daemon = True
        watchdog.start()
        self.exit()

    async def action_quit(self) -> None:
        self.rt.engine.stop()
        await self.workers.wait_for_complete()
        await self.rt.close_connectors()  # in this loop: their sockets belong to it
        self.exit()

    def notify(self, message, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every toast is literal text: notices quote names and messages written by strangers."""
        text = message.plain if isinstance(message, Text) else str(message)
        text = "\n".join(visible(line, 300) for line in text.splitlines()[:12])
        super().notify(text, title=title, severity=severity, timeout=timeout, markup=False)

    # --- live view ---

    def status_text(self) -> Text:
        t = status_text(self.rt.engine, self.rt.is_demo, self.paused)
        if self.rt.moderation.read_only:
            t.append("  READ-ONLY", style="bold reverse")
        if self.refresh_seconds != 1.0:
            t.append(f"  every {self.refresh_seconds:g}s", style="dim")
        return t

    def refresh_view(self) -> None:
        started = time.perf_counter()
        self._announce_high()
        screen = self.screen
        refresh = getattr(screen, "refresh_live", None)
        if refresh is None:  # a dialog is open: refresh the screen under it
            under = [s for s in self.screen_stack if hasattr(s, "refresh_live")]
            refresh = under[-1].refresh_live if under else None
        if refresh is not None:
            refresh()
        self.last_refresh_s = time.perf_counter() - started

    def _on_alert(self, alert: Alert, change: Change) -> None:
        if change is Change.NEW and alert.severity >= Severity.HIGH:
            self._new_high.append(alert)

    def _announce_high(self) -> None:
        """At most one toast every few seconds, however many high alerts arrive: a flood must not bury the screen."""
        now = time.monotonic()
        if not self._new_high or now - self._last_toast < TOAST_EVERY:
            return
        new, self._new_high = self._new_high, []
        self._last_toast = now
        first = new[0]
        where = self.rt.engine.group_name(first.group) or "fleet"
        text = f"{first.kind} in {visible(where, 30)}: {visible(first.reason, 70)}"
        if len(new) > 1:
            text += f" (+{len(new) - 1} more; 2 shows the queue)"
        self.notify(text, title="High alert", severity="error", timeout=6)
        if self.bell_on_high:
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
        self._timer = self.set_interval(seconds, self.refresh_view)
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

    def open_group(self, group_id: str) -> None:
        if group_id not in self.rt.engine.stats.groups:
            self.notify(f"unknown group {group_id}", severity="error")
            return
        self.push_screen(GroupScreen(group_id))

    # --- acting ---

    def writable(self, what: str) -> bool:
        if self.rt.moderation.read_only:
            self.notify(f"read-only mode: {what} refused", severity="error")
            return False
        return True

    def act(self, what: str, run: Callable[[], Awaitable[Any]], *, confirm: str | Text | None = None,
            detail: str | Text = "", done: Callable[[Any], None] | None = None) -> None:
        """Run an operator action: refused in read-only, confirmed first when ``confirm`` is given."""
        if not self.writable(what):
            return

        def go(yes: bool | None = True) -> None:
            if yes:
                self._run_action(what, run, done)

        if confirm is not None:
            self.push_screen(ConfirmScreen(confirm, detail), go)
        else:
            go()

    @work(group="actions", exit_on_error=False)
    async def _run_action(self, what: str, run: Callable[[], Awaitable[Any]],
                          done: Callable[[Any], None] | None) -> None:
        try:
            result = await run()
        except (ActionError, ReadOnlyError, ConnectorError, ValueError) as e:
            self.notify(Text(f"{what}: {e}"), severity="error", timeout=8)
            return
        except StoreError as e:
            # Recorded before sent: an action that cannot be written is not sent at all.
            self.notify(Text(f"{what}: could not save the action record: {e}"), severity="error", timeout=12)
            return
        except Exception as e:  # a bug must cost one action, not the console
            log.exception("%s failed", what)
            self.notify(Text(f"{what}: failed: {type(e).__name__}: {e}"), severity="error", timeout=12)
            return
        report = result[1] if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], BulkReport) \
            else result
        if isinstance(report, BulkReport):
            severity = "error" if report.failed else "information"
            text = Text(f"{what}: {report.summary()}")
            for e in report.errors[:3]:
                text.append(f"\n{e}")
            self.notify(text, severity=severity, timeout=8)
        elif isinstance(result, str):
            self.notify(Text(result))
        if done is not None:
            done(result)
        self.refresh_view()


def help_for(app: GroupWatchApp) -> HelpScreen:
    screen = app.screen
    own = [(b.key_display or key_name(b.key), b.description) for b in _bindings(type(screen))
           if b.description]
    global_keys = [(key_name(k), label) for k, _, label in SCREENS]
    global_keys += [(b.key_display or key_name(b.key), b.description) for b in _bindings(type(app))
                    if b.description and not b.action.startswith("switch_mode")]
    global_keys += [("ctrl+p", "command palette: every action by name")]
    title = getattr(screen, "HELP_TITLE", "") or type(screen).__name__.removesuffix("Screen")
    notes = list(getattr(screen, "HELP_NOTES", ()))
    return HelpScreen(title, [(title, own), ("Everywhere", global_keys)], notes)


def _bindings(cls) -> list[Binding]:
    """A screen's bindings, its own first, then inherited ones it did not override."""
    seen: set[str] = set()
    out: list[Binding] = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("console."):
            continue  # Textual's own (tab focus, ctrl+c copy) are not ours to offer: ctrl+c quits here
        for b in klass.__dict__.get("BINDINGS", ()):
            if isinstance(b, tuple):
                b = Binding(*b)
            if b.key not in seen:
                seen.add(b.key)
                out.append(b)
    return out


# Spelled out rather than Textual's key display, which shows enter as "⏎": not every SSH terminal font has it.
KEY_NAMES = {"slash": "/", "space": "space", "asterisk": "*", "question_mark": "?", "plus": "+",
             "equals_sign": "=", "minus": "-", "escape": "esc", "enter": "enter", "less_than_sign": "<",
             "greater_than_sign": ">", "exclamation_mark": "!"}


def key_name(key: str) -> str:
    """How a binding's keys read in the help and the palette ("slash" -> "/")."""
    return ",".join(KEY_NAMES.get(k, k) for k in key.split(","))


def run_console(rt: Runtime, bell: bool = False) -> None:
    GroupWatchApp(rt, bell=bell).run()
