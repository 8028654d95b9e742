"""Keys land where they were typed, however fast they come (a paste, a burst over a laggy SSH link).

Textual hands a key to the focused widget's own queue and reads the next key at once, so a key that
switches screens or opens a dialog ("3", "z", "enter") can be overtaken by the keys typed after it:
``3/`` opened the filter on the screen being left. Here the app takes one key at a time: the next is
held until the previous one has been handled (stopped by the widget that used it, or bubbled up to the
app's bindings) and until the screen it left in front (a new screen, a dialog) has been mounted and
focused. An idle key costs nothing extra: it is dispatched at once.

Also here: ``esc`` followed at once by a key arrives as one sequence (ESC 3). Textual reads ESC and a
digit as the character a Mac's Option key makes (ESC 2 is "™"), ESC b and ESC f as ctrl+left/right,
and any other as ``alt+key``. Nothing in the console is bound to alt or to those, so each is taken as
what was typed: ``esc``, then the key.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

from textual import events
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS  # no public way to change how sequences read
from textual._dispatch_key import dispatch_key
from textual.keys import _character_to_key

KEY_TIMEOUT = 1.0  # seconds: a key whose handling never reports back (its widget went away) stops holding the rest


class TrackedKey(events.Key):
    """A key that says when a widget stops it (the widget used it: it goes no further)."""

    def __init__(self, key: str, character: str | None, done: Callable[["TrackedKey"], None]) -> None:
        super().__init__(key, character)
        self._done = done
        # Made by the app, so Textual would take the app as its sender and call stop() when it bubbles
        # from the screen to the app (its "parent is sender" rule): that is not a widget using it.
        self._sender = None

    def stop(self, stop: bool = True) -> None:
        super().stop(stop)
        if stop:
            self._done(self)


TrackedKey.handler_name = events.Key.handler_name  # handled as the key it is (on_key), not as a new message


def split_alt(event: events.Key) -> list[events.Key]:
    """``alt+3`` (ESC and 3 read as one sequence) -> ``escape``, ``3``; other keys unchanged."""
    ch = event.character
    if event.key.startswith("alt+") and ch and len(ch) == 1 and ch.isprintable():
        name = ch if ch.isalnum() else _character_to_key(ch)
        return [events.Key("escape", "\x1b"), events.Key(name, ch)]
    return [event]


class _KeyName(str):
    """A key name where Textual's sequence table expects a ``Keys`` member (it reads ``.value``)."""

    @property
    def value(self) -> str:
        return str(self)


def read_esc_then_key() -> None:
    """ESC + a printable key in Textual's sequence table ("™" for ESC 2, ctrl+left for ESC b) reads as
    the two keys typed. Only ESC with a printable key: ESC DEL, ESC tab and longer sequences stay."""
    for seq, meaning in list(ANSI_SEQUENCES_KEYS.items()):
        if len(seq) != 2 or seq[0] != "\x1b" or not seq[1].isprintable() or seq[1] == "\x1b":
            continue
        ch = seq[1]
        ANSI_SEQUENCES_KEYS[seq] = (_KeyName("escape"), _KeyName(ch if ch.isalnum() else _character_to_key(ch)))


read_esc_then_key()


class OrderedKeys:
    """Mixin for the App: keys from the terminal are handled one after another, in order."""

    def _init_key_order(self) -> None:
        self._key_queue: deque[events.Key] = deque()
        self._key_busy: TrackedKey | None = None
        self._key_timer = None
        self._key_waiting_screen = False
        self._key_wait_token: object | None = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and not isinstance(event, TrackedKey):
            self._key_queue.extend(split_alt(event))
            await self._next_keys()
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _on_key(self, event: events.Key) -> None:
        """A held key that bubbled up to the app: the app's own bindings, then the next key. (Textual
        calls every class's ``_on_key``: prevent_default keeps App's from running it twice.)"""
        if event is self._key_busy:
            event.prevent_default()
            try:
                if not await self._check_bindings(event.key):  # type: ignore[attr-defined]
                    await dispatch_key(self, event)  # type: ignore[arg-type]
            finally:
                self._key_done(event)

    async def _next_keys(self) -> None:
        app = self  # type: ignore[assignment]
        while self._key_queue and self._key_busy is None and not self._key_waiting_screen:
            key = self._key_queue.popleft()
            screen = app.screen
            if app.focused:
                try:
                    screen._clear_tooltip()
                except Exception:
                    pass
            if await app._check_bindings(key.key, priority=True):
                if app.screen is not screen or app.focused is None:
                    self._wait_for_screen()
                continue
            tracked = TrackedKey(key.key, key.character, self._key_done)
            self._key_busy = tracked
            self._key_timer = app.set_timer(KEY_TIMEOUT, lambda k=tracked: self._key_done(k))
            (app.focused or screen)._forward_event(tracked)

    def _key_done(self, key: TrackedKey) -> None:
        if key is not self._key_busy:
            return
        self._key_busy = None
        if self._key_timer is not None:
            self._key_timer.stop()
            self._key_timer = None
        self._wait_for_screen()

    def _wait_for_screen(self) -> None:
        """Go on once the screen in front has handled what it was sent so far (its mount, its resume,
        the focus it sets): a dialog just opened gets the keys typed after the key that opened it. If
        that screen goes away first (its queue with it), the timeout goes on instead."""
        app = self  # type: ignore[assignment]
        self._key_waiting_screen = True
        self._key_wait_token = token = object()

        def resume() -> None:
            if self._key_wait_token is not token:
                return  # already gone on (the screen answered, or the timeout came first)
            self._key_wait_token = None
            self._key_waiting_screen = False
            app.call_later(self._next_keys)

        timer = app.set_timer(KEY_TIMEOUT, resume)
        if not app.screen.call_later(lambda: app.call_later(lambda: (timer.stop(), resume()))):
            timer.stop()
            resume()
