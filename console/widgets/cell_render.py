"""A table cell drawn straight from its Text: what DataTable's Rich pipeline draws, for less.

DataTable draws each cell as ``Styled(Padding(cell, (0, pad)), pre, post)`` through
``Console.render_lines``: generic machinery (measuring, nested renders, two passes of line
splitting and cropping) that costs most of a repaint, and a sort, a screen switch or a re-ranked
refresh repaints every visible cell. A one-line Text cell (every cell of our tables) is drawn here
with the same Rich steps the pipeline ends up taking, in the same order: the Text's own render at
the inner width, one crop-and-pad, the padding, then the styles. ``tests/test_cell_render.py``
compares both drawings segment by segment.
"""
from __future__ import annotations

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text


def can_draw(cell: object, height: int) -> bool:
    """Cells this module draws: one-line Text in a one-line row (anything else: Rich's pipeline)."""
    return height == 1 and type(cell) is Text and "\n" not in cell.plain


def draw_cell(console: Console, options: ConsoleOptions, cell: Text, width: int, pad: int,
              pre: Style, post: Style | None) -> list[list[Segment]] | None:
    """The cell's one line of ``width`` cells (None: let Rich's pipeline draw it). ``options``: the
    table's console options at the inner width (``width - 2 * pad``), height 1, no wrap."""
    inner = width - 2 * pad
    if inner < 1:
        return None
    # Padding(style="none") pads with the null style; render_lines(style=null) applies nothing
    blank = Style.null()
    segments = cell.__rich_console__(console, options)
    line = next(Segment.split_and_crop_lines(segments, inner, include_new_lines=False, pad=True, style=blank),
                None)
    if line is None:
        return None
    edge = Segment(" " * pad, blank) if pad else None
    parts = [edge, *line, edge] if edge is not None else line
    return [list(Segment.apply_style(parts, pre, post))]
