"""Moving the cursor as k9s, htop and less users expect, on every table screen: ``j``/``k``, ``gg``
and ``G``, and ``Home``/``End`` jumping to the first/last row (the table's own Home/End scroll
sideways), while an input box keeps Home/End for its own cursor."""
from __future__ import annotations

import time

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input


class CursorKeys(Screen):
    """The base of a screen with a ``table`` (a KeyedTable: it counts places in every row, not its window). A Screen itself: Textual gathers bindings
    only from the DOM classes of the MRO."""

    BINDINGS = [
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("g", "top_g", "Top (gg)", show=False),
        Binding("G", "bottom", "Bottom", show=False),
        # priority: the table's own home/end would take them first (and scroll sideways)
        Binding("home", "home", "First row", show=False, priority=True),
        Binding("end", "end", "Last row", show=False, priority=True),
    ]
    GG_SECONDS = 1.0  # the second g of gg within this
    _g_at = float("-inf")

    def action_cursor(self, step: int) -> None:
        (self.table.action_cursor_down if step > 0 else self.table.action_cursor_up)()

    def action_top_g(self) -> None:
        now = time.monotonic()
        if now - self._g_at <= self.GG_SECONDS:
            self._g_at = float("-inf")
            self.table.move_to(0)
        else:
            self._g_at = now

    def action_bottom(self) -> None:
        self.table.move_to(self.table.total - 1)

    def action_home(self) -> None:
        focused = self.focused
        if isinstance(focused, Input):
            focused.action_home()
        else:
            self.table.move_to(0)

    def action_end(self) -> None:
        focused = self.focused
        if isinstance(focused, Input):
            focused.action_end()
        else:
            self.action_bottom()
