"""Cell formatting shared by the screens. Untrusted text goes through ``visible`` into a
``rich.text.Text`` (never markup); styles use the 16 ANSI colours so they survive poor terminals."""
from __future__ import annotations

import datetime as dt
import re

from rich.text import Text

from console.engine.text import visible

SPARK = " ▁▂▃▄▅▆▇█"
TIER_STYLE = {"high": "green", "ordinary": "", "inactive": "yellow", "critical": "bold red"}
SEVERITY_SHORT = {"low": "low", "medium": "med", "high": "HIGH"}
# HIGH reversed and medium bold: told apart without colour too (NO_COLOR); red and yellow on 16 colours
SEVERITY_STYLE = {"low": "cyan", "medium": "bold yellow", "high": "bold reverse red"}
TIER_SHORT = {"high": "high", "ordinary": "ord", "inactive": "inac", "critical": "crit"}
PLATFORM_SHORT = {"matrix": "mx", "telegram": "tg", "qq": "qq", "demo": "dm"}


# A keycap (1️⃣: digit, VS16, U+20E3) is one cell in some terminals (tmux) and two in others, and
# rich counts two: a row holding one is drawn a cell short or long and pushes the table's border.
# Shown as the full-width character (two cells everywhere); VS16 elsewhere is dropped for the same
# reason (❤️ is one cell in tmux, two for rich).
_KEYCAP = re.compile("([0-9#*])\ufe0f?\u20e3")
_FULL = {c: chr(0xFF10 + int(c)) for c in "0123456789"} | {"#": "＃", "*": "＊"}


def cell_safe(text: str) -> str:
    """Text whose width every terminal and rich agree on (keycaps, emoji variation selectors)."""
    if "\u20e3" in text or "\ufe0f" in text:
        text = _KEYCAP.sub(lambda m: _FULL[m.group(1)], text).replace("\ufe0f", "")
    return text


def shown(text: str | None, limit: int | None = None) -> str:
    """Untrusted text as a cell shows it: literal, neutralised, of a width everyone agrees on."""
    return cell_safe(visible(text or "", limit))


def untrusted(text: str | None, limit: int, style: str = "") -> Text:
    return Text(shown(text, limit), style=style, no_wrap=True, overflow="ellipsis")


def sparkline(values: list[int]) -> str:
    top = max(values) if values else 0
    if top == 0:
        return " " * len(values)
    return "".join(SPARK[min(8, (v * 8 + top - 1) // top)] for v in values)


def ago(now: float, at: float | None, none: str = "never") -> str:
    if at is None:
        return none
    s = max(0, now - at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def until(now: float, at: float | None) -> str:
    if at is None:
        return "never"
    return "now" if at <= now else "in " + ago(at, now)


def clock(at: float | None, with_date: bool = True) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at).strftime("%m-%d %H:%M" if with_date else "%H:%M:%S")


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.0f}%"


def group_list(names: list[str], first: int = 5) -> str:
    """How a confirm line names its targets: '1 group: A', '3 groups: A, B, C', '9 groups: A, B, ... and 4 more'."""
    n = len(names)
    shown_names = ", ".join(shown(x, 30) for x in names[:first])
    more = f" and {n - first} more" if n > first else ""
    return f"{n} group{'s' if n != 1 else ''}: {shown_names}{more}"
