"""Tables printed by subcommands, fitted to the terminal instead of squeezed by it.

rich shrinks every column of a table wider than the terminal, down to nothing; an operator on an
80-column SSH session then reads ``me…`` and ``0.…``. Here each column says its full header, a
short one, how narrow it may go and which columns to leave out first; :func:`fit_table` picks
what fits ``width``: full headers, else short ones (with a legend line), else the widest text
columns narrowed, else the lowest-priority columns left out (said in the legend). Every column
shown is at least its ``min`` wide, so no cell is cut to nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

GAP = 2  # a column's padding: one cell each side (no rules between columns)


@dataclass(slots=True, frozen=True)
class CliColumn:
    header: str
    short: str = ""          # the header when the full ones do not fit (explained in the legend)
    justify: str = "left"
    min: int = 3             # the narrowest it may be cut to (text columns); numbers keep their width
    drop: int = 0            # 0: always shown; else left out when too narrow, highest first
    wrap: bool = False       # long text folds onto more lines instead of being cut (the last column)


@dataclass(slots=True)
class Fitted:
    table: Table
    legend: str              # "mem = members, ..." and what was left out; "" when nothing to say
    widths: dict[str, int]   # header -> width of every column shown


def _width(cell: Text | str) -> int:
    plain = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in plain.splitlines() or [""]), default=0)


def fit_table(columns: Sequence[CliColumn], rows: Sequence[Sequence[Text | str]], width: int,
              title: str = "") -> Fitted:
    n = len(columns)
    natural = [max([_width(r[i]) for r in rows] or [0]) for i in range(n)]
    shown = list(range(n))
    short = False

    def heads(i: int) -> int:
        c = columns[i]
        return cell_len(c.short or c.header) if short else cell_len(c.header)

    def widths() -> dict[int, int]:
        return {i: max(natural[i], heads(i), 1) for i in shown}

    def total(w: dict[int, int]) -> int:
        return sum(w.values()) + GAP * len(w)

    w = widths()
    if total(w) > width:
        short = any(c.short for c in columns)
        w = widths()

    def floor(i: int) -> int:
        c = columns[i]
        return max(heads(i), min(c.min, natural[i])) if c.justify == "left" else w[i]

    # leave columns out (lowest priority first) while even their narrowest widths do not fit
    left_out = []
    droppable = sorted((i for i in shown if columns[i].drop), key=lambda i: (-columns[i].drop, -i))
    while sum(floor(i) for i in shown) + GAP * len(shown) > width and droppable:
        i = droppable.pop(0)
        shown.remove(i)
        left_out.append(columns[i].header)
        del w[i]
    if total(w) > width:
        # a folding column (the details) asks for a third of the width; the other text columns are
        # cut evenly from the widest down (to a common level) until the rest fits; it takes what is left
        wraps = [i for i in shown if columns[i].wrap]
        want = {i: min(w[i], max(floor(i), width // 3)) for i in wraps}
        cut = [i for i in shown if columns[i].justify == "left" and not columns[i].wrap]
        fixed = sum(w[i] for i in shown if i not in cut and i not in wraps) + GAP * len(shown)
        room = width - fixed - sum(want.values())
        level = max((w[i] for i in cut), default=0)
        while level > 0 and sum(max(floor(i), min(w[i], level)) for i in cut) > room:
            level -= 1
        for i in cut:
            w[i] = max(floor(i), min(w[i], level))
        spare = width - fixed - sum(w[i] for i in cut)
        for i in wraps:
            w[i] = max(floor(i), min(natural[i], spare // max(1, len(wraps))))
    t = Table(title=title or None, title_justify="left", box=None, pad_edge=False, padding=(0, 1),
              header_style="bold underline")
    for i in shown:
        c = columns[i]
        t.add_column(c.short if short and c.short else c.header, justify=c.justify,  # type: ignore[arg-type]
                     width=w[i], no_wrap=not c.wrap, overflow="fold" if c.wrap else "ellipsis")
    for r in rows:
        t.add_row(*(r[i] for i in shown))
    notes = []
    if short:
        notes.append(", ".join(f"{c.short} = {c.header}" for c in (columns[i] for i in shown)
                               if c.short and c.short != c.header))
    if left_out:
        notes.append(f"not shown at this width: {', '.join(left_out)} (a wider terminal or --format csv has them)")
    return Fitted(t, "; ".join(x for x in notes if x), {columns[i].header: w[i] for i in shown})
