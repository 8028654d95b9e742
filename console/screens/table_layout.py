"""How a table screen fits the terminal: which columns show, how wide each is, and names made
unique where cutting them to that width would make two rows read the same.

Pure functions of the columns and the width, so 80 and 200 columns can be tested without a screen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.cells import cell_len
from rich.text import Text

PAD = 2        # DataTable's cell padding, both sides
MARK_WIDTH = 1
BORDER = 2     # the table's round border
SCROLLBAR = 2  # the vertical scrollbar, kept free even when the rows fit: no horizontal scrolling


@dataclass(slots=True, frozen=True)
class Column:
    key: str      # the name used by `field:value` filters and by sort
    label: str
    width: int | None = None  # the width at 80 columns (a flex column's least width)
    flex: float = 0     # share of the width left over (names, messages); True counts as 1
    max: int | None = None    # a flex column grows no wider than this
    drop: int = 0       # 0: always shown; else dropped when the terminal is too narrow, highest first
    unique: str | None = None  # the id that tells two equal names apart: "key" or an ``extra`` field
    aliases: tuple[str, ...] = ()  # more words the filter accepts for this column

    @property
    def base(self) -> int:
        if self.width:
            return self.width
        return 8 if self.flex else cell_len(self.label)


def fit(columns: Sequence[Column], width: int) -> dict[str, int]:
    """The columns shown in a table ``width`` cells wide (its border included) and their widths.

    Columns marked ``drop`` go first, highest first, until the rest fit at their base widths; what
    is left over is shared by the flex columns by weight (each up to its ``max``), so names and
    messages get wider on a wider terminal instead of leaving blank space."""
    avail = width - BORDER - SCROLLBAR - (MARK_WIDTH + PAD)
    shown = list(columns)

    def need() -> int:
        return sum(c.base + PAD for c in shown)

    droppable = sorted((c for c in shown if c.drop), key=lambda c: (-c.drop, -columns.index(c)))
    while need() > avail and droppable:
        shown.remove(droppable.pop(0))
    widths = {c.key: c.base for c in shown}
    extra = avail - need()
    growing = [c for c in shown if c.flex]
    while extra > 0 and growing:
        total = sum(float(c.flex) for c in growing)
        given = 0
        capped = []
        for c in growing:
            share = int(extra * float(c.flex) / total)
            if c.max is not None and widths[c.key] + share >= c.max:
                share = max(0, c.max - widths[c.key])
                capped.append(c)
            widths[c.key] += share
            given += share
        growing = [c for c in growing if c not in capped]
        extra -= given
        if not capped:  # rounding leaves a few cells: the first growing column takes them
            if growing and extra > 0:
                widths[growing[0].key] += extra
            break
    return {c.key: widths[c.key] for c in columns if c.key in widths}


_CUT: dict[tuple[str, int], str] = {}
_TOLD: dict[tuple[str, str, str, int], Text] = {}  # names told apart by their id's end, as last built
CUT_KEPT = 50_000  # names and messages remembered cut: a thousand rows' names, a few widths


def cut(text: str, width: int) -> str:
    """``text`` as a cell ``width`` wide shows it (an ellipsis when cut). Remembered: every refresh cuts
    the same names again, and measuring them is most of what making them unique costs."""
    key = (text, width)
    hit = _CUT.get(key)
    if hit is not None:
        return hit
    if cell_len(text) <= width:
        shown = text
    else:
        t = Text(text)
        t.truncate(width, overflow="ellipsis")
        shown = t.plain
    if len(_CUT) >= CUT_KEPT:
        _CUT.clear()
    _CUT[key] = shown
    return shown


def tail_for(ids: Sequence[str], n: int = 3) -> dict[str, str]:
    """The shortest ends of ``ids`` (at least ``n`` characters) that tell them apart."""
    distinct = list(dict.fromkeys(ids))
    longest = max((len(i) for i in distinct), default=0)
    k = n
    while k < longest and len({i[-k:] for i in distinct}) < len(distinct):
        k += 1
    return {i: i[-k:] for i in distinct}


def uniquify(cells: list[Text | str], ids: list[str], width: int) -> list[Text | str]:
    """Cells of one column as shown ``width`` wide; where two different ids would read the same,
    each such cell gets the end of its id (``前端技术交流 … ~1234``)."""
    shown: dict[str, set[str]] = {}
    plain = [c.plain if isinstance(c, Text) else str(c) for c in cells]
    seen = [cut(p, width) for p in plain]
    for s, i in zip(seen, ids):
        if s.strip():  # an empty cell says "none" (an alert about a whole group): nothing to tell apart
            shown.setdefault(s, set()).add(i)
    clashing = {s for s, who in shown.items() if len(who) > 1}
    if not clashing:
        return cells
    tails: dict[str, dict[str, str]] = {s: tail_for(sorted(shown[s])) for s in clashing}
    out = list(cells)
    for n, (s, i) in enumerate(zip(seen, ids)):
        if s in clashing:
            tail = "~" + tails[s][i]
            style = cells[n].style if isinstance(cells[n], Text) else ""
            key = (plain[n], str(style), tail, width)
            told = _TOLD.get(key)
            if told is None:  # the same object while it reads the same: the table skips it unchanged
                room = max(1, width - cell_len(tail) - 1)
                told = Text.assemble(Text(cut(plain[n], room), style=style), " ", (tail, "dim"),
                                     no_wrap=True, overflow="ellipsis")
                if len(_TOLD) >= CUT_KEPT:
                    _TOLD.clear()
                _TOLD[key] = told
            out[n] = told
    return out
