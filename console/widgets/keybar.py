"""The footer: the screen's important keys, as many as fit in two lines, whole words only, most
important first, and always ``? help`` for the rest. (Textual's Footer showed the keys flagged
``show`` in one line and cut the last one mid-word at 80 columns: ``b Blackli▏``.)"""
from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import Static

LINES = 2
MORE = ("?", "help")


def layout(keys: Sequence[tuple[str, str]], width: int, lines: int = LINES) -> list[list[tuple[str, str]]]:
    """Keys laid out in at most ``lines`` lines of ``width`` cells, in order; the last line always
    ends with ``? help`` (which lists everything). A key that does not fit is left out whole."""
    width = max(width, 12)

    def size(item: tuple[str, str]) -> int:
        return len(item[0]) + 1 + len(item[1]) + 2  # "k label" and two spaces after

    rows: list[list[tuple[str, str]]] = [[]]
    used = [0]
    for item in keys:
        last = len(rows) == lines
        room = width - used[-1] - (size(MORE) if last else 0)
        if size(item) <= room:
            rows[-1].append(item)
            used[-1] += size(item)
        elif not last:
            rows.append([item])
            used.append(size(item))
        # else: left out; `?` lists it
    if used[-1] + size(MORE) > width:
        if len(rows) < lines:
            rows.append([])
        else:
            while rows[-1] and used[-1] + size(MORE) > width:
                used[-1] -= size(rows[-1].pop())
    rows[-1].append(MORE)
    return rows


def render(rows: list[list[tuple[str, str]]]) -> Text:
    t = Text(no_wrap=True, overflow="crop")
    for i, row in enumerate(rows):
        if i:
            t.append("\n")
        for key, label in row:
            t.append(f" {key}", style="bold reverse")
            t.append(f" {label} ")
    return t


class KeyBar(Static):
    DEFAULT_CSS = "KeyBar { height: auto; max-height: 2; background: $panel; }"

    def __init__(self, keys: Sequence[tuple[str, str]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.keys = list(keys)
        self._width = 0

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            self.update(render(layout(self.keys, self._width)))

    def on_mount(self) -> None:
        self._width = self.size.width or self.app.size.width
        self.update(render(layout(self.keys, self._width)))
