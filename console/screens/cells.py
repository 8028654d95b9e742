"""Cell formatting shared by the screens. Untrusted text goes through ``visible`` into a
``rich.text.Text`` (never markup); styles use the 16 ANSI colours so they survive poor terminals."""
from __future__ import annotations

import datetime as dt

from rich.text import Text

from console.engine.text import visible

SPARK = " ▁▂▃▄▅▆▇█"
TIER_STYLE = {"high": "green", "ordinary": "", "inactive": "yellow", "critical": "bold red"}
SEVERITY_SHORT = {"low": "low", "medium": "med", "high": "HIGH"}
# HIGH reversed and medium bold: told apart without colour too (NO_COLOR); red and yellow on 16 colours
SEVERITY_STYLE = {"low": "cyan", "medium": "bold yellow", "high": "bold reverse red"}
TIER_SHORT = {"high": "high", "ordinary": "ord", "inactive": "inac", "critical": "crit"}
PLATFORM_SHORT = {"matrix": "mx", "telegram": "tg", "qq": "qq", "demo": "dm"}


def untrusted(text: str | None, limit: int, style: str = "") -> Text:
    return Text(visible(text or "", limit), style=style, no_wrap=True, overflow="ellipsis")


def sparkline(values: list[int]) -> str:
    top = max(values) if values else 0
    if top == 0:
        return " " * len(values)
    return "".join(SPARK[min(8, (v * 8 + top - 1) // top)] for v in values)


def ago(now: float, at: float | None) -> str:
    if at is None:
        return "never"
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
