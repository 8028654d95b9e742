"""Where the console's messages go instead of toasts: one line above the screen bar, in two lanes.

Toasts covered the footer, the detail pane, help and confirm dialogs, and the next "High alert"
buried the result of the action just taken. Here a message never covers anything: the left lane
holds what this operator did (results, refusals, answers to keys), the right lane what happened
(high alerts, other operators' actions, the service coming and going), so an alert never replaces
a result. Every message is also kept in :class:`MessageLog` for the Messages screen (``!``).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from console.engine.text import visible

RESULT, NEWS = "result", "news"  # the two lanes
KEEP = 500  # messages kept for the Messages screen
SHORTEST = 4.0  # seconds a message stays on the bar at least, whatever timeout it asked for
SEVERITY_MARK = {"information": ("", ""), "warning": ("! ", "bold yellow"), "error": ("!! ", "bold red")}


@dataclass(slots=True, frozen=True)
class Note:
    at: float         # wall clock, for the Messages screen
    shown_at: float   # monotonic, for how long it stays on the bar
    text: str         # one line, already made visible
    severity: str     # information, warning, error
    lane: str         # RESULT or NEWS
    title: str = ""
    timeout: float = 6.0

    def live(self, now: float) -> bool:
        return now - self.shown_at < max(self.timeout, SHORTEST)

    def line(self) -> str:
        return f"{self.title}: {self.text}" if self.title else self.text


class MessageLog:
    """Every message of this console, newest last."""

    def __init__(self) -> None:
        self.notes: deque[Note] = deque(maxlen=KEEP)
        self.version = 0

    def add(self, text: str, severity: str, lane: str, title: str = "", timeout: float = 6.0) -> Note:
        lines = [visible(line, 300) for line in text.splitlines()[:12]] or [""]
        note = Note(time.time(), time.monotonic(), " / ".join(lines), severity, lane, visible(title, 40), timeout)
        self.notes.append(note)
        self.version += 1
        return note

    def current(self, lane: str, now: float | None = None) -> Note | None:
        now = time.monotonic() if now is None else now
        for note in reversed(self.notes):
            if note.lane == lane:
                return note if note.live(now) else None
        return None


def note_text(note: Note, width: int) -> Text:
    mark, style = SEVERITY_MARK.get(note.severity, ("", ""))
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(mark, style=style)
    t.append(note.line(), style=style if note.severity == "error" else "")
    t.truncate(max(width, 1), overflow="ellipsis")
    return t


def bar_text(log: MessageLog, width: int, progress: str = "", now: float | None = None) -> Text:
    """Progress first (a bulk action running), then this operator's last result, then the news."""
    result, news = log.current(RESULT, now), log.current(NEWS, now)
    t = Text(no_wrap=True, overflow="ellipsis")
    left = [Text(progress, style="bold")] if progress else []
    if result is not None:
        left.append(note_text(result, width))
    left_text = Text("  ").join(left)
    if news is None:
        left_text.truncate(width, overflow="ellipsis")
        return left_text
    news_width = max(width - left_text.cell_len - 3, width * 2 // 5) if left else width
    if left:
        left_text.truncate(max(width - news_width - 3, 1), overflow="ellipsis")
        t.append_text(left_text)
        t.append(" │ ", style="dim")
    t.append_text(note_text(news, news_width))
    return t


class MessageBar(Static):
    """Re-drawn when a message arrives and every second (messages expire)."""

    DEFAULT_CSS = "MessageBar { height: 1; }"
    _shown: object = None

    def on_mount(self) -> None:
        self.show()
        self.set_interval(1.0, self.show)

    def show(self) -> None:
        app = self.app
        log = getattr(app, "messages", None)
        if log is None:
            return
        text = bar_text(log, self.size.width or app.size.width, getattr(app, "progress", ""))
        if text != self._shown:  # every second: the same text again costs nothing, a new one no layout
            self._shown = text
            self.update(text, layout=False)

    def on_resize(self) -> None:
        self.show()
