"""The windows of the big tables: the service filters and sorts every row of a view and answers only
the rows around the console's cursor (query ``table``, answered by :class:`TableWindow`).

What the console asks (every field optional but ``view``)::

    view      the table's view (a key of ``table_specs.SPECS``)
    params    the view's own params (the feed's flagged/group) and what the screen hides (hide_handled)
    filter    the `/` filter's text, parsed here exactly as the console parses it
    sort      a column key; reverse: its direction
    order     the frozen order (`F`): every key in place; rows not in it go below, in their order
    cursor    the cursor row's key; place: where it was (a row gone: the cursor stays at its place)
    offset    the first row of the window the console holds: kept while the cursor is well inside it
    at        a place to go to (gg, G, home, end): the window and the cursor move there
    size      rows in the window (-1: every matching row, for an export)
    marks     marked keys: the marked rows outside the window come too (the screen acts on them)
    keys      true: every matching key as well (mark all, freeze)
    since     the version of the console's last window: unchanged, the answer says only that

Filtering and sorting cost the whole view; the service runs them in a thread when the view is big
(``Views.table_async``), so its event loop keeps taking events meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.screens.filtering import parse_filter
from console.service.api import ServiceError, TableWindow
from console.service.table_rows import Row, filter_names, sort_value
from console.service.table_specs import SPECS, TableSpec

SIZE = 200       # rows in a window by default: ten screenfuls, the console holds four of them at once
MAX_SIZE = 2000  # a console may ask for more (a tall terminal), not for a whole fleet every second
THREAD_ROWS = 300  # a filter or sort over more rows than this runs off the service's event loop


@dataclass(slots=True)
class WindowAsk:
    """A ``table`` query, checked."""
    view: str
    params: dict
    filter: str = ""
    sort: str | None = None
    reverse: bool = False
    order: list[str] | None = None
    cursor: str | None = None
    place: int = 0
    offset: int | None = None
    at: int | None = None
    size: int = SIZE
    marks: list[str] | None = None
    keys: bool = False
    since: int | None = None

    @property
    def spec(self) -> TableSpec:
        return SPECS[self.view]


def _opt(params: dict, name: str, kind: type, what: str) -> Any:
    v = params.get(name)
    if v is None:
        return None
    if isinstance(v, bool) and kind is not bool or not isinstance(v, kind):
        raise ServiceError(f"table {name} must be {what}")
    return v


def _keys(params: dict, name: str) -> list[str] | None:
    v = params.get(name)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(k, str) for k in v):
        raise ServiceError(f"table {name} must be a list of row keys")
    return v


def ask_from(params: dict) -> WindowAsk:
    """A ``table`` query's params, checked: a bad one is a one-line ServiceError."""
    view = params.get("view")
    if view not in SPECS:
        raise ServiceError(f"no table for the view {str(view)[:40]!r}: one of {', '.join(sorted(SPECS))}")
    own = params.get("params")
    own = {} if own is None else own
    if not isinstance(own, dict):
        raise ServiceError("table params must be an object")
    sort = _opt(params, "sort", str, "a column key")
    if sort is not None and sort not in {c.key for c in SPECS[view].columns}:
        raise ServiceError(f"table {view} has no column {sort[:40]!r}")
    size = _opt(params, "size", int, "a number of rows")
    return WindowAsk(view=view, params=own, filter=_opt(params, "filter", str, "text") or "", sort=sort,
                     reverse=bool(params.get("reverse", False)), order=_keys(params, "order"),
                     cursor=_opt(params, "cursor", str, "a row key"), place=_opt(params, "place", int, "a place") or 0,
                     offset=_opt(params, "offset", int, "a place"), at=_opt(params, "at", int, "a place"),
                     size=SIZE if size is None else (size if size < 0 else min(max(1, size), MAX_SIZE)),
                     marks=_keys(params, "marks"), keys=bool(params.get("keys", False)),
                     since=_opt(params, "since", int, "a version"))


def is_heavy(ask: WindowAsk, page: Any) -> bool:
    """Worth a thread: a filter, a sort or a frozen order over many rows."""
    return bool(ask.filter.strip() or ask.sort or ask.order) and len(ask.spec.items(page)) > THREAD_ROWS


@dataclass(slots=True)
class Cut:
    """A window cut from a view, before it is versioned (``Views.table``)."""
    window: list
    marked: list
    total: int
    matching: int
    offset: int
    cursor: int
    keys: list[str] | None
    unknown: list[str]


def cut(ask: WindowAsk, page: Any, now: float) -> Cut:
    """Filter, sort and cut ``page``'s rows as ``ask`` says. Reads only immutable view rows: safe in a thread."""
    spec = ask.spec
    keep = spec.keep
    items = [x for x in spec.items(page) if keep(x, ask.params)]
    total = len(items)
    rows: dict[int, Row] = {}

    def row(n: int) -> Row:
        r = rows.get(n)
        if r is None:
            r = rows[n] = spec.row(items[n], now)
        return r

    places = range(total)
    unknown: list[str] = []
    if ask.filter.strip():
        names, aliases = filter_names(spec.columns, row(0) if total else None, spec.more_fields)
        f = parse_filter(ask.filter, names, aliases)
        unknown = list(f.unknown)
        if f.active:
            cols = spec.columns
            places = [n for n in places if f.matches(row(n).fields(cols))]
    if ask.sort is not None:
        i = [c.key for c in spec.columns].index(ask.sort)
        places = sorted(places, key=lambda n: sort_value(row(n).sort[i]), reverse=ask.reverse)
    key = spec.key
    keys = [key(items[n]) for n in places]
    if ask.order is not None:
        # rows keep the places they had; newcomers go below, in the order they came
        frozen = {k: p for p, k in enumerate(ask.order)}
        end = len(frozen)
        both = sorted(zip(keys, places), key=lambda kp: frozen.get(kp[0], end))
        keys, places = [k for k, _ in both], [n for _, n in both]
    n = len(keys)
    offset, cursor = _place(ask, keys)
    stop = n if ask.size < 0 else offset + ask.size
    window = [items[p] for p in places[offset:stop]]
    marked: list = []
    if ask.marks:
        inside = set(keys[offset:stop])
        wanted = set(ask.marks) - inside
        if wanted:
            marked = [x for x in items if key(x) in wanted]
    return Cut(window, marked, total, n, offset, cursor, keys if ask.keys else None, unknown)


def _place(ask: WindowAsk, keys: list[str]) -> tuple[int, int]:
    """The window's first place and the cursor's place: the cursor's row where it is now (or the place
    asked for); the window the console holds stays while the cursor is a quarter window inside it."""
    n = len(keys)
    if not n:
        return 0, -1
    if ask.at is not None:
        p = ask.at
    elif ask.cursor is not None and ask.cursor in keys:
        p = keys.index(ask.cursor)
    else:
        p = ask.place
    p = max(0, min(p, n - 1))
    size = n if ask.size < 0 else ask.size
    if n <= size:
        return 0, p
    last = n - size
    o = ask.offset
    margin = size // 4
    if o is None or ask.at is not None or not 0 <= o <= last or not o <= p < o + size \
            or (o > 0 and p < o + margin) or (o < last and p >= o + size - margin):
        o = max(0, min(p - size // 2, last))
    return o, p


class Versions:
    """Version numbers for windows, so an unchanged one is answered with a word. A window is the same
    when it holds the very same row objects (the views reuse the row of an unchanged thing) in the same
    places; the last windows' rows are kept alive so their ids cannot be reused meanwhile."""

    KEPT = 32  # a few per console and view: an older one is merely answered in full

    def __init__(self) -> None:
        self._seen: dict[tuple, int] = {}
        self._alive: dict[int, tuple] = {}
        self._next = 1

    def version(self, c: Cut) -> int:
        sig = (tuple(map(id, c.window)), tuple(map(id, c.marked)), c.total, c.matching, c.offset, c.cursor,
               tuple(c.keys) if c.keys is not None else None, tuple(c.unknown))
        v = self._seen.get(sig)
        if v is None:
            v = self._seen[sig] = self._next
            self._next += 1
            self._alive[v] = (sig, c.window, c.marked)
            if len(self._alive) > self.KEPT:
                old = next(iter(self._alive))
                self._seen.pop(self._alive.pop(old)[0], None)
        return v


def answer(ask: WindowAsk, page: Any, c: Cut, version: int) -> TableWindow:
    if ask.since is not None and ask.since == version:
        return TableWindow(ask.view, version, True, c.total, c.matching, c.offset, c.cursor, None, 0, c.keys,
                           c.unknown)
    return TableWindow(ask.view, version, False, c.total, c.matching, c.offset, c.cursor,
                       ask.spec.with_items(page, c.window + c.marked), len(c.window), c.keys, c.unknown)
