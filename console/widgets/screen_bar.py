"""The line above the footer naming every screen and its key, the current one lit."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

# (key, mode name, label): the one list of top-level screens; the app binds the keys from it.
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("1", "groups", "Groups"),
    ("2", "alerts", "Alerts"),
    ("3", "feed", "Feed"),
    ("4", "blacklist", "Blacklist"),
    ("5", "schedules", "Schedules"),
    ("6", "audit", "Audit"),
    ("7", "silences", "Silences"),
)


def bar_text(current: str) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    for key, mode, label in SCREENS:
        t.append(f" {key}", style="bold")
        t.append(f" {label}", style="reverse" if mode == current else "")
    t.append("  ?", style="bold")
    t.append(" help ")
    t.append("^p", style="bold")
    t.append(" palette")
    return t


class ScreenBar(Static):
    DEFAULT_CSS = "ScreenBar { height: 1; background: $boost; }"

    def __init__(self, current: str) -> None:
        super().__init__(bar_text(current))
