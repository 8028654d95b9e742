"""How a big table screen talks to the service's windows (``console.service.windows``): what it asks
with each refresh (filter, sort, frozen order, cursor, marks, the version it holds), how it takes an
answer (an older question's answer is dropped), and the questions asked on a key: a jump beyond the
window, the cursor nearing its edge, every matching key (mark all) or row (export).

A mixin of :class:`~console.screens.base.TableScreen`, which holds the rows, marks, filter and sort
these read; a table whose view has no spec in ``console.service.table_specs`` asks for its whole view."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from console.engine.text import visible
from console.service.api import TableWindow
from console.service.table_rows import Row
from console.service.table_specs import SPECS
from console.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from console.app import GroupWatchApp
    from console.screens.filtering import RowFilter

log = logging.getLogger("groupwatch.console")


class WindowedTable:
    QUERY: str
    WINDOW: int
    data: Any
    marks: set[str]
    row_filter: "RowFilter"
    sort_col: int | None
    sort_reverse: bool
    order_frozen: bool
    _order: dict[str, int]
    _ready: bool
    gw: "GroupWatchApp"

    def init_window(self) -> None:
        # A table whose view has a spec is windowed: the service filters, sorts and sends the rows
        # around the cursor. These say what the last answer was.
        self.window: TableWindow | None = None
        self.marked_rows: list[Row] = []  # marked rows outside the window (the service sends them)
        self._gen = 0  # bumped by what changes the answer (filter, sort, order, jump): older answers are dropped
        self._jump: int | None = None  # a place asked for (gg, G) until the answer comes
        self._jump_answered = False
        self._edge_asked = False
        self._marks_asked: set[str] = set()

    @property
    def windowed(self) -> bool:
        return self.QUERY in SPECS

    def window_params(self, **more: Any) -> dict:
        """The ``table`` query for the window around the cursor, as the table stands now."""
        tables = self.query("#table") if self._ready else None  # none while the screen is taken down
        t = tables.first(KeyedTable) if tables else None
        p: dict[str, Any] = {
            "view": self.QUERY, "params": self.query_params(), "filter": self.row_filter.text,
            "sort": self.COLUMNS[self.sort_col].key if self.sort_col is not None else None,
            "reverse": self.sort_reverse, "size": self.WINDOW, "marks": sorted(self.marks) or None,
            "cursor": t.cursor_key() if t is not None else None, "place": t.place if t is not None else 0,
            "offset": t.base if t is not None and self.window is not None else None,
            "since": self.window.version if self.window is not None and self.data is not None else None}
        if self.order_frozen:
            p["order"], p["keys"] = list(self._order), True
        if self._jump is not None:
            p["at"] = self._jump
        p.update(more)
        return p

    def load_with(self, query_now) -> None:
        """Fetch the view from a service in this process."""
        if self.QUERY and not self._frozen():
            if self.windowed:
                params = self.window_params()
                self.take_window(query_now("table", **params), self._gen, params["marks"])
            else:
                self.take(query_now(self.QUERY, **self.query_params()))

    async def load_async(self, client) -> None:
        """Fetch the view from an attached service."""
        if self.QUERY and not self._frozen():
            if self.windowed:
                gen, params = self._gen, self.window_params()
                self.take_window(await client.query("table", **params), gen, params["marks"])
            else:
                self.take(await client.query(self.QUERY, **self.query_params()))

    def take_window(self, w: TableWindow, gen: int, marks: list[str] | None) -> bool:
        """Take a window unless the table changed since it was asked for (a newer question is on its way).
        ``marks``: the marks the question sent (those of them the answer lacks are gone)."""
        if gen != self._gen or not isinstance(w, TableWindow) or w.view != self.QUERY:
            return False
        self._marks_asked = set(marks or ())
        self._jump_answered = self._jump is not None  # asked after the jump (it bumped the generation): with `at`
        if w.unchanged and self.window is not None and self.data is not None:
            w.page, w.shown = self.data, self.window.shown  # the rows are the last answer's
        self.window = w
        if self.order_frozen and w.keys is not None:
            self._order = {k: n for n, k in enumerate(w.keys)}
        self._edge_asked = False
        if not w.unchanged:
            self.take(w.page)
        return True

    def requery(self, **more: Any) -> None:
        """Ask for the window now: the filter, the sort or the order changed, or the cursor went where
        the rows are not yet. In this process the answer is shown at once; attached, when it comes."""
        query_now = getattr(self.gw.client, "query_now", None)
        if query_now is not None:
            params = self.window_params(**more)
            if self.take_window(query_now("table", **params), self._gen, params["marks"]):
                self.refresh_live(force=True)
            return
        self.run_worker(self._requery_remote(self._gen, more), group="window", exclusive=True, exit_on_error=False)

    async def _requery_remote(self, gen: int, more: dict) -> None:
        params = self.window_params(**more)
        try:
            w = await self.gw.client.query("table", **params)
        except Exception as e:  # lost meanwhile: the next refresh asks again
            log.debug("window query failed: %s", e)
            self._edge_asked = False
            return
        if self.take_window(w, gen, params["marks"]):
            self.refresh_live(force=True)

    def ask_all(self, then: Callable[[TableWindow], None], **more: Any) -> None:
        """Every matching row or key (mark all, export): once, on request, not every refresh."""
        params = self.window_params(since=None, **more)
        query_now = getattr(self.gw.client, "query_now", None)
        if query_now is not None:
            then(query_now("table", **params))
            return

        async def ask() -> None:
            try:
                w = await self.gw.client.query("table", **params)
            except Exception as e:
                self.gw.notify(f"the service did not answer: {visible(str(e), 200)}", severity="error", timeout=6)
                return
            then(w)

        self.run_worker(ask(), group="ask-all", exclusive=True, exit_on_error=False)

    def rows_of(self, w: TableWindow) -> list[Row]:
        """The rows of an answer asked for once (an export), in its order."""
        spec = SPECS[self.QUERY]
        now = self.gw.header.now if self.gw.header else 0.0
        return [spec.row(x, now) for x in spec.items(w.page)] if w.page is not None else []

    def changed_question(self) -> None:
        """The filter, sort, order or what the screen hides changed: ask again (windowed), else re-render."""
        if self.windowed:
            self._gen += 1
            if self._ready:
                self.requery()
        elif self._ready:
            self.render_rows()

    def jump_to(self, place: int) -> None:
        """gg, G, home, end beyond the rows this console holds: the service brings them."""
        self._jump = place
        self._gen += 1
        self.requery()

    def near_edge(self) -> None:
        if not self._edge_asked:
            self._edge_asked = True
            self.requery()

